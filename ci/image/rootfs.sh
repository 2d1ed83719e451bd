#!/bin/sh
# The runtime image's root filesystem, assembled in the Containerfile's `rootfs` stage from the Debian
# packages installed there (libbpfcc, python3-minimal, busybox, ca-certificates; binutils to make
# the stubs below):
#   ci/image/rootfs.sh OUT APP APP_OUT   OUT: the new root; APP: the tiercel folder (dist/tiercel.dist);
#                                        APP_OUT: where its copy goes (/opt/tiercel in the image)
# Only what is loaded or run is copied: the shared libraries that libbcc.so.0 (BCC, with its LLVM and
# clang), the tiercel folder's own files and python3 (the event generator's helper processes) need,
# as ldd resolves them; python3's standard library; a busybox shell with a few applets; the CA
# bundle; the passwd/group/os-release files. No apt, dpkg, perl, docs, locales or gconv. A library
# the tiercel folder bundles that the system has too becomes a link to the system's (one copy of
# each). /var/lib/dpkg/status keeps the entries of the packages the files came from, so image
# scanners and the SBOM see them.
set -eu
out=$1 app=$2 app_out=$3
say() { echo "tiercel rootfs: $*" >&2; }
rm -rf "$out" "$app_out"
mkdir -p "$out"

# Merged /usr: /bin, /lib, /lib64, /sbin are links here as on the base image.
for d in bin lib lib64 sbin; do
    if [ -L "/$d" ]; then
        cp -a "/$d" "$out/$d"
        mkdir -p "$out/$(readlink -f "/$d")"
    fi
done
mkdir -p "$out/usr/bin" "$out/usr/lib" "$out/usr/sbin" "$out/etc" "$out/tmp" "$out/root" "$out/run" \
    "$out/var/lib/dpkg" "$out/opt"
chmod 1777 "$out/tmp"
: > "$out/.copied"

# copy PATH...: each path (and, for a link, what it points to) at the same place under $out
copy() {
    for p in "$@"; do
        if [ ! -e "$out$p" ] && [ ! -L "$out$p" ]; then
            mkdir -p "$out$(dirname "$p")"
            cp -a "$p" "$out$p"
            echo "$p" >> "$out/.copied"
        fi
        if [ -L "$p" ]; then
            copy "$(readlink -f "$p")"
        fi
    done
}

# the shared libraries the ELF files FILE... need, as the loader resolves them here (not those under
# $skip: a folder's own), the loader itself included
needs() {
    for f in "$@"; do ldd "$f" 2>/dev/null || true; done \
        | awk -v skip="${skip:-//}" '$2 == "=>" && $3 ~ /^\// && index($3, skip) != 1 {print $3}
                                    $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u
}

libbcc=$(ldconfig -p | awk '$1 == "libbcc.so.0" {print $NF; exit}')
[ -n "$libbcc" ] || { say "libbcc.so.0 is not installed in this stage"; exit 1; }
python=$(readlink -f /usr/bin/python3)
copy "$libbcc" /usr/bin/python3 $(needs "$libbcc" "$python")

