#!/usr/bin/env bash
# The one prepared script for a visit to the GPU machine (Ubuntu 24.04, CUDA 13, cuDNN 9; no
# libyaml or cJSON there, no network). Run from the repository root with .device-deps/ carried
# along (scripts/fetch-device-deps.sh makes it). Builds, runs the ctest label `gpu`, runs
# compute-sanitizer on a subset, and prints a summary table last. Full logs go to $OUT (or /tmp).
set -uo pipefail
LOG=${OUT:-/tmp/xfer-gpu-check}
mkdir -p "$LOG"
PREFIX=/tmp/xfer-deps
mkdir -p "$PREFIX"
for d in .device-deps/*.deb; do dpkg -x "$d" "$PREFIX"; done
export PKG_CONFIG_PATH="$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
# Debian's .pc files name /usr as prefix: point them at the unpacked tree.
for pc in "$PREFIX"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
  sed -i "s|^prefix=/usr|prefix=$PREFIX/usr|" "$pc"
done
CMAKE=$(command -v cmake || echo /opt/torch/.venv/bin/cmake)
declare -A result
t0=$(date +%s)
if "$CMAKE" -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX/usr" \
     -DCMAKE_CUDA_ARCHITECTURES=90 -DXFER_PYTHON="$(command -v python3)" >"$LOG/configure.log" 2>&1 &&
   "$CMAKE" --build build-gpu -j16 >"$LOG/build.log" 2>&1; then
  result[build]="ok ($(( $(date +%s) - t0 ))s)"
else
  result[build]="FAILED (see build.log)"; tail -40 "$LOG/build.log" "$LOG/configure.log"
fi
./build-gpu/xfer info >"$LOG/info.log" 2>&1; cat "$LOG/info.log"
if [ -x build-gpu/xfer ]; then
  ctest --test-dir build-gpu -L gpu --output-on-failure >"$LOG/ctest-gpu.log" 2>&1
  result[gpu-tests]=$(grep -E "tests passed|tests failed" "$LOG/ctest-gpu.log" | tail -1)
  if command -v compute-sanitizer >/dev/null || [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
    CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    XFER_CUDA_SANITIZER="$CS" ctest --test-dir build-gpu -L gpu_sanitize --output-on-failure \
      >"$LOG/sanitizer.log" 2>&1
    result[sanitizer]=$(grep -E "tests passed|tests failed|No tests" "$LOG/sanitizer.log" | tail -1)
  fi
fi
echo
echo "== gpu-check summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)) =="
for k in build gpu-tests sanitizer; do printf "%-12s %s\n" "$k" "${result[$k]:-not run}"; done
