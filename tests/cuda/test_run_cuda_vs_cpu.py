"""A short fine-tune (synthetic data, 3 epochs) with `xfer run --device cuda` against the CPU
backend: the accuracy curves agree within float-reordering noise, the scores closely, and both
runs complete. Skips (exit 77) where no CUDA device is usable."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

XFER = os.environ["XFER"]
info = subprocess.run([XFER, "info"], capture_output=True, text=True).stdout
if "CUDA devices: none" in info or "backends: cpu, cuda" not in info:
    print("skipped: no CUDA device")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import check, finish  # noqa: E402

CONFIG = """
experiment: cuda_vs_cpu
seed: 5
output: {out}
precision: fp32
datasets:
  shapes:
    kind: synthetic
    synthetic: {{classes: 5, per_class: 60, size: 40, seed: 2}}
    image_size: 32
    cache_size: 40
sources:
  - name: untrained
    arch: resnet18
    width: 0.25
    weights: random
    classes: {classes}
target:
  dataset: shapes
  finetune:
    epochs: 3
    batch_size: 25
    optimizer: {{sgd: {{lr: 0.01, momentum: 0.9}}}}
scores: [softmax_max, leep, nce, logme, hscore]
"""

tmp = tempfile.mkdtemp(prefix="xfer-cuda-run-")
try:
    classes = os.path.join(tmp, "classes.txt")
    with open(classes, "w") as f:
        f.write("".join(f"c{i}\n" for i in range(10)))
    res = {}
    for dev in ["cpu", "cuda"]:
        out = os.path.join(tmp, dev, "results.h5")
        cfg = os.path.join(tmp, dev + ".yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(out=out, classes=classes))
        p = subprocess.run([XFER, "--device", dev, "run", cfg, "--no-plots", "--quiet"],
                           capture_output=True, text=True, timeout=500)
        check(p.returncode == 0, f"{dev} run exits 0: {p.returncode} {p.stderr[-2000:]}")
        with h5py.File(out, "r") as f:
            g = f["sources"]["untrained"]
            res[dev] = ({k: np.array(g["curve"][k]) for k in g["curve"]},
                        {k: float(g["scores"][k][()]) for k in g["scores"]}, f.attrs["device"])
    check(res["cuda"][2].startswith("cuda"), f"device attribute {res['cuda'][2]}")
    c_cpu, c_gpu = res["cpu"][0], res["cuda"][0]
    for k in ["train_loss", "test_loss"]:
        rel = np.max(np.abs(c_cpu[k] - c_gpu[k]) / np.maximum(np.abs(c_cpu[k]), 1e-6))
        check(rel < 2e-2, f"{k} CUDA vs CPU rel {rel:.3g}")
    for k in ["train_acc", "test_acc"]:
        d = np.max(np.abs(c_cpu[k] - c_gpu[k]))
        check(d <= 0.05, f"{k} CUDA vs CPU max diff {d:.3g}")
    for m, v in res["cpu"][1].items():
        g = res["cuda"][1][m]
        check(abs(g - v) <= 1e-3 * max(abs(v), 1e-9), f"score {m}: cpu {v} cuda {g}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
