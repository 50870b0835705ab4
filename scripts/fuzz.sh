#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS — builds the libFuzzer target tests/fuzz/fuzz_TARGET.c (clang,
# ASan + UBSan) in build-fuzz/ and runs it for SECONDS from a copy of its seed corpus. Exits
# non-zero on any crash, leak or sanitizer report; the reproducer lands in tests/fuzz/crashes/.
# scripts/fuzz.sh --list prints the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--list" ]; then
  ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'; exit 0
fi
[ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS | --list" >&2; exit 2; }
t=$1; secs=$2
[ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz: no target tests/fuzz/fuzz_$t.c" >&2; exit 2; }
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXFER_CUDA=OFF \
    -DXFER_FUZZ=ON -DBUILD_TESTING=ON >build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
fi
cmake --build build-fuzz -j2 --target "fuzz_$t" >>build-fuzz.log 2>&1 || { tail -40 build-fuzz.log; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" tests/fuzz/crashes
[ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TMPDIR="$work" # the targets' temp files go with the work dir, even after a crash
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "fuzz: $t for ${secs}s"
"./build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="tests/fuzz/crashes/$t-" -print_final_stats=1 "$work/corpus" 2>"$work/log" \
  || { tail -60 "$work/log"; echo "fuzz: $t FAILED"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$work/log" | tail -2
echo "fuzz: $t clean"
