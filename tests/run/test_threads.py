"""Results do not depend on the thread count: one tiny experiment (two built sources, one a chain,
an untrained one, every metric, three fine-tuning epochs) run with --threads 1, 2 and 4 gives
bitwise the same results file (every dataset and attribute, except the wall-clock ones) and
bitwise the same checkpoints (built sources and best fine-tuning epochs). Also: `xfer score` run
twice gives the same scores (gbc once varied in its last digit between identical runs)."""
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import check, finish, xfer  # noqa: E402

CONFIG = """
experiment: threads
seed: 5
device: cpu
output: {out}
datasets:
  target:
    kind: synthetic
    synthetic: {{classes: 4, per_class: 40, size: 24, seed: 1}}
    image_size: 20
    cache_size: 24
  other:
    kind: synthetic
    synthetic: {{classes: 3, per_class: 48, size: 24, seed: 9}}
    image_size: 20
    cache_size: 24
sources:
  - name: untrained
    arch: resnet18
    width: 0.25
    weights: random
    classes: {classes}
  - name: built
    arch: resnet18
    width: 0.25
    train: {{from: random, dataset: other, epochs: 2, batch_size: 32,
            optimizer: {{sgd: {{lr: 0.05, momentum: 0.9}}}}, augmentation: {{crop_scale_min: 0.5}}}}
  - name: chained
    arch: resnet18
    width: 0.25
    train: {{from: built, dataset: other, epochs: 1, batch_size: 32,
            optimizer: {{sgd: {{lr: 0.01, momentum: 0.9}}}}}}
target:
  dataset: target
  finetune:
    epochs: 3
    batch_size: 16
    optimizer: {{sgd: {{lr: 0.01, momentum: 0.9, weight_decay: 0.0005}}}}
    schedule: {{step: {{step_size: 2, gamma: 0.1}}}}
    augmentation: {{crop_scale_min: 0.5}}
scores: [{metrics}]
word_vectors:
  path: {vectors}
"""

METRICS = ["softmax_max", "emd", "leep", "nce", "logme", "hscore", "hscore_reg", "gbc", "transrate",
           "sfda", "nleep", "parc", "ncti", "emms"]
# Wall-clock figures: the only things allowed to differ between runs.
TIMING = {"seconds", "created", "img_per_s"}


def h5_items(path):
    """{name: value} for every dataset and attribute of the file, values as raw bytes + dtype."""
    items = {}

    def add(name, v):
        a = np.asarray(v)
        items[name] = (a.dtype.str, a.shape, a.tobytes() if a.dtype != object else repr(a.tolist()))

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in TIMING:
                add(f"{name}@{k}", v)
        if isinstance(obj, h5py.Dataset) and os.path.basename(name) not in TIMING:
            add(name, obj[()])

    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if k not in TIMING:
                add(f"@{k}", v)
        f.visititems(visit)
    return items


def checkpoints(root):
    """{relative path: bytes} of every .safetensors file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            if n.endswith(".safetensors"):
                p = os.path.join(d, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, root)] = f.read()
    return out


def compare(what, a, b):
    check(sorted(a) == sorted(b), f"{what}: same entries ({sorted(set(a) ^ set(b))})")
    differ = [k for k in sorted(a) if k in b and a[k] != b[k]]
    check(not differ, f"{what}: {len(differ)} of {len(a)} entries differ: {differ[:12]}")
    return differ


tmp = tempfile.mkdtemp(prefix="xfer-threads-")
try:
    classes = os.path.join(tmp, "classes.txt")
    names = [f"class{i:03d}" for i in range(10)]  # the synthetic datasets' class names
    with open(classes, "w") as f:
        f.write("".join(n + "\n" for n in names))
    rng = np.random.default_rng(7)
    vectors = os.path.join(tmp, "words.vec")
    with open(vectors, "w") as f:
        f.write(f"{len(names)} 8\n")
        for n in names:
            f.write(n + " " + " ".join(f"{x:.5f}" for x in rng.normal(size=8)) + "\n")

    runs = {}
    for threads in (1, 2, 4):
        # the same config text every time (it is stored): a relative output in a fresh directory
        d = os.path.join(tmp, f"t{threads}")
        os.makedirs(d)
        out = os.path.join(d, "out", "results.h5")
        cfg = os.path.join(d, "tiny.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(out="out/results.h5", classes=classes, vectors=vectors,
                                  metrics=", ".join(METRICS)))
        rc, so, se = xfer("run", cfg, "--no-plots", "--quiet", "--threads", str(threads), cwd=d)
        check(rc == 0, f"--threads {threads}: exit 0, got {rc}: {se[-2000:]}")
        if rc != 0:
            continue
        runs[threads] = (h5_items(out), checkpoints(d))
        with h5py.File(out, "r") as f:
            g = f["sources"]
            check(sorted(g) == ["built", "chained", "untrained"], f"--threads {threads}: sources")
            missing = [(s, m) for s in g for m in METRICS if m not in g[s]["scores"]]
            check(not missing, f"--threads {threads}: every metric scored (missing {missing})")
            failed = [(s, m, g[s]["scores"][m].attrs["error"]) for s in g for m in METRICS
                      if m in g[s]["scores"] and "error" in g[s]["scores"][m].attrs]
            check(not failed, f"--threads {threads}: no score failed ({failed})")
            st = [g[s].attrs["status"] for s in g]
            check(all(s == "done" for s in st), f"--threads {threads}: statuses {st}")
        ck = sorted(runs[threads][1])
        check(len(ck) >= 5, f"--threads {threads}: built sources and best checkpoints {ck}")

    if 1 in runs:
        for threads in (2, 4):
            if threads not in runs:
                continue
            compare(f"results.h5, 1 vs {threads} threads", runs[1][0], runs[threads][0])
            compare(f"checkpoints, 1 vs {threads} threads", runs[1][1], runs[threads][1])

    # `xfer score` twice with the same (default) thread count: the same scores, every digit.
    if 2 in runs:
        scores = []
        for i in range(2):
            d = os.path.join(tmp, f"score{i}")
            out = os.path.join(d, "out", "results.h5")
            cfg = os.path.join(d, "tiny.yaml")
            # reuse the built sources of the 2-thread run
            shutil.copytree(os.path.join(tmp, "t2", "out", "sources"), os.path.join(d, "out", "sources"))
            with open(cfg, "w") as f:
                f.write(CONFIG.format(out="out/results.h5", classes=classes, vectors=vectors,
                                  metrics=", ".join(METRICS)))
            rc, so, se = xfer("score", cfg, "--quiet", cwd=d)
            check(rc == 0, f"score run {i}: exit 0, got {rc}: {se[-1500:]}")
            if rc == 0:
                scores.append({k: v for k, v in h5_items(out).items() if "/scores/" in k})
        if len(scores) == 2:
            check(len(scores[0]) >= 36, f"score runs: every score present ({len(scores[0])})")
            compare("xfer score twice", scores[0], scores[1])
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
