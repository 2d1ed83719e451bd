#!/bin/sh
# Build the tiercel single binary with Nuitka: dist/tiercel (onefile) and dist/tiercel.dist/ (the same
# program as a folder, run as dist/tiercel.dist/tiercel.bin, for the image and the .deb: it need not
# unpack itself at every start; the folder's tiercel/ holds the probe source and default rules).
#   ci/build-binary.sh            build into dist/ (a warm compiler cache makes a rebuild take 2-3 minutes)
#   ci/build-binary.sh --standalone-only    only dist/tiercel.dist/ (the image's build stage)
# A build whose inputs (the files it is made of: ci/build-inputs.sh) have not changed
# is reused; TIERCEL_REBUILD=1 builds anyway; TIERCEL_BINARY_BUILT=1 (the packaging tests set it once
# they have built and tested dist/) reuses dist/ whatever changed since, so every package of one run
# carries the binary that run tested. Concurrent builds in one checkout wait for each other.
# Environment: TIERCEL_BUILD_VENV (default .build/venv), CCACHE_DIR (default /var/cache/tiercel/ccache),
#              TIERCEL_BUILD_JOBS (default: number of CPUs).
# BCC stays a system library: its Python module (python3-bpfcc) is compiled in, and it loads
# libbcc.so.0 (Debian: libbpfcc) at run time. rich, pygments, markdown_it and cryptography are left
# out: typer works without rich (TYPER_USE_RICH=0, set by the entry script) and nothing needs the rest.
# So are numpy (protobuf's repeated fields import it only when converted to an array, and a Debian
# host may have it) and pydantic: typer 0.29 made it a hard dependency, to coerce parameter values
# that click's types coerce already, so the binary is built with typer < 0.29 (the same CLI, 17 MB less).
# Nuitka's compilation report (dist/tiercel-build-report.xml) lists every module compiled in and its
# distribution: ci/build-sbom.sh makes the SBOM from it.
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-binary: $*" >&2; }
start=$(date +%s)

mode=--onefile name=tiercel
[ "${1:-}" != --standalone-only ] || mode="" name=tiercel.bin
mkdir -p .build dist
exec 9>.build/build-binary.lock
flock 9
if [ "${TIERCEL_BINARY_BUILT:-0}" = 1 ] && [ -x dist/tiercel.dist/tiercel.bin ]; then
    say "reusing dist/ (TIERCEL_BINARY_BUILT=1: built earlier in this run)"
    exit 0
fi
. ci/build-inputs.sh
if [ "${TIERCEL_REBUILD:-0}" != 1 ] && [ "$(cat dist/.inputs-binary 2>/dev/null)" = "$inputs$mode" ] \
   && [ -x dist/tiercel.dist/tiercel.bin ]; then
    say "dist/ is up to date (inputs $inputs): reusing it (TIERCEL_REBUILD=1 to build anyway)"
    exit 0
fi
rm -f dist/.inputs-binary
venv=${TIERCEL_BUILD_VENV:-.build/venv}
# One compiler cache per machine, keyed so that every checkout hits it (CI builds in a fresh clone):
# paths below the checkout are hashed relative to it, and the compiler by its content, not its mtime.
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/tiercel/ccache}
export CCACHE_BASEDIR=$PWD CCACHE_COMPILERCHECK=content CCACHE_NOHASHDIR=1
mkdir -p "$CCACHE_DIR" dist .build

need=""
for tool in patchelf ccache gcc; do command -v "$tool" >/dev/null 2>&1 || need="$need $tool"; done
dpkg -s python3-dev >/dev/null 2>&1 || need="$need python3-dev"
dpkg -s python3-bpfcc >/dev/null 2>&1 || need="$need python3-bpfcc"
if [ -n "$need" ]; then
    say "installing:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# A build venv on the system Python (BCC's module lives in its dist-packages), holding Nuitka and
# the project itself as a plain (non-editable) install. Re-installed only when pyproject.toml changed.
if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
stamp="$venv/.stamp-$(cat pyproject.toml ci/build-binary.sh | sha1sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    rm -f "$venv"/.stamp-*
    "$venv/bin/pip" install -q --disable-pip-version-check ${TIERCEL_PIP_ARGS:-} \
        'nuitka>=2.4' zstandard ordered-set
    touch "$stamp"
