#!/usr/bin/env bash
# Everything from a fresh Debian 12 machine to a full test run: install what is missing,
# build, run every test. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 300
cd "$OLDPWD" && scripts/package.sh   # the .deb: cpack, then its files, Depends, and a run
