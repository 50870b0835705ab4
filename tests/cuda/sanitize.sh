#!/bin/sh
# sanitize.sh TOOL BINARY: runs BINARY under compute-sanitizer --tool TOOL (memcheck, racecheck,
# initcheck) when XFER_CUDA_SANITIZER names the compute-sanitizer executable; exit 77 (skipped)
# otherwise, and also (with the reason) when compute-sanitizer cannot attach to the device (it
# refuses some virtualised GPUs) -- a skip gpu-check.sh counts and reports, never a pass.
# initcheck is limited to the project's own kernels (names k_*, kernels/*.cu): cuDNN and cuBLAS
# kernels read workspace they did not write by design.
tool=$1
bin=$2
if [ -z "${XFER_CUDA_SANITIZER:-}" ]; then
  echo "skipped: XFER_CUDA_SANITIZER not set (scripts/gpu-check.sh sets it)"
  exit 77
fi
filter=""
[ "$tool" = initcheck ] && filter="--kernel-name kns=k_"
out=$(mktemp)
"$XFER_CUDA_SANITIZER" --tool "$tool" $filter --error-exitcode 99 "$bin" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ] && ! grep -qE "ERROR SUMMARY: [1-9]" "$out" &&
   grep -qiE "device not supported|not supported on this|unable to (attach|connect|initiali)|failed to (attach|initiali)|insufficient permission|ERR_NVGPUCTRPERM" "$out"; then
  rm -f "$out"
  echo "skipped: compute-sanitizer cannot attach to this device (see its message above)"
  exit 77
fi
rm -f "$out"
exit $rc
