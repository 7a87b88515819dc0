#!/usr/bin/env bash
# tests/fuzz/run.sh [BUILD_DIR] [SECONDS] [HARNESS...]: `make fuzz`. Configures BUILD_DIR
# (default build-fuzz) with clang and -fsanitize=fuzzer,address,undefined, builds the harnesses of
# tests/fuzz/, runs each for SECONDS (default 60) on a working copy of its committed corpus and
# regression inputs, and prints the executions each survived. New inputs libFuzzer finds stay in
# BUILD_DIR/corpus/<harness>; a crashing input is written to BUILD_DIR/artifacts/<harness>/ and
# makes the exit status 1. Runs at nice 10 so that it does not starve other work.
#
# Environment: FUZZ_JOBS (parallel build jobs, default nproc), FUZZ_FLAGS (extra libFuzzer flags).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
HARNESSES=("$@")
if [[ ${#HARNESSES[@]} == 0 ]]; then
  HARNESSES=(otlp_wire otlp_json http_target search_params gzip lz4_frame wire_traces span_columns)
fi
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD

for tool in clang clang++; do
  command -v $tool >/dev/null || { echo "fuzz: $tool is missing; run 'make deps'" >&2; exit 2; }
done

SANITIZE="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
SANITIZE+=" -fsanitize-ignorelist=$ROOT/tests/fuzz/ubsan_ignorelist.txt"
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
COMPILERS=()
[[ -f $BUILD/CMakeCache.txt ]] || COMPILERS=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "${COMPILERS[@]}" \
  "${LAUNCHER[@]}" -DCMAKE_CXX_FLAGS="$SANITIZE -fno-omit-frame-pointer -gline-tables-only" \
  -DTAILTRACE_FUZZ=ON -DTAILTRACE_BUILD_UI=OFF -DTAILTRACE_JEMALLOC=OFF >/dev/null || exit 2
TARGETS=()
for h in "${HARNESSES[@]}"; do TARGETS+=("fuzz_$h"); done
nice -n 10 cmake --build "$BUILD" -j "${FUZZ_JOBS:-$(nproc)}" --target "${TARGETS[@]}" || exit 2

status=0
declare -A EXECS RESULT
for h in "${HARNESSES[@]}"; do
  work=$BUILD/corpus/$h
  artifacts=$BUILD/artifacts/$h/
  mkdir -p "$work" "$artifacts"
  log=$BUILD/fuzz_$h.log
  echo "fuzz: $h for ${SECONDS_EACH}s (log: $log)"
  seeds=("$ROOT/tests/fuzz/corpus/$h")
  [[ -d $ROOT/tests/fuzz/regressions/$h ]] && seeds+=("$ROOT/tests/fuzz/regressions/$h")
  # shellcheck disable=SC2086
  nice -n 10 "$BUILD/tests/fuzz/fuzz_$h" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" ${FUZZ_FLAGS:-} \
    "$work" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  [[ -n $execs ]] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  EXECS[$h]=${execs:-?}
  if [[ $rc == 0 ]]; then
    RESULT[$h]=ok
  else
    RESULT[$h]="FAILED (exit $rc; see $log and $artifacts)"
    status=1
  fi
done

printf '\n%-15s %15s  %s\n' harness executions result
for h in "${HARNESSES[@]}"; do
  printf '%-15s %15s  %s\n' "$h" "${EXECS[$h]}" "${RESULT[$h]}"
done
exit $status
