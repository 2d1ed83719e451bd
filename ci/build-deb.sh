#!/bin/sh
# Build dist/tiercel_<version>_<arch>.deb with dpkg-deb from the Nuitka build (ci/build-binary.sh),
# laid out by ci/package-tree.sh (the .rpm's layout too): the program in /usr/lib/tiercel, config
# and rules in /etc/tiercel (conffiles), /lib/systemd/system/tiercel.service (enabled on install).
# The control file names the commit the binary was built from (X-Vcs-Commit).
# Depends on BCC's runtime library (libbpfcc) and the kernel headers meta-package.
#   ci/build-deb.sh          (runs ci/build-binary.sh first: it reuses an up-to-date dist/)
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-deb: $*" >&2; }
start=$(date +%s)

ci/build-binary.sh   # reuses dist/ when its inputs have not changed
. ci/build-info.sh   # $version and $commit, as the binary reports them
arch=$(dpkg --print-architecture)
pkg=.build/deb/tiercel
rm -rf .build/deb
ci/package-tree.sh "$pkg" lib/systemd/system
mkdir -p "$pkg/DEBIAN"

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
X-Vcs-Commit: $commit
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
