#!/bin/sh
# Build dist/tiercel-<version>-<release>.<arch>.rpm with rpmbuild (Debian's `rpm` package) from the
# same Nuitka build as the .deb (ci/build-binary.sh reuses it: nothing is compiled here), laid out by
# ci/package-tree.sh and described by ci/rpm/tiercel.spec.
#   ci/build-rpm.sh                      release 1
#   TIERCEL_RPM_RELEASE=2 TIERCEL_RPM_DIR=.build/rpm-next ci/build-rpm.sh
#                                        another release of the same build elsewhere (the upgrade test's)
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-rpm: $*" >&2; }
start=$(date +%s)

if ! command -v rpmbuild >/dev/null 2>&1; then
    say "installing: rpm (rpmbuild)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm >/dev/null
fi
ci/build-binary.sh   # reuses dist/ when its inputs have not changed
. ci/build-info.sh   # $version and $commit, as the binary reports them
release=${TIERCEL_RPM_RELEASE:-1}
top=$PWD/.build/rpm
rm -rf "$top"
tree=$top/tree
ci/package-tree.sh "$tree" usr/lib/systemd/system

# The newest libc symbol version any file of the folder needs (rpm's own ELF scanner), so that dnf
# refuses a host whose glibc is older than the build machine's instead of a binary that cannot start.
libc=$(find "$tree/usr/lib/tiercel" -type f \( -name '*.so*' -o -name tiercel.bin \) \
        | /usr/lib/rpm/elfdeps --requires | grep '^libc\.so\.6(GLIBC_[0-9.]*)' | sort -V | tail -n 1)
[ -n "$libc" ] || { say "elfdeps found no libc requirement in the binary"; exit 1; }

outdir=${TIERCEL_RPM_DIR:-dist}
mkdir -p "$outdir"
rm -f "$outdir"/tiercel-*.rpm   # one .rpm beside the other artefacts: this build's
# xz at level 2: a fraction of the default level's time for a few percent more size.
rpmbuild -bb --quiet \
    --define "_topdir $top" --define "_rpmdir $(cd "$outdir" && pwd)" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
    --define '_binary_payload w2.xzdio' \
    --define "tiercel_version $version" --define "tiercel_release $release" \
    --define "tiercel_commit $commit" --define "tiercel_tree $tree" --define "tiercel_libc $libc" \
    ci/rpm/tiercel.spec
out=$(ls "$outdir"/tiercel-"$version"-"$release".*.rpm)
rm -rf "$top"
say "built $out ($(du -h "$out" | cut -f1), commit $commit) in $(($(date +%s) - start)) s"
