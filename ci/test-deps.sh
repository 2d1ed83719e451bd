#!/bin/sh
# What the test suite needs beyond the agent's own prerequisites (ci/setup.sh): a running Docker
# engine and a tiny local image. Installs and starts only what is missing.
#   Docker runs without a bridge or iptables rules: test containers use --network none or host.
#   openssh-server and logrotate are for the benign corpus (tests/attacks/benign.py), sudo for the
#   attack corpus's reads of /etc/sudoers.
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel test set-up: $*" >&2; }

need=""
for pkg in docker.io busybox-static containerd runc openssh-server logrotate sudo; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    say "installing:$need"
    apt-get update -qq
    # the packages' services are not started: the tests start what they need themselves (an sshd
    # on a loopback port for the benign corpus's ssh session, dockerd below)
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    [ -z "$policy" ] || rm -f "$policy"
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

# A second containerd, with the CRI plugin (Debian's containerd has it; Docker's own containerd runs
# with it off), its own config, root, state and socket, for tests/container/test_cri*.py: the tests
# drive the CRI API themselves (pods on the node's network: no CNI). It keeps running, as dockerd
# does; stop it with: kill "$(cat /run/tiercel-test-containerd/containerd.pid)".
CRI_DIR=/run/tiercel-test-containerd
CRI_SOCK=$CRI_DIR/containerd.sock
CRI_CONF=/etc/tiercel-test-containerd/config.toml
CTR="ctr -a $CRI_SOCK -n k8s.io"
if ! $CTR version >/dev/null 2>&1; then
    mkdir -p "$CRI_DIR" "$(dirname "$CRI_CONF")" /var/log
    cat > "$CRI_CONF" <<'EOF'
# tiercel's test containerd (ci/test-deps.sh): CRI on, beside Docker's containerd, sharing nothing.
version = 2
root = "/var/lib/tiercel-test-containerd"
state = "/run/tiercel-test-containerd/state"

[grpc]
  address = "/run/tiercel-test-containerd/containerd.sock"

[ttrpc]
  address = "/run/tiercel-test-containerd/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/tiercel-test/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # these VMs cannot lower an OOM score (no CAP_SYS_RESOURCE): the pause container keeps ours
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "/etc/tiercel-test-containerd/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "/run/tiercel-test-containerd/runc"
        SystemdCgroup = false
EOF
    say "starting a test containerd with CRI at $CRI_SOCK"
    nohup /usr/bin/containerd --config "$CRI_CONF" >/var/log/tiercel-test-containerd.log 2>&1 &
    echo $! > "$CRI_DIR/containerd.pid"
    i=0
    until $CTR version >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le 60 ] || { say "the test containerd did not answer in 30 s; see /var/log/tiercel-test-containerd.log"; exit 1; }
        sleep 0.5
    done
fi

# The pod sandbox image: busybox sleeping (what the pause image does), made locally, and the test
# image, both imported from Docker into the test containerd's k8s.io namespace (CRI's).
PAUSE=tiercel-test/pause:1
if ! $DOCKER image inspect "$PAUSE" >/dev/null 2>&1; then
    say "building $PAUSE from busybox-static"
    root=$(mktemp -d)
    mkdir -p "$root/bin"
    cp /bin/busybox "$root/bin/busybox"
    ln -s busybox "$root/bin/sleep"
    tar -C "$root" -c . | $DOCKER import -c 'ENTRYPOINT ["/bin/sleep", "2147483647"]' - "$PAUSE" >/dev/null
    rm -rf "$root"
fi
have=$($CTR images ls -q)
for img in "$PAUSE" "$IMAGE"; do
    if ! echo "$have" | grep -qx "docker.io/$img"; then
        say "importing $img into the test containerd"
        $DOCKER save "$img" | $CTR images import - >/dev/null
    fi
done
# A pull would also have made the repo@digest reference, which CRI reports as the image's digest.
digest=$($CTR images ls | awk -v ref="docker.io/$IMAGE" '$1 == ref {print $3}')
ref="docker.io/${IMAGE%:*}@$digest"
echo "$have" | grep -qx "$ref" || $CTR images tag "docker.io/$IMAGE" "$ref" >/dev/null
