#!/usr/bin/env bash
# The one prepared script for a visit to the GPU machine (Ubuntu 24.04, CUDA 13, cuDNN 9; no
# libyaml or cJSON there, no network). Run from the repository root with .device-deps/ carried
# along (scripts/fetch-device-deps.sh makes it on the development machine):
#   bash scripts/gpu-check.sh            # all phases, about 4-6 minutes on an H100/H200
# Phases (each time-limited so the whole stays under 8 minutes): unpack the .debs into a prefix,
# configure (CMAKE_CUDA_ARCHITECTURES=90) and build (-j$XFER_JOBS, default 16), `ctest -L ^gpu$`
# (CUDA vs CPU, and `xfer step --device cuda` vs PyTorch), the CPU suite, compute-sanitizer
# memcheck + racecheck on the gpu_sanitize subset, throughput (`xfer bench --device cuda` in fp32,
# tests/cuda/bench_cuda for resnet18/alexnet x batch 64/256 x fp32/tf32/bf16). Full logs go to $OUT (or /tmp/xfer-gpu-check); a summary table is printed LAST.
# Skip phases with XFER_GPU_CHECK_SKIP="sanitizer bench" (space-separated phase names).
set -uo pipefail
LOG=${OUT:-/tmp/xfer-gpu-check}
mkdir -p "$LOG"
JOBS=${XFER_JOBS:-16}
SKIP=" ${XFER_GPU_CHECK_SKIP:-} "
BUILD=${XFER_GPU_BUILD:-build-gpu}
T_START=$(date +%s)
declare -A result
order=()
put() { result[$1]=$2; order+=("$1"); }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---- dependencies the GPU machine lacks: unpack the Debian packages into a prefix ----------
PREFIX=/tmp/xfer-deps
rm -rf "$PREFIX" && mkdir -p "$PREFIX"
n_deb=0
for d in .device-deps/*.deb; do
  [ -e "$d" ] || continue
  dpkg -x "$d" "$PREFIX" && n_deb=$((n_deb + 1))
done
# Debian's .pc files name /usr (libyaml: prefix=/usr; cJSON: absolute libdir/includedir)
for pc in "$PREFIX"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
  [ -e "$pc" ] || continue
  sed -i -E "s#^(prefix|exec_prefix|libdir|includedir)=/usr#\1=$PREFIX/usr#" "$pc"
done
export PKG_CONFIG_PATH="$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
put deps "$n_deb .deb unpacked into $PREFIX"

CMAKE=$(command -v cmake || echo /opt/torch/.venv/bin/cmake)
CTEST=$(dirname "$CMAKE")/ctest
[ -x "$CTEST" ] || CTEST=$(command -v ctest || echo ctest)
# the Python with torch and numpy (the GPU machine: python3 = /opt/torch/.venv; here /usr/bin)
PY=/usr/bin/python3
for p in "$(command -v python3)" /opt/torch/.venv/bin/python3 /usr/bin/python3; do
  if [ -x "$p" ] && "$p" -c "import torch, numpy" >/dev/null 2>&1; then PY=$p; break; fi
done

# ---- configure + build ------------------------------------------------------------------------
t0=$(date +%s)
configure() {
  timeout 120 "$CMAKE" -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX/usr" -DCMAKE_CUDA_ARCHITECTURES=90 -DXFER_PYTHON="$PY" \
    >"$LOG/configure.log" 2>&1
}
# a stale cache (other prefix, other machine) fails the configure: retry once from scratch
configure || { rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"; configure; }
cfg_rc=$?
if [ $cfg_rc -eq 0 ] &&
   timeout 240 "$CMAKE" --build "$BUILD" -j"$JOBS" >"$LOG/build.log" 2>&1; then
  put build "ok ($(elapsed $t0), $(grep -c 'warning' "$LOG/build.log") warning lines)"
else
  put build "FAILED after $(elapsed $t0) (configure.log, build.log)"
  tail -n 30 "$LOG/configure.log" "$LOG/build.log" 2>/dev/null
fi
grep -E "xfer: CUDA backend" "$LOG/configure.log" | tail -1
XFER_BIN="$BUILD/xfer"
if [ -x "$XFER_BIN" ]; then
  "$XFER_BIN" info >"$LOG/info.log" 2>&1
  cat "$LOG/info.log"
  put info "$(grep -E '^CUDA devices' "$LOG/info.log" | head -1)"
fi
nvidia-smi >"$LOG/nvidia-smi.log" 2>&1

# ---- CUDA vs CPU tests ------------------------------------------------------------------------
[ "${result[build]:0:2}" = ok ] || XFER_BIN=/nonexistent # never test a stale binary
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" tests "* ]]; then
  t0=$(date +%s)
  timeout 240 "$CTEST" --test-dir "$BUILD" -L '^gpu$' -j4 --timeout 200 --output-on-failure \
    >"$LOG/ctest-gpu.log" 2>&1
  put gpu-tests "$(grep -E 'tests passed|tests failed' "$LOG/ctest-gpu.log" | tail -1) ($(elapsed $t0))"
  grep -E "\*\*\*(Failed|Timeout|Exception)" "$LOG/ctest-gpu.log" | head -20
  # the CPU suite too (it must stay green on this machine as well), briefly
  timeout 120 "$CTEST" --test-dir "$BUILD" -LE 'gpu' -j8 --timeout 100 >"$LOG/ctest-cpu.log" 2>&1
  put cpu-tests "$(grep -E 'tests passed|tests failed' "$LOG/ctest-cpu.log" | tail -1)"
fi

# ---- compute-sanitizer on the small subset -----------------------------------------------------
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" sanitizer "* ]]; then
  if [ -x "$CS" ]; then
    t0=$(date +%s)
    XFER_CUDA_SANITIZER="$CS" timeout 200 "$CTEST" --test-dir "$BUILD" -L gpu_sanitize -j6 \
      --timeout 180 --output-on-failure >"$LOG/sanitizer.log" 2>&1
    put sanitizer "$(grep -E 'tests passed|tests failed|No tests' "$LOG/sanitizer.log" | tail -1) ($(elapsed $t0))"
  else
    put sanitizer "compute-sanitizer not found"
  fi
fi

# ---- throughput -------------------------------------------------------------------------------
# `xfer bench` (the engine's CLI; fp32 only until it takes a precision) and bench_cuda for the
# precision grid (xfer_cuda_set_precision).
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" bench "* ]]; then
  t0=$(date +%s)
  : >"$LOG/bench.log"
  for cfg in "resnet18 64" "alexnet 64"; do
    set -- $cfg
    echo "== xfer bench --device cuda --arch $1 --batch $2 (fp32)" >>"$LOG/bench.log"
    timeout 60 "$XFER_BIN" bench --device cuda --arch "$1" --batch "$2" --classes 102 \
      --steps 5 --warmup 2 >>"$LOG/bench.log" 2>&1 || echo "xfer bench failed ($?)" >>"$LOG/bench.log"
  done
  for cfg in "resnet18 64" "resnet18 256" "alexnet 64" "alexnet 256"; do
    set -- $cfg
    for p in fp32 tf32 bf16; do
      timeout 60 "$BUILD/tests/cuda/bench_cuda" "$1" "$2" "$p" 10 >>"$LOG/bench.log" 2>&1
      [ $(( $(date +%s) - T_START )) -gt 420 ] && break 2 # keep the visit under 8 minutes
    done
  done
  put bench "$(grep -c '^bench ' "$LOG/bench.log") bench_cuda lines ($(elapsed $t0))"
fi

echo
echo "== gpu-check summary: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1), $(date -u +%Y-%m-%dT%H:%MZ), total $(elapsed $T_START) =="
for k in "${order[@]}"; do printf "%-10s %s\n" "$k" "${result[$k]}"; done
if [ -s "$LOG/bench.log" ]; then
  echo "-- throughput (img/s, 224x224, 102 classes, SGD; median of 5) --"
  grep -E "^bench|bench .*:|img/s|failed" "$LOG/bench.log"
fi
echo "logs: $LOG"
