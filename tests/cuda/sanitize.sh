#!/bin/sh
# sanitize.sh TOOL BINARY: runs BINARY under compute-sanitizer --tool TOOL (memcheck, racecheck, initcheck)
# when XFER_CUDA_SANITIZER names the compute-sanitizer executable; exit 77 (skipped) otherwise.
tool=$1
bin=$2
if [ -z "${XFER_CUDA_SANITIZER:-}" ]; then
  echo "skipped: XFER_CUDA_SANITIZER not set (scripts/gpu-check.sh sets it)"
  exit 77
fi
exec "$XFER_CUDA_SANITIZER" --tool "$tool" --error-exitcode 99 "$bin"
