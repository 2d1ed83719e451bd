#!/bin/sh
# What the test suite needs beyond the agent's own prerequisites (ci/setup.sh): a running Docker
# engine and a tiny local image. Installs and starts only what is missing.
#   Docker runs without a bridge or iptables rules: test containers use --network none or host.
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel test set-up: $*" >&2; }

need=""
for pkg in docker.io busybox-static; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    say "installing:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

DOCKER=/usr/bin/docker
if ! $DOCKER info >/dev/null 2>&1; then
    say "starting dockerd (--bridge=none --iptables=false)"
    # a daemon that died uncleanly leaves its pid file, and dockerd refuses to start over it
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    mkdir -p /var/log
    nohup /usr/sbin/dockerd --bridge=none --iptables=false --ip-masq=false \
        >/var/log/tiercel-test-dockerd.log 2>&1 &
    i=0
    until $DOCKER info >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le 120 ] || { say "dockerd did not answer in 60 s; see /var/log/tiercel-test-dockerd.log"; exit 1; }
        sleep 0.5
    done
fi

IMAGE=tiercel-test/busybox:1
if ! $DOCKER image inspect "$IMAGE" >/dev/null 2>&1; then
    say "building $IMAGE from busybox-static"
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    cp /bin/busybox "$root/bin/busybox"
    for applet in sh cat ls sleep true echo id touch; do ln -s busybox "$root/bin/$applet"; done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
    echo 'root:*:19000:0:99999:7:::' > "$root/etc/shadow"
    chmod 600 "$root/etc/shadow"
    tar -C "$root" -c . | $DOCKER import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
    rm -rf "$root"
fi
