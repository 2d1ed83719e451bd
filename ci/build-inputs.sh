# The build's inputs, hashed: the same hash means the same program, so a build can be reused (its
# --version then names the commit it was built from). Sourced by ci/build-*.sh; sets $inputs (what
# the Nuitka binary is made of) and $image_inputs (those and the image's own files). The package
# scripts are not inputs of the binary: changing how the .deb is laid out does not recompile it.
tiercel_hash_files() {
    find "$@" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null \
        | LC_ALL=C sort | xargs sha1sum | sha1sum | cut -c1-16
}
inputs=$(tiercel_hash_files src probe rules ci/build-binary.sh ci/build-inputs.sh ci/nuitka pyproject.toml)
image_inputs=$(tiercel_hash_files src probe rules ci/build-binary.sh ci/build-inputs.sh ci/nuitka pyproject.toml \
                   tiercel.yaml Containerfile ci/build-image.sh ci/image)
