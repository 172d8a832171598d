#!/usr/bin/env bash
# Runs every benchmark suite: each bench/<suite>/run.sh, in name order, passing no arguments
# (each suite's run.sh documents its own options). `make bench` calls this.
# BUILD_DIR (default: build) is passed on through the environment.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$ROOT/build}
status=0
for suite in "$ROOT"/bench/*/run.sh; do
  [[ -e "$suite" ]] || continue
  name=$(basename "$(dirname "$suite")")
  echo "=== bench/$name ==="
  bash "$suite" || { echo "bench/$name FAILED" >&2; status=1; }
  echo
done
exit $status
