#!/usr/bin/env bash
# Builds the Debian package from an existing build directory ($BUILD_DIR, default build)
# with `cpack -G DEB` and checks it: its files, its control fields (Depends: libc6 and no
# library that is linked in statically), a gzipped man page, and that the binary it holds
# runs. scripts/test.sh (what CI runs) calls it after ctest. Prints the .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD
build_dir=$(realpath "${BUILD_DIR:-build}")

die() {
    echo "package: FAIL: $*" >&2
    exit 1
}

for tool in cpack dpkg-deb dpkg-shlibdeps file gzip; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs it)"
done
[[ -f $build_dir/CPackConfig.cmake ]] || die "$build_dir is not a configured build directory (scripts/build.sh)"
[[ -x $build_dir/supervise ]] || die "$build_dir/supervise is not built (scripts/build.sh)"

rm -f "$build_dir"/supervise_*.deb
(cd "$build_dir" && cpack -G DEB >cpack.log 2>&1) || {
    cat "$build_dir/cpack.log" >&2
    die "cpack -G DEB failed (log above)"
}
debs=("$build_dir"/supervise_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || die "cpack made no single supervise_*.deb in $build_dir"
deb=${debs[0]}

field() { dpkg-deb -f "$deb" "$1"; }

# Control fields.
[[ $(field Package) == supervise ]] || die "Package is '$(field Package)', not supervise"
[[ $(field Architecture) == "$(dpkg --print-architecture)" ]] ||
    die "Architecture is '$(field Architecture)', not $(dpkg --print-architecture)"
[[ $(field Section) == admin ]] || die "Section is '$(field Section)', not admin"
[[ $(field Priority) == optional ]] || die "Priority is '$(field Priority)', not optional"
[[ -n $(field Maintainer) ]] || die "no Maintainer"
[[ -n $(field Description) ]] || die "no Description"
version=$(field Version)
depends=$(field Depends)
recommends=$(field Recommends)
names_package() { sed -E 's/[,|]/\n/g' <<<"$1" | sed -E 's/^ *([^ (]+).*/\1/' | grep -qxF "$2"; }
names_package "$depends" libc6 || die "Depends '$depends' does not name libc6"
if grep -qiE 'libstdc\+\+|libgcc|libspdlog|libfmt|libyaml|libre2|libboost|libcurl' <<<"$depends"; then
    die "Depends '$depends' names a library that the binary should hold statically (or dlopen)"
fi
names_package "$recommends" libcurl4 || die "Recommends '$recommends' does not name libcurl4"

# Files.
listing=$(dpkg-deb -c "$deb")
paths=$(awk '{print $NF}' <<<"$listing")
expected=(
    ./usr/bin/supervise
    ./usr/share/man/man1/supervise.1.gz
    ./usr/share/doc/supervise/README.md
    ./usr/share/doc/supervise/copyright
    ./usr/share/bash-completion/completions/supervise
)
for schema in "$source_dir"/schemas/*.json; do
    [[ -e $schema ]] && expected+=("./usr/share/doc/supervise/schemas/$(basename "$schema")")
done
for path in "${expected[@]}"; do
    grep -qxF "$path" <<<"$paths" || die "$path is not in the package:"$'\n'"$listing"
done
grep -qE '^-rwxr-xr-x root/root .* \./usr/bin/supervise$' <<<"$listing" ||
    die "/usr/bin/supervise is not -rwxr-xr-x root/root:"$'\n'"$(grep usr/bin <<<"$listing")"
if grep -E '^-' <<<"$listing" | grep -vqE '^-rw[x-]r-[x-]r-[x-] root/root '; then
    die "files not owned by root or with odd modes:"$'\n'"$(grep -E '^-' <<<"$listing" | grep -vE '^-rw[x-]r-[x-]r-[x-] root/root ')"
fi

# What the files are: run the packaged binary from an extracted copy.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/root"
bin=$tmp/root/usr/bin/supervise
file -b "$tmp/root/usr/share/man/man1/supervise.1.gz" | grep -q '^gzip compressed' ||
    die "the man page is not gzipped: $(file -b "$tmp/root/usr/share/man/man1/supervise.1.gz")"
gzip -dc "$tmp/root/usr/share/man/man1/supervise.1.gz" | cmp -s - "$source_dir/docs/supervise.1" ||
    die "the packaged man page is not docs/supervise.1"
file -b "$bin" | grep -q 'ELF .*, stripped' || die "usr/bin/supervise is not a stripped ELF binary: $(file -b "$bin")"
out=$("$bin" --version) || die "usr/bin/supervise --version failed"
[[ $out == "supervise $version" ]] || die "usr/bin/supervise --version says '$out', the package is $version"
"$bin" --log-level warn -- true || die "usr/bin/supervise -- true exited $?"
rc=0
"$bin" --log-level off -- false || rc=$?
[[ $rc -eq 1 ]] || die "usr/bin/supervise -- false exited $rc, not 1"
"$bin" --help | grep -q -- '--termination-log' || die "usr/bin/supervise --help lacks --termination-log"
bash -c 'source "$1" && complete -p supervise' _ "$tmp/root/usr/share/bash-completion/completions/supervise" \
    >/dev/null || die "the packaged bash completion does not register for supervise"

echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes): ${#expected[@]} files checked"
echo "package: Depends: $depends"
echo "package: Recommends: $recommends"
echo "$deb"
