#!/usr/bin/env bash
# Installs what the benchmarks compare against or need, on top of the README's set-up
# (scripts/setup.sh): the peers (tini, dumb-init, catatonit, the AWS CLI, rclone), the
# fast S3 PUT endpoint (nginx), hyperfine and GNU time. Idempotent: installs only what
# is missing. The AWS CLI is Debian's awscli unless an `aws` is already on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
want=()
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || want+=("$1"); }
for p in nginx catatonit hyperfine rclone time curl python3 tini dumb-init procps; do need "$p"; done
command -v aws >/dev/null || need awscli
if [ "${#want[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}"
fi
# Debian starts nginx's default site on port 80 when it installs it; the benchmarks run
# their own instance on a free loopback port and need nothing of that one.
