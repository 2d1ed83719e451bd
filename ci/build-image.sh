#!/bin/sh
# Build the tiercel container image (Containerfile) on the local Docker engine.
#   ci/build-image.sh [TAG]        default tag: tiercel:latest (and tiercel:<version>)
#   ci/build-image.sh --base-only  only make sure the base image exists
# The base image is Debian bookworm (both stages: the binary shares its libraries with BCC's LLVM).
# Where no registry answers, the base is made here: debootstrap --variant=minbase from the host's apt
# mirror, slimmed, then docker import (about a minute, ~75 MB). Python wheels are built on the host
# (pip wheel into the build context) and installed in the build stage with --no-index, because pip
# inside `docker build` may not reach the package index the way the host does.
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-image: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "run as root (debootstrap, docker)"; exit 1; }
start=$(date +%s)

DOCKER=${DOCKER:-docker}
TAG=${1:-tiercel:latest}
SUITE=bookworm
BASE=${TIERCEL_BASE_IMAGE:-tiercel-base/debian:$SUITE}
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/tiercel/__init__.py)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

base_from_registry() {
    [ -z "${TIERCEL_BASE_IMAGE:-}" ] || return 1
    timeout 60 $DOCKER pull -q "debian:$SUITE-slim" >/dev/null 2>&1 || return 1
    $DOCKER tag "debian:$SUITE-slim" "$BASE"
}

base_from_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    # The host's own mirror (deb822 or one-line sources), so this works wherever apt does.
    mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1)
    [ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1)
    mirror=${mirror:-http://deb.debian.org/debian}
    root=$(mktemp -d /var/tmp/tiercel-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    say "no registry answered: making $BASE with debootstrap --variant=minbase $SUITE from $mirror"
    debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
        tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
    rm -f "$root.log"
    # Slim it like the registry's -slim images: no docs, manuals, locales or apt lists, and dpkg
    # told not to put them back.
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        > "$root/etc/apt/apt.conf.d/99-no-recommends"
    # Keep only the security and main mirrors the host uses.
    rm -f "$root/etc/apt/sources.list"
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE" \
        > "$root/etc/apt/sources.list"
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* \
        "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb \
        "$root/var/log/"*.log "$root/tmp/"*
    tar --numeric-owner -C "$root" -c . | $DOCKER import -c 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    rm -rf "$root"
    trap - EXIT
}

if $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
    say "base image $BASE is present"
elif base_from_registry; then
    say "base image: debian:$SUITE-slim from the registry, tagged $BASE"
else
    base_from_debootstrap
    say "base image $BASE made locally ($($DOCKER image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%d MB", $1/1e6}'))"
fi

[ "${1:-}" != --base-only ] || exit 0

# Reused when built from the same inputs (ci/build-inputs.sh); TIERCEL_REBUILD=1 builds anyway.
mkdir -p .build
exec 9>.build/build-image.lock
flock 9
. ci/build-inputs.sh
if [ "${TIERCEL_REBUILD:-0}" != 1 ] && [ "$($DOCKER image inspect -f '{{index .Config.Labels "tiercel.inputs"}}' \
        "$TAG" 2>/dev/null)" = "$inputs" ]; then
    say "$TAG is up to date (inputs $inputs): reusing it (TIERCEL_REBUILD=1 to build anyway)"
    exit 0
fi

# The wheels the build stage installs: the project's dependencies and the build tools.
ctx=.build/image-context
rm -rf "$ctx"
mkdir -p "$ctx/wheels"
say "building wheels on the host"
/usr/bin/python3 -m pip wheel -q --disable-pip-version-check --wheel-dir "$ctx/wheels" \
    . 'nuitka>=2.4' zstandard ordered-set 'setuptools>=68' wheel >/dev/null
rm -f "$ctx"/wheels/tiercel-*.whl
# The build context: only what the build needs (not .git, .venv, caches or other builds).
cp -a Containerfile pyproject.toml README.md tiercel.yaml src probe rules "$ctx/"
mkdir -p "$ctx/ci/nuitka"
cp ci/build-binary.sh ci/build-inputs.sh "$ctx/ci/"
cp ci/nuitka/tiercel_main.py "$ctx/ci/nuitka/"
# A warm compiler cache from an earlier host build makes the build stage minutes shorter.
mkdir -p "$ctx/.cache/ccache"
if [ -d .cache/ccache ] && [ "${TIERCEL_IMAGE_CCACHE:-1}" = 1 ]; then
    cp -a .cache/ccache/. "$ctx/.cache/ccache/"
fi
find "$ctx" -name __pycache__ -prune -exec rm -rf {} +

say "docker build -t $TAG (base $BASE, commit $commit)"
$DOCKER build --network host -f "$ctx/Containerfile" \
    --build-arg "BASE=$BASE" --build-arg "TIERCEL_COMMIT=$commit" --label "tiercel.inputs=$inputs" \
    -t "$TAG" -t "tiercel:$version" "$ctx"
end=$(date +%s)
size=$($DOCKER image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1e6}')
say "built $TAG ($size) in $((end - start)) s"
