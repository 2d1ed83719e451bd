#!/bin/sh
# One set-up for running the agent and for running the tests, on a Debian/Ubuntu host, as root.
# Installs only what is missing, so a second run takes a second or two.
#   ci/setup.sh          agent prerequisites + .venv with the project and its dev tools
set -eu
cd "$(dirname "$0")/.."

say() { echo "tiercel setup: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "run as root: it installs packages, mounts tracefs and loads BPF programs"; exit 1; }

krel=$(uname -r)
arch=$(dpkg --print-architecture)
need=""
for pkg in python3-bpfcc python3-venv python3-pip gcc libc6-dev make sysdig; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
for pkg in ${TIERCEL_EXTRA_PACKAGES:-}; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done

# Kernel headers: the running kernel's own package if the archive has one; otherwise Debian's
# generic headers, which are enough for tracepoint programs (see docs/kernel.md), linked in its place.
fallback_headers=""
if [ ! -e "/lib/modules/$krel/build/include" ] && [ -z "${TIERCEL_KERNEL_HEADERS:-}" ]; then
    [ -n "$need" ] || apt-get update -qq
    if apt-cache show "linux-headers-$krel" >/dev/null 2>&1; then
        need="$need linux-headers-$krel"
    else
        fallback_headers=1
        dpkg -s "linux-headers-$arch" >/dev/null 2>&1 || need="$need linux-headers-$arch"
    fi
fi

if [ -n "$need" ]; then
    say "installing:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ -n "$fallback_headers" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$hdr" ] || { say "no kernel headers found under /usr/src after installing linux-headers-$arch"; exit 1; }
    mkdir -p "/lib/modules/$krel"
    ln -sfn "$hdr" "/lib/modules/$krel/build"
    say "NOTICE: no headers package exists for kernel $krel; linked $hdr as /lib/modules/$krel/build."
    say "NOTICE: tiercel reads only tracepoint arguments and user memory, which these headers describe correctly."
fi
# Debian splits a tree into -<arch> (build) and -common (source); BCC needs both.
build=$(readlink "/lib/modules/$krel/build" 2>/dev/null || true)
case "$build" in
    /usr/src/linux-headers-*-"$arch")
        common=$(echo "$build" | sed "s/-$arch\$/-common/")
        if [ -d "$common" ] && [ ! -e "/lib/modules/$krel/source" ]; then
            ln -sfn "$common" "/lib/modules/$krel/source"
        fi;;
esac

# BCC reads tracepoint formats from tracefs.
if [ ! -e /sys/kernel/tracing/events ]; then
    mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
if [ ! -e /sys/kernel/debug/tracing ] && [ -d /sys/kernel/debug ]; then
    mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi
[ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing/events ] || {
    say "tracefs is not available at /sys/kernel/tracing and could not be mounted"; exit 1; }

# A venv on the system Python, which is the one python3-bpfcc serves; re-install the project only
# when pyproject.toml changed.
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=".setup-stamp-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    rm -f .setup-stamp-*
    .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi
.venv/bin/python -c 'import bcc' 2>/dev/null || { say "the virtual environment cannot import bcc"; exit 1; }
