#!/usr/bin/env bash
# scripts/fuzz_smoke.sh [SECONDS] — runs every libFuzzer target (tests/fuzz/fuzz_*.c) for SECONDS
# each (default 30) through scripts/fuzz.sh (clang, ASan + UBSan, seeds from tests/fuzz/corpus/),
# then replays tests/fuzz/regressions/<target>/* through its target. Fails on any crash, leak or
# sanitizer report; prints one line per target with its executions.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
command -v clang >/dev/null || { echo "fuzz_smoke: clang not found" >&2; exit 1; }
failed=()
for t in $(scripts/fuzz.sh --list); do
  if ! out=$(scripts/fuzz.sh "$t" "$secs" 2>&1); then
    echo "$out" | tail -40
    failed+=("$t")
    continue
  fi
  runs=$(echo "$out" | sed -n 's/.*number_of_executed_units: *//p' | tail -1)
  echo "fuzz_smoke: $t ${secs}s ${runs:-?} runs clean"
  if [ -d "tests/fuzz/regressions/$t" ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    if ! "./build-fuzz/tests/fuzz/fuzz_$t" -runs=1 tests/fuzz/regressions/$t/* >/tmp/fuzz_smoke.$$ 2>&1; then
      tail -40 /tmp/fuzz_smoke.$$; failed+=("$t(regressions)")
    fi
    rm -f /tmp/fuzz_smoke.$$
  fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz_smoke: FAILED: ${failed[*]}"; exit 1; fi
echo "fuzz_smoke: all targets clean"
