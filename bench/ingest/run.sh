#!/usr/bin/env bash
# Ingest benchmark: `larder ingest` (online + offline, default durability, timed until the rows
# are in Parquet) beside `redis-cli --pipe` (AOF everysec) and DuckDB COPY csv -> parquet, plus
# the walkthrough's 1000 PutRecord calls from 4 boto3 threads. See bench_ingest.py.
#   bash bench/ingest/run.sh                      # 1M rows x 10 features, 4 workers
#   bash bench/ingest/run.sh --rows 200000 --workers 8 --perf   # smaller, with a server profile
#   bash bench/ingest/run.sh --rerun     # also ingest the same file again (records exist)
# Builds larder and larder_bench_duckdb_copy in $BUILD_DIR (default: build) unless
# LARDER_BENCH_NO_BUILD=1. Run it on a quiet machine: it prints the load average it saw.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "bench/ingest: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
python3 -c 'import boto3' 2>/dev/null || { echo "bench/ingest: python3 needs boto3" >&2; exit 1; }
if [[ "${LARDER_BENCH_NO_BUILD:-0}" != 1 ]]; then
  [[ -f "$BUILD_DIR/CMakeCache.txt" ]] || bash "$ROOT/scripts/setup.sh"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target larder larder_bench_duckdb_copy >/dev/null
fi
exec python3 "$ROOT/bench/ingest/bench_ingest.py" \
  --larder "$BUILD_DIR/larder" --duckdb-copy "$BUILD_DIR/bench/ingest/larder_bench_duckdb_copy" "$@"
