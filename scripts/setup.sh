#!/usr/bin/env bash
# Installs what supervise needs to build and test on Debian 12, and nothing that is
# already there. Safe to run again and again.
set -euo pipefail

# What the build and the Debian package need (packaging/Dockerfile installs only these,
# with --build-only).
packages=(
  g++ cmake make pkg-config
  libboost1.81-dev libspdlog-dev nlohmann-json3-dev libyaml-cpp-dev libre2-dev
  libcurl4-openssl-dev    # headers; libcurl itself is loaded at run time for s3://
  dpkg-dev file gzip      # cpack -G DEB: dpkg-shlibdeps finds Depends (scripts/package.sh)
)
# What the tests need besides.
if [[ ${1-} != --build-only ]]; then
  packages+=(
    libgtest-dev googletest
    tini dumb-init          # compatibility tests run the real peers
    util-linux procps tmux  # unshare, script, ps; a terminal for the job-control tests
    groff-base              # the man page test renders docs/supervise.1
    valgrind                # tests/valgrind: the integration path under memcheck
    python3-jsonschema python3-yaml  # schema and Kubernetes tests (run with /usr/bin/python3)
    clang-14 libclang-rt-14-dev llvm-14  # scripts/fuzz.sh: libFuzzer, its sanitizers, llvm-symbolizer
    # tests/container (ctest label container): supervise as the ENTRYPOINT of real
    # containers. runc, not crun (Debian's crun 1.8 refuses a hybrid cgroup layout);
    # debootstrap makes the base image's root file system (no registry is used).
    podman runc debootstrap
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The azure:// tests run Azurite, the Azure storage emulator, from npm (below): Node.js
# and npm are needed; Debian's are taken only where the machine has none.
if [[ ${1-} != --build-only ]] && ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

sudo=()
if ((EUID != 0)); then sudo=(sudo); fi
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[[ ${1-} == --build-only ]] && exit 0

# Azurite for tests/azure and bench/checkpoint.sh: the version pinned in
# tools/azurite/package.json (and its package-lock.json), installed into
# tools/azurite/node_modules (git ignores it; tests/CMakeLists.txt points the tests at
# its bin/azurite-blob). `npm ci` installs exactly the lock file's tree; skipped when
# that version is already there, so the build and the tests need no network after this.
azurite_dir="$(cd "$(dirname "$0")/.." && pwd)/tools/azurite"
pinned=$(sed -n 's/^ *"azurite": *"\([^"]*\)".*/\1/p' "$azurite_dir/package.json" | head -1)
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$azurite_dir/node_modules/azurite/package.json" 2>/dev/null | head -1 || true)
if [[ -n $pinned && $installed == "$pinned" && -x $azurite_dir/node_modules/.bin/azurite-blob ]]; then
  echo "setup: azurite $pinned present"
else
  echo "setup: installing azurite $pinned with npm (tools/azurite)"
  (cd "$azurite_dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$azurite_dir/node_modules/azurite/package.json" | head -1)
  if [[ $installed != "$pinned" ]]; then
    echo "setup: azurite $pinned wanted, $installed installed" >&2
    exit 1
  fi
fi
