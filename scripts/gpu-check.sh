#!/usr/bin/env bash
# The one prepared script for a visit to the GPU machine (Ubuntu 24.04, CUDA 13, cuDNN 9; no
# libyaml or cJSON there, no network). Run from the repository root with .device-deps/ carried
# along (scripts/fetch-device-deps.sh makes it on the development machine):
#   bash scripts/gpu-check.sh            # all phases, about 4-6 minutes on an H100/H200
# Phases (each time-limited so the whole stays under 8 minutes): unpack the .debs into a prefix,
# configure (CMAKE_CUDA_ARCHITECTURES=90) and build (-j$XFER_JOBS, default 16), `ctest -L ^gpu$`
# (CUDA vs CPU, and `xfer step --device cuda` vs PyTorch), the CPU suite, compute-sanitizer
# memcheck + racecheck on the gpu_sanitize subset, throughput (`xfer bench --device cuda` for
# resnet18/alexnet x batch 64/256 x fp32/tf32/bf16), scripts/bench_vs_torch.py (PyTorch vs xfer,
# its table printed last), and with XFER_GPU_CHECK_E2E=1 scripts/e2e_vs_torch.py (the paper's
# sweep shape end to end; a second call). Full logs go to $OUT (or /tmp/xfer-gpu-check).
# Skip phases with XFER_GPU_CHECK_SKIP="tests emu cpu sanitizer bench torch" (space-separated
# names; "tests" also skips the CPU suite and the rehearsal's emulator suite). XFER_GPU_CHECK_NO_BUILD=1 uses $XFER_GPU_BUILD as it is (no
# configure, no build; the backend is what its `xfer info` says).
#
# The verdict (last line, and the exit status) is PASS only when the CUDA backend was built, a
# device is visible, and the gpu tests ran with none failed and NONE SKIPPED (a CPU-only build
# skips every gpu test with exit 77, which ctest counts as passed). The summary table is printed
# last. XFER_GPU_CHECK_REHEARSE=1 (the development machine, no GPU): the kernel emulator stands in
# (`ctest -L kernel_emu`, built here), the phases that need the device say so in the table and
# check what they can without it (the `xfer bench` command line on the CPU, bench_vs_torch.py's
# arguments), every time limit is multiplied by XFER_GPU_CHECK_TIME_SCALE (default 6 there: 2
# cores instead of 16), and the verdict must still be FAIL (no device). tests/cli's
# gpu_check_verdict and CI stage 2 check that a build without a device or without the CUDA
# backend FAILs.
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
fails=()
fail() { fails+=("$1"); }
REHEARSE=${XFER_GPU_CHECK_REHEARSE:-0}
NO_BUILD=${XFER_GPU_CHECK_NO_BUILD:-0}
TS=${XFER_GPU_CHECK_TIME_SCALE:-$([ "$REHEARSE" = 1 ] && echo 6 || echo 1)}
lim() { echo $(($1 * TS)); } # a phase's time limit, scaled
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---- dependencies the GPU machine lacks: unpack the Debian packages into a prefix ----------
PREFIX=${XFER_GPU_DEPS_PREFIX:-/tmp/xfer-deps}
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
  timeout "$(lim 120)" "$CMAKE" -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX/usr" -DCMAKE_CUDA_ARCHITECTURES="${XFER_GPU_ARCH:-90}" \
    -DXFER_PYTHON="$PY" -DXFER_KERNEL_EMU=$([ "$REHEARSE" = 1 ] && echo ON || echo OFF) \
    ${XFER_GPU_CHECK_CMAKE_ARGS:-} >"$LOG/configure.log" 2>&1
}
if [ "$NO_BUILD" = 1 ]; then
  : >"$LOG/configure.log"
  if [ -x "$BUILD/xfer" ]; then put build "ok (not rebuilt: XFER_GPU_CHECK_NO_BUILD=1)"
  else put build "FAILED: no $BUILD/xfer (XFER_GPU_CHECK_NO_BUILD=1)"; fi
