#!/bin/sh
# Build dist/tiercel_<version>_<arch>.deb with dpkg-deb from the Nuitka build (ci/build-binary.sh):
#   /usr/lib/tiercel/        the program (Nuitka standalone folder; no unpacking at each start)
#   /usr/bin/tiercel         -> /usr/lib/tiercel/tiercel.bin
#   /etc/tiercel/tiercel.yaml, /etc/tiercel/rules.d/   configuration and default rules (conffiles)
#   /lib/systemd/system/tiercel.service
# Depends on BCC's runtime library (libbpfcc) and the kernel headers meta-package.
#   ci/build-deb.sh          (runs ci/build-binary.sh first: it reuses an up-to-date dist/)
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-deb: $*" >&2; }
start=$(date +%s)

ci/build-binary.sh   # reuses dist/ when its inputs have not changed
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/tiercel/__init__.py)
arch=$(dpkg --print-architecture)
pkg=.build/deb/tiercel
rm -rf .build/deb
mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib" "$pkg/usr/bin" "$pkg/etc/tiercel" "$pkg/lib/systemd/system" \
    "$pkg/usr/share/doc/tiercel"

cp -a dist/tiercel.dist "$pkg/usr/lib/tiercel"
ln -s ../lib/tiercel/tiercel.bin "$pkg/usr/bin/tiercel"
cp -a rules "$pkg/etc/tiercel/rules.d"
find "$pkg/etc/tiercel/rules.d" -name '*~' -delete
# The shipped config, its rules pointed at /etc/tiercel/rules.d.
sed 's#^\(  - \)rules$#\1/etc/tiercel/rules.d#' tiercel.yaml > "$pkg/etc/tiercel/tiercel.yaml"
grep -q '^  - /etc/tiercel/rules.d$' "$pkg/etc/tiercel/tiercel.yaml" || {
    say "tiercel.yaml: could not point rules_files at /etc/tiercel/rules.d"; exit 1; }
cp ci/deb/tiercel.service "$pkg/lib/systemd/system/tiercel.service"
cp README.md "$pkg/usr/share/doc/tiercel/README.md"
printf 'tiercel\nCopyright: the tiercel authors\nLicense: Apache-2.0\n' > "$pkg/usr/share/doc/tiercel/copyright"
chmod -R u=rwX,go=rX "$pkg"
chmod 755 "$pkg/usr/lib/tiercel/tiercel.bin"

(cd "$pkg" && find etc -type f | sed 's#^#/#' | sort) > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
headers="linux-headers-$arch | linux-headers-generic | linux-headers"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: tiercel
Version: $version
Architecture: $arch
Maintainer: tiercel maintainers <tiercel@localhost>
Installed-Size: $size
Depends: libbpfcc, $headers
Section: admin
Priority: optional
Homepage: https://github.com/tiercel/tiercel
Description: runtime security agent for Linux hosts and containers (Falco rules)
 tiercel watches system calls through an eBPF probe that BCC compiles at start-up
 against the host's kernel headers, evaluates Falco-compatible rules on every event
 and writes an alert, as one JSON line, the moment a rule matches.
CONTROL

# The service starts where systemd runs; elsewhere `/usr/bin/tiercel run` works by hand.
cat > "$pkg/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    systemctl enable tiercel.service >/dev/null 2>&1 || true
    systemctl restart tiercel.service || echo "tiercel: the service did not start: journalctl -u tiercel" >&2
fi
exit 0
SCRIPT
cat > "$pkg/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl stop tiercel.service >/dev/null 2>&1 || true
fi
exit 0
SCRIPT
cat > "$pkg/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /etc/tiercel /var/log/tiercel
    if [ -d /run/systemd/system ]; then
        systemctl disable tiercel.service >/dev/null 2>&1 || true
    fi
    rm -f /etc/systemd/system/multi-user.target.wants/tiercel.service
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
SCRIPT
chmod 755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

out="dist/tiercel_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
say "built $out ($(du -h "$out" | cut -f1)) in $(($(date +%s) - start)) s"
