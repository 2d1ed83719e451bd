#!/bin/sh
# Provenance beside the artefacts in dist/, for the build the binary there carries:
#   dist/tiercel-<version>.cdx.json         CycloneDX SBOM of the binary (and so of the .deb and .rpm):
#                                           every Python distribution compiled in, every Debian
#                                           package a compiled module or bundled library came from
#   dist/tiercel-image-<version>.cdx.json   the same and the image's Debian packages (when the image
#                                           tiercel:<version> holds this build)
#   dist/tiercel-image-<version>.id         the image's ID (the SHA-256 of its configuration)
#   dist/SHA256SUMS                         sha256sum -c SHA256SUMS, in dist/
# The SBOMs are written by cyclonedx-python-lib (PyPI; installed in its own venv) from Nuitka's
# compilation report and dpkg's database: ci/sbom.py.
#   ci/build-sbom.sh          (after ci/build-binary.sh, and the packages and image it should cover)
set -eu
cd "$(dirname "$0")/.."
say() { echo "tiercel build-sbom: $*" >&2; }
start=$(date +%s)
DOCKER=${DOCKER:-docker}

[ -f dist/tiercel-build-report.xml ] || { say "dist/tiercel-build-report.xml is missing: run ci/build-binary.sh"; exit 1; }
. ci/build-info.sh
venv=${TIERCEL_SBOM_VENV:-.build/sbom-venv}
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
stamp="$venv/.stamp-$(sha1sum ci/build-sbom.sh | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    rm -f "$venv"/.stamp-*
    "$venv/bin/pip" install -q --disable-pip-version-check 'cyclonedx-python-lib[json-validation]>=8,<12'
    touch "$stamp"
fi

rm -f dist/*.cdx.json dist/tiercel-image-*.id dist/SHA256SUMS
"$venv/bin/python" ci/sbom.py binary dist/tiercel-build-report.xml "$version" "$commit" \
    "dist/tiercel-$version.cdx.json"
image="tiercel:$version"
if $DOCKER image inspect "$image" >/dev/null 2>&1 && [ "$($DOCKER image inspect \
        -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$image")" = "$commit" ]; then
    cid=$($DOCKER create "$image")
    $DOCKER cp "$cid:/var/lib/dpkg/status" .build/image-dpkg-status
    $DOCKER rm "$cid" >/dev/null
    "$venv/bin/python" ci/sbom.py image dist/tiercel-build-report.xml "$version" "$commit" \
        .build/image-dpkg-status "dist/tiercel-image-$version.cdx.json"
    $DOCKER image inspect -f '{{.Id}}' "$image" > "dist/tiercel-image-$version.id"
    rm -f .build/image-dpkg-status
else
    say "no image $image of commit $commit: no image SBOM"
fi
(cd dist && sha256sum $(ls tiercel tiercel_*.deb tiercel-*.rpm *.cdx.json tiercel-image-*.id 2>/dev/null) > SHA256SUMS)
say "wrote dist/SHA256SUMS ($(wc -l < dist/SHA256SUMS) files) and the SBOMs in $(($(date +%s) - start)) s"
