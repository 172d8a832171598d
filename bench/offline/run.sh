#!/usr/bin/env bash
# Offline write throughput (outbox -> Parquet under online read load) vs DuckDB's raw Parquet COPY.
# Usage: bash bench/offline/run.sh [--rows N] [--readers K]     (BUILD_DIR defaults to build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
cmake --build "$BUILD_DIR" --target larder bench_offline_raw_parquet >/dev/null
echo "machine load: $(uptime | sed 's/.*load average: //')"
LARDER_BIN="$BUILD_DIR/larder" python3 "$ROOT/bench/offline/offline_throughput.py" \
  --raw-bin "$BUILD_DIR/bench/offline/bench_offline_raw_parquet" "$@"
