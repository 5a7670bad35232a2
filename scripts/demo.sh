#!/usr/bin/env bash
# Builds supervise and runs the demo task of examples/: declared files, a training-like
# script, exit actions, and the exit-status JSON it leaves behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target supervise
demo=/tmp/supervise-demo
rm -rf "$demo"
echo "== running: build/supervise --spec examples/train-with-checkpointing.yaml --status-file $demo/status.json"
set +e
build/supervise --spec examples/train-with-checkpointing.yaml --status-file "$demo/status.json"
code=$?
set -e
echo "== supervise exited with $code; the checkpoint store:"
find "$demo/store" -type f | sort
echo "== its manifest, $demo/store/checkpoints.manifest.json (head):"
head -n 12 "$demo/store/checkpoints.manifest.json"
echo "== $demo/status.json:"
cat "$demo/status.json"
