"""`xfer step --device cuda` against PyTorch: runs the engine's tests/nn/test_step_vs_torch.py
unchanged (same models, batches, 3 SGD steps, and the same bound: per tensor, xfer's error against
torch float64 within FACTOR x torch float32's error + FLOOR) with its xfer command switched from
--device cpu to --device cuda. Prints "skipped: no CUDA device" and exits 77 where `xfer info` lists no CUDA device."""
import os
import runpy
import subprocess
import sys

info = subprocess.run([os.environ["XFER"], "info"], capture_output=True, text=True).stdout
if "CUDA devices: none" in info or "backends: cpu\n" in info or "CUDA devices" not in info:
    print("skipped: no CUDA device")
    sys.exit(77)

script = os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "nn", "test_step_vs_torch.py")
_run = subprocess.run


def run_on_cuda(cmd, *args, **kwargs):
    if isinstance(cmd, list) and "step" in cmd and "--device" in cmd:
        i = cmd.index("--device")
        cmd = cmd[:i + 1] + ["cuda"] + cmd[i + 2:]
    return _run(cmd, *args, **kwargs)


subprocess.run = run_on_cuda
sys.argv = [script] + sys.argv[1:]
runpy.run_path(script, run_name="__main__")  # exits with the script's status
