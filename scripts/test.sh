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
# Hardening (README "Hardening"): the whole suite under ASan + UBSan, then each fuzz
# target for 30 s. Always in CI; locally with FULL=1.
if [[ ${CI-} == true || ${FULL-} == 1 ]]; then
  hardening=0
  scripts/sanitize.sh || hardening=1
  scripts/fuzz.sh 30 || hardening=1
  exit "$hardening"
fi
