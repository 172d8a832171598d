#!/usr/bin/env bash
# Builds the whole tree (unit tests + the larder binary) with sanitizers and runs the test suite
# against it: `make asan` and `make tsan` call this.
#
#   tools/sanitize.sh asan|tsan [--build-only] [--tests "<selection>"]
#
# asan: clang 14, -DLARDER_SANITIZE=address,undefined -DLARDER_FUZZ=ON, build-asan/ (the fuzz
#       targets share this build: tools/fuzz.sh).
# tsan: clang 14, -DLARDER_SANITIZE=thread, build-tsan/.
#
# The e2e suites start `larder serve` themselves; CTest points them at the sanitized binary
# (LARDER_BIN). A server's stderr goes to its log file, which the suites do not always show, so
# every sanitizer report is written to <build>/sanitizer-reports/ instead (log_path) and this
# script fails if any report file exists at the end, printing them all.
#
# Test selection ($SAN_TESTS or --tests): "all" (default) runs every CTest entry; otherwise a
# space-separated list of CTest selectors, each either "L:<label>" or "R:<regex>", run in turn.
# CI uses a subset under TSAN (see .ci/run) to stay inside its time budget.
#
# Third-party code: DuckDB (prebuilt libduckdb.so), RocksDB and Boost.System (Debian) are not
# instrumented. Suppressions for them live in tools/sanitizers/*.supp, each entry with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

kind=${1:?usage: tools/sanitize.sh asan|tsan [--build-only] [--tests SEL]}
shift
build_only=0
tests=${SAN_TESTS:-all}
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-only) build_only=1 ;;
    --tests) tests=$2; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
jobs=${JOBS:-$(nproc)}
nice_cmd=(nice -n "${SAN_NICE:-0}")

extra_cmake=()
case $kind in
  asan)
    # One build serves ASAN and the fuzzers (tools/fuzz.sh uses build-asan too): clang, with
    # -DLARDER_FUZZ=ON. The coverage instrumentation costs the tests some speed and saves a
    # whole build, which matters on CI's two cores.
    dir=build-asan
    export CC=clang CXX=clang++
    sanitize=address,undefined
    extra_cmake=(-DLARDER_FUZZ=ON)
    ;;
  tsan)
    dir=build-tsan
    # g++'s TSAN rejects Boost.Asio's atomic_thread_fence under -Werror=tsan: use clang.
    export CC=clang CXX=clang++
    sanitize=thread
    ;;
  *) echo "unknown sanitizer kind '$kind' (asan or tsan)" >&2; exit 2 ;;
esac

cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLARDER_SANITIZE="$sanitize" "${extra_cmake[@]}" >/dev/null
# SAN_BUILD_TARGETS limits the build to some targets (CI's TSAN run builds only what its test
# subset needs); tests of targets not built are then skipped.
build_targets=()
[[ -n ${SAN_BUILD_TARGETS:-} ]] && build_targets=(--target $SAN_BUILD_TARGETS)
"${nice_cmd[@]}" cmake --build "$dir" -j "$jobs" "${build_targets[@]}"
[[ $build_only == 1 ]] && exit 0

reports=$repo/$dir/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
supp=$repo/tools/sanitizers
common="log_path=$reports/report:print_stacktrace=1"
export UBSAN_OPTIONS="$common:halt_on_error=1:suppressions=$supp/ubsan.supp"
export ASAN_OPTIONS="$common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="$common:suppressions=$supp/tsan.supp:second_deadlock_stack=1:history_size=4"
# A sanitized server is slower to start and to answer; the suites poll with deadlines.
export LARDER_SANITIZED=$kind

status=0
run_ctest() {
  (cd "$dir" && "${nice_cmd[@]}" ctest --output-on-failure -j "$jobs" --timeout 1800 \
     -E '_NOT_BUILT' "$@") || status=1
}
if [[ $tests == all ]]; then
  run_ctest
else
  for sel in $tests; do
    case $sel in
      L:*) run_ctest -L "${sel#L:}" ;;
      R:*) run_ctest -R "${sel#R:}" ;;
      *) echo "bad test selector '$sel' (L:<label> or R:<regex>)" >&2; exit 2 ;;
    esac
  done
fi

shopt -s nullglob
found=("$reports"/report*)
if [[ ${#found[@]} -gt 0 ]]; then
  echo "== ${#found[@]} sanitizer report file(s) in $reports ==" >&2
  for f in "${found[@]}"; do
    echo "---- $f" >&2
    head -c 20000 "$f" >&2
  done
  status=1
fi
if [[ $status == 0 ]]; then
  echo "== $kind: all selected tests passed, no sanitizer reports =="
fi
exit $status
