#!/usr/bin/env bash
# scripts/fuzz_smoke.sh [SECONDS] — runs every libFuzzer target (tests/fuzz/fuzz_*.c) for SECONDS
# each (default 30) through scripts/fuzz.sh (clang, ASan + UBSan, seeds from tests/fuzz/corpus/),
# and replays every file of tests/fuzz/regressions/<target>/ through its target. Fails on any crash,
# leak or sanitizer report; prints one line per target with its executions. The *_raw targets
# (raw-byte HDF5 mutation, which finds crashes inside libhdf5 1.10 itself — docs/reliability.md)
# are fuzzed only with XFER_FUZZ_RAW=1; their regression files are always replayed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
command -v clang >/dev/null || { echo "fuzz_smoke: clang not found" >&2; exit 1; }
failed=()
for t in $(scripts/fuzz.sh --list); do
  fuzz=1
  case "$t" in *_raw) [ "${XFER_FUZZ_RAW:-0}" = 1 ] || fuzz=0 ;; esac
  if [ $fuzz = 1 ]; then
    if ! out=$(scripts/fuzz.sh "$t" "$secs" 2>&1); then
      echo "$out" | tail -40
      failed+=("$t")
      continue
    fi
    runs=$(echo "$out" | sed -n 's/.*number_of_executed_units: *//p' | tail -1)
    echo "fuzz_smoke: $t ${secs}s ${runs:-?} runs clean"
  else
    echo "fuzz_smoke: $t not fuzzed (XFER_FUZZ_RAW=1 fuzzes it)"
  fi
  if [ -d "tests/fuzz/regressions/$t" ]; then
    cmake --build build-fuzz -j2 --target "fuzz_$t" >>build-fuzz.log 2>&1 || { failed+=("$t(build)"); continue; }
    log=$(mktemp)
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       "./build-fuzz/tests/fuzz/fuzz_$t" -runs=1 "tests/fuzz/regressions/$t"/* >"$log" 2>&1; then
      echo "fuzz_smoke: $t regressions ($(ls "tests/fuzz/regressions/$t" | wc -l) files) clean"
    else
      tail -40 "$log"; failed+=("$t(regressions)")
    fi
    rm -f "$log"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz_smoke: FAILED: ${failed[*]}"; exit 1; fi
echo "fuzz_smoke: all targets clean"
