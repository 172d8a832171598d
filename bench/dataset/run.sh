#!/usr/bin/env bash
# bench/dataset: a point-in-time training dataset, Larder's DatasetBuilder (dedup + delete
# handling + as-of join) vs the plain DuckDB ASOF JOIN over the same Parquet files (no dedup,
# no deletes) vs pandas merge_asof. Each contender runs in its own process; the script prints
# wall time and peak RSS of each, and the ratios Larder/DuckDB and Larder/pandas.
#
# Usage: bench/dataset/run.sh [--small] [--dir DIR] [--threads N] [--memory-mb M] [--repeat N]
#                             [--no-pandas]
#   default scale: 1M entity rows, 10M feature rows x 8 features, 1M identifiers (generation
#   takes about a minute on 2 cores, each run well under a minute); --small: 100k/1M/100k.
#   DIR (default /tmp/larder-bench-dataset) keeps the generated data between runs.
#   --repeat N runs DuckDB and Larder alternately N times and keeps each one's fastest run (a
#   shared machine's load moves between runs); pandas runs once.
# BUILD_DIR (default: build) is where the driver is built.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
DIR=/tmp/larder-bench-dataset
ENTITIES=1000000 ROWS=10000000 IDS=1000000
THREADS=2 MEMORY_MB=1024 PANDAS=1 REPEAT=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --small) ENTITIES=100000 ROWS=1000000 IDS=100000; DIR=/tmp/larder-bench-dataset-small; shift ;;
    --dir) DIR=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --memory-mb) MEMORY_MB=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --no-pandas) PANDAS=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cmake --build "$BUILD_DIR" --target larder_bench_dataset >/dev/null
BIN=$BUILD_DIR/bench/dataset/larder_bench_dataset
STAMP="$ENTITIES $ROWS $IDS v1"
if [[ "$(cat "$DIR/.generated" 2>/dev/null)" != "$STAMP" ]]; then
  echo "generating into $DIR ..."
  "$BIN" generate --dir "$DIR" --entities "$ENTITIES" --rows "$ROWS" --ids "$IDS"
  echo "$STAMP" > "$DIR/.generated"
fi

echo "load before runs: $(uptime | sed 's/.*load average/load average/'), $(nproc) cores, threads=$THREADS memory_limit=${MEMORY_MB}MB"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((round = 1; round <= REPEAT; round++)); do
  for engine in duckdb larder; do
    "$BIN" run --dir "$DIR" --engine "$engine" --threads "$THREADS" --memory-mb "$MEMORY_MB" | tee -a "$results"
  done
done
if [[ $PANDAS == 1 ]]; then
  if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    /usr/bin/python3 "$ROOT/bench/dataset/pandas_peer.py" "$DIR" | tee -a "$results"
  else
    echo "pandas peer skipped: /usr/bin/python3 has no pandas (apt-get install python3-pandas)"
  fi
fi
echo "load after runs: $(uptime | sed 's/.*load average/load average/')"
awk '
  { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    e = v["engine"]
    if (!(e in t) || v["seconds"] + 0 < t[e] + 0) { t[e] = v["seconds"]; r[e] = v["peak_rss_mb"] } }
  END {
    printf "%-8s %10s %14s\n", "engine", "seconds", "peak_rss_mb"
    for (e in t) printf "%-8s %10.2f %14.0f\n", e, t[e], r[e]
    if (t["duckdb"] > 0) printf "Larder/DuckDB-ASOF = %.2fx (goal <= 1.2x)\n", t["larder"] / t["duckdb"]
    if (t["pandas"] > 0) printf "Larder/pandas      = %.2fx\n", t["larder"] / t["pandas"]
    if (r["larder"] > 0) printf "Larder peak RSS    = %.0f MB (goal <= 2048 MB)\n", r["larder"]
  }' "$results"