# python3's standard library (python3-minimal's: the generator's helpers use nothing else)
pyver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for pkg in "libpython$pyver-minimal" "python$pyver-minimal" python3-minimal; do
    dpkg -L "$pkg" | while read -r f; do
        case $f in /usr/share/*) continue;; esac
        [ -f "$f" ] || [ -L "$f" ] || continue
        copy "$f"
    done
done
copy $(needs $(find "/usr/lib/python$pyver/lib-dynload" -name '*.so'))

# busybox: /bin/sh and the applets the image's users run (compose's generator loop, tests)
copy /bin/busybox $(needs /bin/busybox)
for applet in sh sleep true false cat ls env id kill ps rm cp ln mkdir echo; do
    [ -e "$out/usr/bin/$applet" ] || ln -s busybox "$out/usr/bin/$applet"
done

# the tiercel folder and the system libraries its files need (libc and its kin)
cp -a "$app" "$app_out"
ln -s /opt/tiercel/tiercel.bin "$out/usr/bin/tiercel"
copy $(skip="$app/" needs $(find "$app" -type f \( -name '*.so*' -o -name tiercel.bin \)))
# One copy of each library: a library the folder bundles (Nuitka copied it from the build host, of
# this same Debian release) that this stage also has becomes a link to the stage's, which is the
# release's current one, security updates included (a stable release keeps each soname's ABI).
for f in "$app_out"/lib*.so*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    name=$(basename "$f")
    sys=$(ldconfig -p | awk -v n="$name" '$1 == n {print $NF; exit}')
    if [ -n "$sys" ]; then
        copy "$sys"
        ln -sf "$sys" "$f"
        say "one copy of $name: the system's $sys"
    fi
done

# Two libraries LLVM links but BCC never calls, replaced by stubs: libz3 (23 MB, the SMT solver of
# clang's static analyzer) and ICU's data (31 MB: LLVM links libxml2, which links ICU, and BCC parses
# no XML). The loader still needs each library and every symbol the image's other files take from
# it (Python's ctypes loads libbcc with RTLD_NOW): the stub defines exactly those, functions as a trap
# (ud2: a call would stop the agent, never let it run on wrongly) and data as zeros (ICU would find
# its data invalid). tests/packaging/test_image.py runs the agent, BCC compiling its probe, from here.
stub() {  # stub SONAME
    lib=$(ldconfig -p | awk -v n="$1" '$1 == n {print $NF; exit}')
    [ -n "$lib" ] && [ -e "$out$lib" ] || return 0
    real=$(readlink -f "$lib")
    users=$(find "$out/usr/lib" "$app_out" -name '*.so*' -type f | while read -r f; do
        if readelf -d "$f" 2>/dev/null | grep -q "(NEEDED).*\[$1\]"; then echo "$f"; fi; done)
    [ -n "$users" ] || return 0
    nm -D --undefined-only $users | awk '{print $2}' | sed 's/@.*//' | sort -u > /tmp/stub-wanted
    nm -D --defined-only "$real" | awk '{print $3, $2}' | sed 's/@[^ ]*//' | sort -u \
        | awk 'NR == FNR {want[$1] = 1; next} ($1 in want) {print}' /tmp/stub-wanted - > /tmp/stub-syms
    awk '$2 ~ /^[TtWi]$/ {printf ".text\n.globl %s\n.type %s, @function\n%s: ud2\n", $1, $1, $1; next}
         {printf ".section .rodata\n.balign 16\n.globl %s\n.type %s, @object\n", $1, $1
          printf "%s: .zero 64\n.size %s, 64\n", $1, $1}' /tmp/stub-syms > /tmp/stub.s
    as /tmp/stub.s -o /tmp/stub.o
    ld -shared -soname "$1" -o "$out$real" /tmp/stub.o
    say "$1: a stub with the $(wc -l < /tmp/stub-syms) symbols $(echo $users | xargs -n1 basename | tr '\n' ' ')takes from it"
}
stub "$(ldconfig -p | awk '$1 ~ /^libz3\.so\.[0-9]+$/ {print $1; exit}')"
stub "$(ldconfig -p | awk '$1 ~ /^libicudata\.so\.[0-9]+$/ {print $1; exit}')"

# configuration files the libraries and the agent read
copy /etc/ssl/certs/ca-certificates.crt /usr/lib/ssl/cert.pem /etc/os-release \
     /etc/passwd /etc/group /etc/nsswitch.conf /etc/ld.so.conf
[ -d /etc/ld.so.conf.d ] && cp -a /etc/ld.so.conf.d "$out/etc/"
ldconfig -r "$out"

# /var/lib/dpkg/status: the entries of the packages whose files were copied
paths=$(sort -u "$out/.copied" | grep -v "^$app")
rm -f "$out/.copied"
# dpkg knows some files by their /lib path (merged /usr): ask for both forms
pkgs=$( (echo "$paths"; echo "$paths" | sed -n 's#^/usr/lib/#/lib/#p'; echo "$paths" | sed -n 's#^/lib/#/usr/lib/#p') \
        | xargs dpkg -S 2>/dev/null | sed 's/: .*//' | tr ', ' '\n\n' | grep . | sort -u)
for p in $pkgs; do
    dpkg-query -s "$p"
    echo
done > "$out/var/lib/dpkg/status"
say "$(echo "$pkgs" | wc -w) Debian packages, $(du -sm "$out" | cut -f1) MB"