fi
# The project's own code changes often: install it each time (a second or two, no dependencies
# fetched when they are present).
"$venv/bin/pip" install -q --disable-pip-version-check ${TIERCEL_PIP_ARGS:-} --no-build-isolation . \
    'typer<0.29' >/dev/null

# What the binary reports in --version (no git in the binary, nor necessarily at run time).
commit=${TIERCEL_COMMIT:-}
if [ -z "$commit" ]; then
    commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git status --porcelain -- src probe rules 2>/dev/null | head -n 1)" ]; then
        commit="$commit-dirty"
    fi
fi
version=$("$venv/bin/python" -c 'import tiercel; print(tiercel.__version__)')
printf 'COMMIT = "%s"\n' "$commit" > .build/tiercel_build_info.py

# A onefile binary unpacks itself once per build into the user's cache, not at every start into /tmp.
onefile_spec=""
[ -z "$mode" ] || onefile_spec="--onefile-tempdir-spec={CACHE_DIR}/tiercel/{VERSION}-$commit"
# `tiercel run -c FILE` is our own option, not `python -c`: Nuitka's guard against a program that
# runs itself with -c must be off.
out=.build/nuitka
rm -rf "$out/tiercel_main.dist" "$out/tiercel_main.onefile-build"
cp ci/nuitka/tiercel_main.py .build/tiercel_main.py
say "compiling tiercel $version ($commit) with Nuitka: about 10 minutes on 2 cores, a minute or two with a warm ccache"
"$venv/bin/python" -m nuitka \
    $mode --standalone \
    --output-dir="$out" --output-filename="$name" \
    --jobs="${TIERCEL_BUILD_JOBS:-$(nproc)}" \
    --assume-yes-for-downloads \
    --python-flag=no_site \
    --include-package=tiercel \
    --include-module=tiercel_build_info \
    --include-data-dir=probe=tiercel/probe/bpf \
    --include-data-dir=rules=tiercel/default_rules \
    --nofollow-import-to=rich \
    --nofollow-import-to=pygments \
    --nofollow-import-to=markdown_it \
    --nofollow-import-to=mdurl \
    --nofollow-import-to=cryptography \
    --nofollow-import-to=numpy \
    --nofollow-import-to=pydantic \
    --nofollow-import-to=pydantic_core \
    --nofollow-import-to=OpenSSL \
    --nofollow-import-to=paramiko \
    --nofollow-import-to=urllib3.contrib.pyopenssl \
    --nofollow-import-to=urllib3.contrib.socks \
    --nofollow-import-to=socks \
    --nofollow-import-to=brotli \
    --nofollow-import-to=zstandard \
    --nofollow-import-to=pytest \
    --nofollow-import-to=_pytest \
    --nofollow-import-to=setuptools \
    --nofollow-import-to=pkg_resources \
    --nofollow-import-to=distutils \
    --nofollow-import-to=tkinter \
    --nofollow-import-to=unittest \
    --nofollow-import-to=pydoc \
    --nofollow-import-to=doctest \
    --nofollow-import-to=lib2to3 \
    --nofollow-import-to=xmlrpc \
    --noinclude-setuptools-mode=nofollow \
    --noinclude-pytest-mode=nofollow \
    $onefile_spec \
    --no-deployment-flag=self-execution \
    --file-version="$version" --product-version="$version" \
    --company-name=tiercel --product-name=tiercel \
    --report="$out/report.xml" \
    --quiet \
    .build/tiercel_main.py

rm -rf dist/tiercel dist/tiercel.dist
cp -a "$out/tiercel_main.dist" dist/tiercel.dist
cp "$out/report.xml" dist/tiercel-build-report.xml
# Wheels ship some extension modules with their symbol tables (PyYAML, google-re2, protobuf's upb):
# they are not needed to run.
find dist/tiercel.dist -name '*.so*' -type f | while read -r so; do
    if readelf -S "$so" 2>/dev/null | grep -q ' \.symtab'; then strip --strip-unneeded "$so"; fi
done
dsize=$(du -sh dist/tiercel.dist | cut -f1)
what="dist/tiercel.dist/ ($dsize)"
if [ -n "$mode" ]; then
    cp "$out/tiercel" dist/tiercel
    what="dist/tiercel ($(du -h dist/tiercel | cut -f1), onefile) and $what"
fi
echo "$inputs$mode" > dist/.inputs-binary
say "built $what in $(($(date +%s) - start)) s; ccache: $(ccache -s 2>/dev/null | grep -i 'hits:' | head -n 1 | tr -s ' ')"