else
  # a stale cache (other prefix, other machine) fails the configure: retry once from scratch
  configure || { rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"; configure; }
  cfg_rc=$?
  if [ $cfg_rc -eq 0 ] &&
     timeout "$(lim 240)" "$CMAKE" --build "$BUILD" -j"$JOBS" >"$LOG/build.log" 2>&1; then
    put build "ok ($(elapsed $t0), $(grep -c 'warning' "$LOG/build.log") warning lines)"
  else
    put build "FAILED after $(elapsed $t0) (configure.log, build.log)"
    tail -n 30 "$LOG/configure.log" "$LOG/build.log" 2>/dev/null
  fi
fi
XFER_BIN="$BUILD/xfer"
[ -x "$XFER_BIN" ] && "$XFER_BIN" info >"$LOG/info.log" 2>&1
# the backend: what configure said, and what the binary says it has (both must say CUDA)
backend=$(grep -E "xfer: CUDA backend" "$LOG/configure.log" | tail -1 | sed 's/.*xfer: //')
backends=$(grep -E '^backends:' "$LOG/info.log" 2>/dev/null | head -1 | sed 's/^backends: *//')
put backend "${backend:-configure not run} (xfer info: ${backends:-no xfer binary})"
if [ "$NO_BUILD" != 1 ] && [ "$backend" != "CUDA backend ON" ]; then
  fail "the CUDA backend is not built (configure: ${backend:-no answer, configure.log})"
elif [[ ", $backends, " != *", cuda, "* ]]; then
  fail "the CUDA backend is not built (xfer info: backends: ${backends:-none})"
fi
if [ -x "$XFER_BIN" ]; then
  cat "$LOG/info.log"
  put device "$(grep -E '^CUDA devices' "$LOG/info.log" | head -1)"
  grep -qE '^CUDA devices: [1-9]' "$LOG/info.log" || fail "no CUDA device visible"
else
  fail "no xfer binary"
fi
nvidia-smi >"$LOG/nvidia-smi.log" 2>&1

# ---- CUDA vs CPU tests ------------------------------------------------------------------------
[ "${result[build]:0:2}" = ok ] || XFER_BIN=/nonexistent # never test a stale binary
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" tests "* ]]; then
  t0=$(date +%s)
  timeout "$(lim 240)" "$CTEST" --test-dir "$BUILD" -L '^gpu$' -j4 --timeout "$(lim 200)" \
    --output-on-failure \
    >"$LOG/ctest-gpu.log" 2>&1
  gpu_rc=$?
  n_skip=$(grep -cE "\*\*\*Skipped|Not Run" "$LOG/ctest-gpu.log")
  n_run=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#" "$LOG/ctest-gpu.log")
  put gpu-tests "$(grep -E 'tests passed|tests failed' "$LOG/ctest-gpu.log" | tail -1), $n_skip skipped ($(elapsed $t0))"
  grep -E "\*\*\*(Failed|Timeout|Exception)" "$LOG/ctest-gpu.log" | head -20
  # the comparisons the visit is for, one line each: xfer step vs torch, the mini sweep CUDA vs CPU
  for t in cuda_step_vs_torch_alexnet cuda_step_vs_torch_resnet18 cuda_run_vs_cpu cuda_ops cuda_model; do
    st=$(grep -E "Test +#[0-9]+: $t " "$LOG/ctest-gpu.log" | head -1 | sed -E 's/.*: [^ ]+ \.*\**//')
    put "${t#cuda_}" "${st:-not run}"
  done
  [ $gpu_rc -eq 0 ] || fail "gpu tests failed (ctest-gpu.log)"
  [ "$n_run" -gt 0 ] || fail "no gpu test ran"
  [ "$n_skip" -eq 0 ] || fail "$n_skip gpu test(s) skipped"
  if [ "$REHEARSE" = 1 ] && [[ $SKIP != *" emu "* ]]; then # the emulator stands in here
    t0=$(date +%s)
    timeout "$(lim 300)" "$CTEST" --test-dir "$BUILD" -L kernel_emu -j"$JOBS" --output-on-failure \
      >"$LOG/ctest-emu.log" 2>&1 || fail "kernel emulator tests failed (ctest-emu.log)"
    put emulator "$(grep -E 'tests passed|tests failed' "$LOG/ctest-emu.log" | tail -1) ($(elapsed $t0))"
  fi
