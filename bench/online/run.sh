#!/usr/bin/env bash
# Online store benchmarks: Larder (`larder serve`, SigV4 over HTTP) beside Redis, in one run.
#   bash bench/online/run.sh                       # every workload (about 6 minutes)
#   bash bench/online/run.sh get batch_get         # a subset: get batch_get put put_fsync rss
#   bash bench/online/run.sh --duration 3 --keys 20000 --rss-records 100000   # quick look
#   bash bench/online/run.sh --help                # every option
# Builds larder and larder_loadgen in $BUILD_DIR (default: build) unless LARDER_BENCH_NO_BUILD=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

for tool in redis-server redis-benchmark redis-cli taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench/online: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
if [[ "${LARDER_BENCH_NO_BUILD:-0}" != 1 ]]; then
  [[ -f "$BUILD_DIR/CMakeCache.txt" ]] || bash "$ROOT/scripts/setup.sh"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target larder larder_loadgen >/dev/null
fi
# botocore loads the vendored runtime model (it has BatchWriteRecord, used to load records).
export AWS_DATA_PATH=$ROOT/src/server/models
exec python3 "$ROOT/bench/online/bench_online.py" \
  --larder "$BUILD_DIR/larder" --loadgen "$BUILD_DIR/bench/online/larder_loadgen" "$@"
