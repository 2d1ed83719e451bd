#!/bin/sh
# Build the tiercel container image (Containerfile) on the local Docker engine.
#   ci/build-image.sh [TAG]        default tag: tiercel:latest (and tiercel:<version>)
#   ci/build-image.sh --base-only  only make sure the base image exists
# The image carries the Nuitka binary built on the host (ci/build-binary.sh: the same folder as the
# .deb and the .rpm, reused when up to date), so the host's Debian release is the base's (the binary
# needs its libc). The runtime stage is assembled from that base's packages (ci/image/rootfs.sh) onto
# an empty image. Where no registry answers, the base is made here: debootstrap --variant=minbase
# from the host's apt mirror, slimmed, then docker import (about a minute, ~75 MB). The build stage
# is tagged (tiercel-build/rootfs) so it is a cache, not a dangling image; what a rebuild replaces is
# removed.
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-image: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "run as root (debootstrap, docker)"; exit 1; }
start=$(date +%s)

DOCKER=${DOCKER:-docker}
TAG=${1:-tiercel:latest}
# the host's release: the binary from ci/build-binary.sh links against its libc
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
BASE=${TIERCEL_BASE_IMAGE:-tiercel-base/debian:$SUITE}

base_from_registry() {
    [ -z "${TIERCEL_BASE_IMAGE:-}" ] || return 1
    timeout 60 $DOCKER pull -q "debian:$SUITE-slim" >/dev/null 2>&1 || return 1
    $DOCKER tag "debian:$SUITE-slim" "$BASE"
}

# The host's own Debian mirrors (deb822 or one-line sources), so this works wherever apt does: the
# archive's, and its security updates' (the packages the binary's bundled libraries came from).
host_mirror() {  # host_mirror security|archive
    uris=$( (grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
             grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                 | sed 's/\[[^]]*\] *//' | awk '{print $2}') | grep '/debian')
    if [ "$1" = security ]; then echo "$uris" | grep security | head -n 1
    else echo "$uris" | grep -v security | head -n 1; fi
}
mirror=$(host_mirror archive)
mirror=${mirror:-http://deb.debian.org/debian}
security=$(host_mirror security)

base_from_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
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
    { printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE"
      [ -z "$security" ] || printf 'deb %s %s-security main\n' "$security" "$SUITE"; } \
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

ci/build-binary.sh   # reuses dist/ when its inputs have not changed
. ci/build-info.sh   # $version and $commit, as the binary reports them

# Reused when built from the same inputs (ci/build-inputs.sh); TIERCEL_REBUILD=1 builds anyway.
mkdir -p .build
exec 9>.build/build-image.lock
flock 9
. ci/build-inputs.sh
if [ "${TIERCEL_REBUILD:-0}" != 1 ] && [ "$($DOCKER image inspect -f '{{index .Config.Labels "tiercel.inputs"}}' \
        "$TAG" 2>/dev/null)" = "$image_inputs" ]; then
    say "$TAG is up to date (inputs $image_inputs): reusing it (TIERCEL_REBUILD=1 to build anyway)"
    exit 0
fi

# The build context: the package layout's program, config and rules, and the rootfs script.
ctx=.build/image-context
rm -rf "$ctx"
ci/package-tree.sh "$ctx/tree" lib/systemd/system
mkdir -p "$ctx"
mv "$ctx/tree/usr/lib/tiercel" "$ctx/tiercel.dist"
mv "$ctx/tree/etc/tiercel/rules.d" "$ctx/rules"
mv "$ctx/tree/etc/tiercel/tiercel.yaml" "$ctx/tiercel.yaml"
rm -rf "$ctx/tree"
cp Containerfile ci/image/rootfs.sh "$ctx/"
# The runtime's packages come from the host's mirrors, security updates included, as the host's do.
{
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE"
    [ -z "$security" ] || printf 'deb %s %s-security main\n' "$security" "$SUITE"
} > "$ctx/sources.list"

say "docker build -t $TAG (base $BASE, tiercel $version, commit $commit)"
old=$($DOCKER image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
old_stage=$($DOCKER image inspect -f '{{.Id}}' tiercel-build/rootfs:"$SUITE" 2>/dev/null || true)
# Whatever happens, no build step's container or untagged stage layer is left behind (the stage's
# layers carry its label; the cache the tagged images are made of is not dangling).
trap '$DOCKER image prune -f --filter label=tiercel.stage=rootfs >/dev/null 2>&1 || true' EXIT
$DOCKER build -q --force-rm --network host -f "$ctx/Containerfile" --target rootfs --build-arg "BASE=$BASE" \
    -t tiercel-build/rootfs:"$SUITE" "$ctx" >/dev/null
$DOCKER build --force-rm --network host -f "$ctx/Containerfile" --build-arg "BASE=$BASE" \
    --label "tiercel.inputs=$image_inputs" \
    --label "org.opencontainers.image.title=tiercel" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$commit" \
    --label "org.opencontainers.image.source=https://github.com/tiercel/tiercel" \
    -t "$TAG" -t "tiercel:$version" "$ctx"
rm -rf "$ctx"
# What this build replaced, now untagged: the previous image and build stage (not the cache the
# new ones are made of).
for id in $old $old_stage; do
    if [ -z "$($DOCKER image inspect -f '{{join .RepoTags " "}}' "$id" 2>/dev/null)" ]; then
        $DOCKER image rm "$id" >/dev/null 2>&1 || true
    fi
done
end=$(date +%s)
size=$($DOCKER image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1e6}')
say "built $TAG ($size) in $((end - start)) s"
