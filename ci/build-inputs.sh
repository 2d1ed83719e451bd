# The build's inputs, hashed: the same hash means the same program, so a build can be reused (its
# --version then names the commit it was built from). Sourced by ci/build-*.sh; sets $inputs.
inputs=$(find src probe rules ci/build-binary.sh ci/nuitka pyproject.toml tiercel.yaml Containerfile \
              ci/build-image.sh ci/build-deb.sh ci/deb -type f -not -path '*/__pycache__/*' \
              -not -name '*.pyc' 2>/dev/null | LC_ALL=C sort | xargs sha1sum | sha1sum | cut -c1-16)
