"""configs/benchmark/ (docs/reproduce-benchmark.md): every config validates without its weights
(missing files are warnings), its sources are the 11 models of the shipped ground truth
(benchmark-finetune-acc.csv) with the benchmark's recipe, its target is a row of the file, and
`xfer report --ground-truth` on a score-only results file that carries the config (sources named
and built as it says, the `prior` baseline = each model's ImageNet top-1 from the config) gives
scipy.stats.weightedtau / kendalltau / spearmanr of prior against every dataset's row (1e-12);
the mean weighted tau over the 11 datasets is printed."""
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, xfer  # noqa: E402

TOOL = sys.argv[1]
SRC = os.environ["XFER_SOURCE_DIR"]
BENCH = os.path.join(SRC, "configs", "benchmark")
CSV = os.path.join(BENCH, "benchmark-finetune-acc.csv")
MODELS = ["resnet34", "resnet50", "resnet101", "resnet152", "densenet121", "densenet169",
          "densenet201", "mnasnet1_0", "mobilenet_v2", "googlenet", "inception_v3"]
MEAN_PER_CLASS = {"aircraft", "caltech101", "flowers", "pets"}  # the file's header says so

with open(CSV) as f:
    rows = [r for r in csv.reader(l for l in f if l.strip() and not l.startswith("#"))]
check(rows[0] == ["dataset"] + MODELS, f"ground truth header {rows[0]}")
acc = {r[0]: np.array([float(v) for v in r[1:]]) for r in rows[1:]}
check(len(acc) == 11 and all(len(v) == 11 for v in acc.values()), "11 datasets x 11 models")

configs = sorted(glob.glob(os.path.join(BENCH, "*.yaml")))
check(len(configs) >= 2 and os.path.join(BENCH, "caltech101.yaml") in configs,
      f"configs: {configs}")
tmp = tempfile.mkdtemp(prefix="xfer-bench-cfg-")
try:
    for cfg in configs:
        rc, so, se = xfer("validate", cfg, cwd=SRC)
        name = os.path.basename(cfg)
        check(rc == 0 and "ok: 1 dataset, 11 sources, 18 scores" in so,
              f"{name}: validates without the weights: {rc} {so} {se[-600:]}")
        check("weights file not found" in se, f"{name}: the missing weights are warnings")
        # the config as the runner reads it, through a results file that stores it
        with open(cfg) as f:
            text = f.read()
        res = os.path.join(tmp, name + ".h5")
        r = subprocess.run([TOOL, "write", res, "--config", text], capture_output=True, text=True)
        check(r.returncode == 0, "results_tool write: " + r.stderr)
        ds = os.path.splitext(name)[0]
        check(ds in acc, f"{name}: target {ds} is a row of the ground truth")
        check(("accuracy: mean_per_class" in text) == (ds in MEAN_PER_CLASS),
              f"{name}: accuracy as the benchmark reports {ds}")
        for key in ("nesterov: true", "momentum: 0.9", "schedule: cosine", "batch_size: 64",
                    "image_size: 224"):
            check(key in text, f"{name}: recipe has {key}")
        prior = {}
        for line in text.splitlines():
            s = line.strip()
            if s.startswith("- name:"):
                cur = s.split(":", 1)[1].strip()
            elif s.startswith("arch:"):
                check(s.split(":", 1)[1].strip() == cur, f"{name}: source {cur} named by its arch")
            elif s.startswith("prior:"):
                prior[cur] = float(s.split(":", 1)[1].split("#")[0])
        check(sorted(prior) == sorted(MODELS), f"{name}: the 11 models with a prior: {sorted(prior)}")
        with h5py.File(res, "r+") as f:
            src = f["sources"]
            old = sorted(src)
            src.copy(old[0], "extra")
            for i, (o, m) in enumerate(zip(old + ["extra"], MODELS)):
                src.move(o, m)
                g = src[m]
                g.attrs["arch"], g.attrs["status"] = m, "scored"
                del g["scores"]
                d = g.create_group("scores").create_dataset("prior", data=prior[m])
                d.attrs["seconds"], d.attrs["direction"], d.attrs["kind"] = 0.0, 1, "baseline"
            del f["correlations"], f["correlations_by_arch"]
        x = np.array([prior[m] for m in MODELS])
        wts = []
        for row, y in acc.items():
            rc, so, se = xfer("report", res, "--ground-truth", CSV, "--dataset", row, "--format",
                              "json")
            if not check(rc == 0, f"{name}: report against {row}: {se}"):
                continue
            c = json.loads(so)["correlations"]["prior"]
            want = (stats.weightedtau(x, y)[0], stats.kendalltau(x, y)[0], stats.spearmanr(x, y)[0])
            got = (c["weighted_tau"], c["kendall"], c["spearman"])
            check(all(abs(a - b) <= 1e-12 for a, b in zip(got, want)),
                  f"{name} vs {row}: prior's (wtau, kendall, spearman) {got} vs scipy {want}")
            wts.append(c["weighted_tau"])
        if wts:
            print(f"{name}: ImageNet top-1 (prior) vs the published accuracies: mean weighted tau "
                  f"over {len(wts)} datasets {np.mean(wts):.4f}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