fi
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" tests "* ]] && [[ $SKIP != *" cpu "* ]]; then
  # the CPU suite too (it must stay green on this machine as well), briefly; the emulator's
  # tests ran above (rehearsal) or are not built (the GPU machine)
  timeout "$(lim 120)" "$CTEST" --test-dir "$BUILD" -LE 'gpu|kernel_emu' -j8 \
    --timeout "$(lim 100)" >"$LOG/ctest-cpu.log" 2>&1
  cpu_sum=$(grep -E 'tests passed|tests failed' "$LOG/ctest-cpu.log" | tail -1)
  put cpu-tests "${cpu_sum:-no summary: timed out after $(lim 120) s (ctest-cpu.log)}"
fi

# ---- compute-sanitizer on the small subset -----------------------------------------------------
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
cs_note=""
if [ "$REHEARSE" = 1 ] && [ ! -x "$CS" ]; then
  # no compute-sanitizer here: a pass-through stand-in, so the label, tests/cuda/sanitize.sh and
  # this phase's bookkeeping run (each test then skips: no device)
  CS="$LOG/compute-sanitizer-stand-in"
  printf '%s\n' '#!/bin/sh' 'while [ $# -gt 0 ]; do case $1 in' \
    '  --tool|--kernel-name|--error-exitcode) shift 2 ;;' '  *) break ;; esac; done' \
    'exec "$@"' >"$CS"
  chmod +x "$CS"
  cs_note="; rehearsal: a pass-through stand-in for compute-sanitizer, no device to attach to"
fi
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" sanitizer "* ]]; then
  if [ -x "$CS" ]; then
    t0=$(date +%s)
    XFER_CUDA_SANITIZER="$CS" timeout "$(lim 200)" "$CTEST" --test-dir "$BUILD" -L gpu_sanitize \
      -j6 --timeout "$(lim 180)" --output-on-failure >"$LOG/sanitizer.log" 2>&1
    put sanitizer "$(grep -E 'tests passed|tests failed|No tests' "$LOG/sanitizer.log" | tail -1), $(grep -cE '\*\*\*Skipped' "$LOG/sanitizer.log") skipped ($(elapsed $t0))"
    result[sanitizer]="${result[sanitizer]}$cs_note"

  else
    put sanitizer "compute-sanitizer not found"
  fi
fi

# ---- throughput -------------------------------------------------------------------------------
# `xfer bench --device cuda` over the precision grid (CUDA events), then scripts/bench_vs_torch.py
# (PyTorch eager vs xfer on the same shapes; its table is printed at the very end), then, only
# with XFER_GPU_CHECK_E2E=1 (it needs ~5-8 minutes: run it as a second call on the warm machine,
# e.g. XFER_GPU_CHECK_NO_BUILD=1 XFER_GPU_CHECK_SKIP="tests sanitizer bench torch"
# XFER_GPU_CHECK_E2E=1), the end-to-end
# sweep scripts/e2e_vs_torch.py.
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" bench "* ]] && [ "$REHEARSE" = 1 ]; then
  # no device: the grid's command line and output format once on the CPU, tiny
  t0=$(date +%s)
  timeout "$(lim 60)" "$XFER_BIN" bench --device cpu --arch alexnet --batch 2 --size 64 \
    --precision fp32 --classes 102 --steps 1 --warmup 0 >"$LOG/bench.log" 2>&1 ||
    echo "xfer bench (cpu) failed ($?)" >>"$LOG/bench.log"
  put bench "rehearsal: the device grid needs a GPU (skipped); its command line on the CPU: $(grep -c '^bench: ' "$LOG/bench.log") row ($(elapsed $t0))"
  grep -q '^bench: ' "$LOG/bench.log" || fail "xfer bench (cpu) printed no 'bench:' row (bench.log)"
