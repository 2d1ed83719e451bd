#!/bin/sh
# Lay out what the .deb and the .rpm install, one layout for both, under a staging root:
#   ci/package-tree.sh ROOT UNITDIR        (UNITDIR: lib/systemd/system or usr/lib/systemd/system)
#   /usr/lib/tiercel/        the program (Nuitka standalone folder: dist/tiercel.dist)
#   /usr/bin/tiercel         -> /usr/lib/tiercel/tiercel.bin
#   /etc/tiercel/tiercel.yaml, /etc/tiercel/rules.d/   configuration and default rules
#   /$UNITDIR/tiercel.service, /usr/share/doc/tiercel/
# The binary must exist (ci/build-binary.sh); this only copies it.
set -eu
cd "$(dirname "$0")/.."
root=$1 unitdir=$2
[ -x dist/tiercel.dist/tiercel.bin ] || { echo "ci/package-tree.sh: dist/tiercel.dist is missing: run ci/build-binary.sh" >&2; exit 1; }
rm -rf "$root"
mkdir -p "$root/usr/lib" "$root/usr/bin" "$root/etc/tiercel" "$root/$unitdir" "$root/usr/share/doc/tiercel"
cp -a dist/tiercel.dist "$root/usr/lib/tiercel"
ln -s ../lib/tiercel/tiercel.bin "$root/usr/bin/tiercel"
cp -a rules "$root/etc/tiercel/rules.d"
find "$root/etc/tiercel/rules.d" -name '*~' -delete
# The shipped config, its rules pointed at /etc/tiercel/rules.d.
sed 's#^\(  - \)rules$#\1/etc/tiercel/rules.d#' tiercel.yaml > "$root/etc/tiercel/tiercel.yaml"
grep -q '^  - /etc/tiercel/rules.d$' "$root/etc/tiercel/tiercel.yaml" || {
    echo "ci/package-tree.sh: tiercel.yaml: could not point rules_files at /etc/tiercel/rules.d" >&2; exit 1; }
cp ci/deb/tiercel.service "$root/$unitdir/tiercel.service"
cp README.md "$root/usr/share/doc/tiercel/README.md"
printf 'tiercel\nCopyright: the tiercel authors\nLicense: Apache-2.0\n' > "$root/usr/share/doc/tiercel/copyright"
chmod -R u=rwX,go=rX "$root"
chmod 755 "$root/usr/lib/tiercel/tiercel.bin"
