#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) into build-asan/ (the ASAN build: clang,
# -fsanitize=fuzzer,address,undefined) and runs each for a while on its corpus.
#
#   tools/fuzz.sh [--build-only] [--seconds N] [--workers W] [target ...]
#
# Defaults: every target, 25 s each (what `make fuzz-smoke` and CI run), one worker. The corpus
# of a target is fuzz/corpus/<target>/ (seeds in git, read-only) plus build-asan/corpus/<target>/
# (what runs discover, kept between runs, not in git). A crash, leak, timeout (> 10 s for one
# input) or sanitizer report stops that target and leaves the input in
# build-asan/artifacts/<target>/; the script then fails. Reproduce with
#   build-asan/fuzz/fuzz_<target> build-asan/artifacts/<target>/<file>
# Each target's CPU time and final stats are printed (and appended to build-asan/fuzz-log.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=25
workers=1
build_only=0
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-only) build_only=1 ;;
    --seconds) seconds=$2; shift ;;
    --workers) workers=$2; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
all=(http_request control_plane runtime athena event_time record_codec sigv4 ingest format_double)
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

# The fuzz targets live in the ASAN build (tools/sanitize.sh asan configures it the same way).
bdir=build-asan
CC=clang CXX=clang++ cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLARDER_SANITIZE=address,undefined -DLARDER_FUZZ=ON >/dev/null
nice -n "${FUZZ_NICE:-0}" cmake --build "$bdir" -j "${JOBS:-$(nproc)}" \
  --target $(printf 'fuzz_%s ' "${targets[@]}")
[[ $build_only == 1 ]] && exit 0

# Targets that run the whole server stack keep background threads and caches (RocksDB, DuckDB)
# alive across inputs: libFuzzer's per-input leak check would blame them, so it is off there.
stack_targets=" http_request control_plane runtime athena ingest "
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$repo/tools/sanitizers/ubsan.supp"
export ASAN_OPTIONS="detect_stack_use_after_return=1:strict_string_checks=1"
failed=()
for t in "${targets[@]}"; do
  corpus=$bdir/corpus/$t
  artifacts=$bdir/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  leaks=1
  [[ $stack_targets == *" $t "* ]] && leaks=0
  log=$bdir/fuzz-$t.log
  echo "== fuzz_$t: ${seconds}s x $workers worker(s) =="
  start=$(date +%s)
  set +e
  parallel=()
  [[ $workers -gt 1 ]] && parallel=(-workers="$workers" -jobs="$workers")
  cpu0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  nice -n "${FUZZ_NICE:-0}" "$bdir"/fuzz/fuzz_"$t" "$corpus" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -detect_leaks=$leaks \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" "${parallel[@]}" \
    >"$log" 2>&1
  rc=$?
  # CPU seconds of the finished fuzzer (and its jobs): this shell's children's utime + stime.
  cpu=$(( ($(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat) - cpu0) / $(getconf CLK_TCK) ))
  set -e
  # With -jobs, libFuzzer writes each job's output to fuzz-<n>.log in the current directory.
  for f in fuzz-*.log; do [[ -e $f ]] && cat "$f" >>"$log" && rm -f "$f"; done
  execs=$(grep -ho 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  line="fuzz_$t: rc=$rc wall=$(( $(date +%s) - start ))s cpu=${cpu}s execs=$execs cov=${cov:-?} corpus=$(ls "$corpus" | wc -l)"
  echo "$line"
  echo "$(date -u +%FT%TZ) $line" >>"$bdir"/fuzz-log.txt
  if [[ $rc != 0 ]]; then
    failed+=("$t")
    grep -E 'ERROR|SUMMARY|invariant|abort|Fail|==[0-9]+==' "$log" | head -40 || true
    ls "$artifacts" | head
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in: ${failed[*]} (inputs in $bdir/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${seconds}s each without a finding"