elif [ -x "$XFER_BIN" ] && [[ $SKIP != *" bench "* ]]; then
  t0=$(date +%s)
  : >"$LOG/bench.log"
  for cfg in "resnet18 64" "resnet18 256" "alexnet 64" "alexnet 256"; do
    set -- $cfg
    for p in fp32 tf32 bf16; do
      timeout 60 "$XFER_BIN" bench --device cuda --arch "$1" --batch "$2" --precision "$p" \
        --classes 102 --steps 10 --warmup 3 >>"$LOG/bench.log" 2>&1 ||
        echo "xfer bench $1 $2 $p failed ($?)" >>"$LOG/bench.log"
      [ $(( $(date +%s) - T_START )) -gt 400 ] && break 2 # keep the visit within its budget
    done
  done
  put bench "$(grep -c '^bench: ' "$LOG/bench.log") xfer bench rows ($(elapsed $t0))"
fi
if [ -x "$XFER_BIN" ] && [[ $SKIP != *" torch "* ]] && [ "$REHEARSE" = 1 ]; then
  # no device: its arguments as this script passes them (it then exits 2: no CUDA device)
  XFER="$XFER_BIN" timeout "$(lim 60)" "$PY" scripts/bench_vs_torch.py --budget 60 --steps 10 \
    --warmup 3 ${XFER_GPU_CHECK_COMPILE:+--compile} >"$LOG/vs-torch.log" 2>&1
  rc=$?
  put vs-torch "rehearsal: needs a GPU (skipped); exit $rc: $(tail -1 "$LOG/vs-torch.log")"
  [ $rc -eq 2 ] && grep -q "no CUDA device" "$LOG/vs-torch.log" ||
    fail "bench_vs_torch.py did not stop at the device check (vs-torch.log)"
  : >"$LOG/vs-torch.log" # no table to print
elif [ -x "$XFER_BIN" ] && [[ $SKIP != *" torch "* ]]; then
  t0=$(date +%s)
  left=$(( 540 - ($(date +%s) - T_START) ))
  [ $left -lt 60 ] && left=60
  XFER="$XFER_BIN" timeout $((left + 30)) "$PY" scripts/bench_vs_torch.py --budget "$left" \
    --steps 10 --warmup 3 ${XFER_GPU_CHECK_COMPILE:+--compile} >"$LOG/vs-torch.log" 2>&1
  put vs-torch "exit $? ($(elapsed $t0)); $(tail -1 "$LOG/vs-torch.log")"
fi
if [ "$REHEARSE" = 1 ]; then
  put e2e "rehearsal: not run (needs a GPU and ~5-8 min: XFER_GPU_CHECK_E2E=1 on the device)"
elif [ -x "$XFER_BIN" ] && [ "${XFER_GPU_CHECK_E2E:-0}" = 1 ]; then
  t0=$(date +%s)
  XFER="$XFER_BIN" timeout 560 "$PY" scripts/e2e_vs_torch.py --xfer-epochs "${XFER_E2E_EPOCHS:-30}" \
    --torch-runs 2 --torch-epochs "${XFER_E2E_TORCH_EPOCHS:-2}" >"$LOG/e2e.log" 2>&1
  put e2e "exit $? ($(elapsed $t0)); see e2e.log"
fi

echo
if [ -s "$LOG/bench.log" ] && [ "$REHEARSE" = 1 ]; then
  echo "-- xfer bench (rehearsal: the grid's command line once on the CPU, alexnet 64x64 batch 2) --"
  grep -E "^bench: |failed" "$LOG/bench.log"
elif [ -s "$LOG/bench.log" ]; then
  echo "-- xfer bench (img/s, 224x224, 102 classes, SGD; median of 10, CUDA events) --"
  grep -E "^bench: |failed" "$LOG/bench.log"
fi
[ -s "$LOG/e2e.log" ] && sed -n '/^== e2e/,$p' "$LOG/e2e.log"
[ -s "$LOG/vs-torch.log" ] && sed -n '/^== xfer vs PyTorch/,$p' "$LOG/vs-torch.log"
echo "logs: $LOG"
# the short table, last
echo
echo "== gpu-check summary: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1), $(date -u +%Y-%m-%dT%H:%MZ), total $(elapsed $T_START) =="
for k in "${order[@]}"; do printf "%-22s %s\n" "$k" "${result[$k]}"; done
if [ ${#fails[@]} -eq 0 ]; then
  printf "%-22s %s\n" verdict PASS
  exit 0
fi
for f in "${fails[@]}"; do printf "%-22s FAIL: %s\n" verdict "$f"; done
exit 1
