# The version and commit of the binary in dist/, as it reports them (`tiercel --version`'s first
# line: "tiercel 0.1.0 (commit 1b57ed4ae062)"), so every package names the build it carries.
# Sourced by ci/build-*.sh after ci/build-binary.sh; sets $version and $commit.
tiercel_first_line=$(dist/tiercel.dist/tiercel.bin --version | head -n 1)
version=$(echo "$tiercel_first_line" | sed -n 's/^tiercel \([^ ]*\) .*/\1/p')
commit=$(echo "$tiercel_first_line" | sed -n 's/.*(commit \([^)]*\)).*/\1/p')
[ -n "$version" ] && [ -n "$commit" ] || {
    echo "ci/build-info.sh: cannot read version and commit from: $tiercel_first_line" >&2; exit 1; }
