"""xfer run end to end on a tiny synthetic experiment: schema, statuses, scores, curves, report,
xfer score, --only, shards + merge equal to the unsharded run, a diverging source (exit 4), a
rerun that skips finished work, and bad input (exit 2, nothing written)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, shards_and_merge, xfer  # noqa: E402


CONFIG = """
experiment: tiny
seed: 3
device: cpu
output: {out}
datasets:
  shapes:
    kind: synthetic
    synthetic: {{classes: 4, per_class: 40, size: 24, seed: 1}}
    image_size: 20
    cache_size: 24
  other:
    kind: synthetic
    synthetic: {{classes: 3, per_class: 40, size: 24, seed: 9}}
    image_size: 20
    cache_size: 24
sources:
  - name: untrained
    prior: 10
    arch: resnet18
    width: 0.125
    weights: random
    classes: {classes}
  - name: built
    prior: 60
    arch: resnet18
    width: 0.125
    train: {{from: random, dataset: other, epochs: 2, batch_size: 16,
            optimizer: {{sgd: {{lr: 0.05, momentum: 0.9}}}}}}
  - name: chained
    prior: 70.5
    arch: resnet18
    width: 0.125
    train: {{from: built, dataset: other, epochs: 1, batch_size: 16,
            optimizer: {{sgd: {{lr: {chain_lr}, momentum: 0.9}}}}}}
  - name: alex
    prior: 20
    arch: alexnet
    width: 0.125
    weights: random
    classes: {classes}
target:
  dataset: shapes
  finetune:
    epochs: 3
    batch_size: 16
    optimizer: {{sgd: {{lr: 0.01, momentum: 0.9}}}}
    schedule: {{step: {{step_size: 2, gamma: 0.1}}}}
scores: [softmax_max, leep, nce, logme, hscore, etran, ncti, knn: {{k: 100000}}]
"""


def write_config(d, name, out, chain_lr="0.01", alex_size=None):
    classes = os.path.join(d, "classes.txt")
    with open(classes, "w") as f:
        f.write("".join(f"c{i}\n" for i in range(10)))
    text = CONFIG.format(out=out, classes=classes, chain_lr=chain_lr)
    if alex_size:  # AlexNet needs >= 63x63 inputs
        text = text.replace("image_size: 20\n    cache_size: 24", f"image_size: {alex_size}\n    cache_size: {alex_size}")
        text = text.replace("size: 24, seed", f"size: {alex_size}, seed")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def curves(path):
    out = {}
    with h5py.File(path, "r") as f:
        for name, g in f["sources"].items():
            c = {k: np.array(g["curve"][k]) for k in g["curve"]} if "curve" in g else {}
            s = {k: float(g["scores"][k][()]) for k in g["scores"]} if "scores" in g else {}
            out[name] = (dict(g.attrs), c, s)
    return out


tmp = tempfile.mkdtemp(prefix="xfer-run-")
try:
    # ---- a full run --------------------------------------------------------------------------
    out = os.path.join(tmp, "full", "results.h5")
    cfg = write_config(tmp, "tiny.yaml", out, alex_size=64)
    log = os.path.join(tmp, "epochs.jsonl")
    rc, so, se = xfer("run", cfg, "--no-plots", "--log-json", log)
    check(rc == 0, f"run exits 0: {rc}\n{se[-3000:]}")
    with open(log) as f:
        rows = [json.loads(line) for line in f]
    ft = [r for r in rows if r["phase"] == "finetune"]
    check(len(ft) == 4 * 3, f"--log-json: one object per fine-tuning epoch ({len(ft)})")
    check(len([r for r in rows if r["phase"] == "build"]) == 3, "--log-json: build epochs")
    check(all(set(r) >= {"epoch", "epochs", "lr", "train_loss", "train_acc", "test_loss",
                         "test_acc", "seconds", "img_per_s"} for r in rows), "--log-json fields")
    check("Rank correlations" in so, "report printed at the end")
    check(os.path.exists(os.path.join(tmp, "full", "report.md")), "report.md written")
    check(os.path.exists(os.path.join(tmp, "full", "sources", "built.safetensors")), "built source kept")
    check(os.path.exists(os.path.join(tmp, "full", "sources", "chained.safetensors")), "chained source kept")
    with h5py.File(out, "r") as f:
        check(f.attrs["complete"] == 1, "complete = 1")
        check(f.attrs["device"] == "cpu", "device attribute")
        check("tiny" in f.attrs["config"], "config text stored")
        t = f["target"]
        check(t.attrs["n_classes"] == 4 and t.attrs["n_train"] + t.attrs["n_test"] == 160,
              "target attributes")
        check(len(t["train_files"]) == t.attrs["n_train"], "train file list")
        for name in ["untrained", "built", "chained", "alex"]:
            g = f["sources"][name]
            check(g.attrs["status"] == "done", f"{name} done: {g.attrs['status']}")
            check(len(g["curve"]["epoch"]) == 3, f"{name}: 3 epochs in the curve")
            acc = np.array(g["curve"]["test_acc"])
            check(abs(g.attrs["best_test_acc"] - acc.max()) < 1e-12, f"{name}: best_test_acc")
            check(g.attrs["best_epoch"] == int(np.argmax(acc)) + 1, f"{name}: best_epoch")
            check(abs(g.attrs["curve_auc"] - acc.mean()) < 1e-12, f"{name}: curve_auc")
            lr = np.array(g["curve"]["lr"])
            check(np.allclose(lr, [0.01, 0.01, 0.001]), f"{name}: StepLR lr {lr}")
            for m in ["softmax_max", "leep", "nce", "logme", "hscore"]:
                check(m in g["scores"], f"{name}: score {m}")
        # the baselines: prior from the config, params counted from the network (here from the
        # built source's saved tensors, running statistics excluded)
        priors = {"untrained": 10, "built": 60, "chained": 70.5, "alex": 20}
        for name, pr in priors.items():
            sc = f["sources"][name]["scores"]
            check(sc["prior"][()] == pr and sc["prior"].attrs["kind"] == "baseline",
                  f"{name}: prior baseline")
            check(sc["params"].attrs["kind"] == "baseline", f"{name}: params is a baseline")
            check("kind" not in sc["leep"].attrs, f"{name}: leep is a metric")
        st = os.path.join(tmp, "full", "sources", "built.safetensors")
        with open(st, "rb") as fh:
            hlen = int.from_bytes(fh.read(8), "little")
            hdr = json.loads(fh.read(hlen))
        n_par = sum(int(np.prod(v["shape"])) for k, v in hdr.items() if k != "__metadata__" and
                    not k.startswith("momentum.") and
                    not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        got = f["sources"]["built"]["scores"]["params"][()]
        check(got == n_par, f"built: params {got} = the tensors' {n_par}")
        check("prior" in f["correlations"] and "params" in f["correlations"],
              "baselines are correlated")
        check(f["sources"]["chained"].attrs["chain"] == "random>other>other",
              f"chain: {f['sources']['chained'].attrs['chain']}")
        check("softmax_max" in f["correlations"], "correlations written")
        sm = f["sources"]["untrained"]["scores"]["softmax_max"]
        check(0 < sm[()] <= t.attrs["n_train"] and abs(sm.attrs["mean"] * t.attrs["n_train"] - sm[()]) < 1e-6,
              "softmax_max is a sum of maxima with its mean")
    full = curves(out)

    # ---- a rerun skips everything ------------------------------------------------------------
    rc, so, se = xfer("run", cfg, "--no-plots")
    check(rc == 0 and "already done" in se, f"rerun skips finished sources: {rc} {se[-500:]}")
    again = curves(out)
    check(all(np.array_equal(full[k][1][c], again[k][1][c]) for k in full for c in full[k][1]),
          "rerun changes nothing")

    # ---- on a terminal: a live progress line (phase, epoch, batch, img/s, loss, ETA) ----------
    if shutil.which("script"):
        outp = os.path.join(tmp, "pty", "results.h5")
        cfgp = write_config(tmp, "pty.yaml", outp, alex_size=64)
        p = subprocess.run(["script", "-qec", f"{XFER} run {cfgp} --only untrained --no-plots",
                            "/dev/null"], capture_output=True, text=True, timeout=300)
        bar = [l for l in p.stdout.split("\r") if "finetune untrained  epoch" in l and "ETA" in l]
        check(p.returncode == 0 and bar, f"live progress line on a terminal: {p.stdout[-300:]!r}")
        check(any("batch" in l and "img/s" in l and "loss" in l for l in bar), "bar fields")

    # ---- score only, and --only --------------------------------------------------------------
    out2 = os.path.join(tmp, "score", "results.h5")
    cfg2 = write_config(tmp, "tiny2.yaml", out2, alex_size=64)
    rc, so, se = xfer("score", cfg2, "--only", "untrained,alex")
    check(rc == 0, f"score exits 0: {se[-2000:]}")
    with h5py.File(out2, "r") as f:
        check(sorted(f["sources"]) == ["alex", "untrained"], "--only selects sources")
        check(f["sources"]["untrained"].attrs["status"] == "scored", "score-only status scored")
        check(abs(float(f["sources"]["untrained"]["scores"]["leep"][()]) -
                  full["untrained"][2]["leep"]) < 1e-9, "score equals the full run's score")
    rc, so, se = xfer("run", cfg2, "--only", "nosuch")
    check(rc == 2 and "nosuch" in se, "--only with an unknown name: exit 2")

    # ---- shards + merge == unsharded -----------------------------------------------------------
    merged = shards_and_merge(cfg, 2, os.path.join(tmp, "full"), os.path.join(tmp, "merged.h5"))
    m = curves(merged)
    check(sorted(m) == sorted(full), "merged file has every source")
    for k in full:
        for c in ["train_loss", "train_acc", "test_loss", "test_acc", "lr"]:
            check(np.array_equal(m[k][1][c], full[k][1][c]), f"shard+merge {k}.{c} equals unsharded")
        for s, v in full[k][2].items():
            check(m[k][2][s] == v or (np.isnan(v) and np.isnan(m[k][2][s])),
                  f"shard+merge score {k}.{s}: {m[k][2][s]} vs {v}")
    # etran and ncti are pooled over the sources: each shard pools over its own two, the merge
    # over all four, as the unsharded run; their per-source terms are the same everywhere
    sc = lambda v: (v - v.min()) / (v.max() - v.min()) if v.max() > v.min() else 0 * v
    pools = {"etran": lambda t: 0.85 * sc(t[:, 0]) + 0.15 * sc(t[:, 1]),
             "ncti": lambda t: sc(t[:, 1]) + sc(t[:, 0]) - sc(t[:, 2])}
    with h5py.File(merged, "r") as fm, h5py.File(out, "r") as fu:
        for metric, pool in pools.items():
            for k in full:
                check(np.array_equal(fm["sources"][k]["scores"][metric].attrs["terms"],
                                     fu["sources"][k]["scores"][metric].attrs["terms"]),
                      f"{metric} terms of {k}: merged = unsharded")
            tu = np.array([fu["sources"][k]["scores"][metric].attrs["terms"] for k in sorted(full)])
            want = pool(tu)
            got = np.array([fu["sources"][k]["scores"][metric][()] for k in sorted(full)])
            check(np.allclose(got, want, rtol=0, atol=1e-12),
                  f"{metric} pooled in the file: {got} {want}")
        knn = fu["sources"]["alex"]["scores"]["knn"]
        check(np.isnan(knn[()]) and "knn: k = 100000" in knn.attrs["error"],
              f"a failing score fails alone with its reason: {dict(knn.attrs)}")
    rep = open(os.path.join(tmp, "full", "report.md")).read()
    check("- alex, knn: knn: k = 100000 needs more than k samples" in rep, "report lists it")
    rc, so, se = xfer("run", cfg, "--shard", "2/2")
    check(rc == 2 and "shard" in se, "bad --shard: exit 2")

    # ---- two runs at once that both need `built` at the start (--only built: for itself, --only
    # chained: as its parent; shards keep a chain together, so two runs stand in for two shards
    # of different selections): the lock makes it built once ------------------------------------
    conc = os.path.join(tmp, "conc")
    cfgc = write_config(tmp, "conc.yaml", os.path.join(conc, "results.h5"), alex_size=64)
    procs = [subprocess.Popen([os.environ["XFER"], "run", cfgc, "--only", name, "--output",
                               os.path.join(conc, f"shard-{i}.h5"), "--no-plots"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i, name in enumerate(("built", "chained"))]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    check(all(p.returncode == 0 for p in procs), f"concurrent shards exit 0: {[p.returncode for p in procs]}")
    n_built = sum(e.count("building source built:") for e in errs)
    check(n_built == 1, f"a source two shards need is built once (built {n_built} times)")
    with h5py.File(os.path.join(conc, "shard-1.h5"), "r") as f:
        check(f["sources"]["chained"].attrs["status"] == "done", "shard 1's chained source done")

    # ---- a diverging source: failed, the others done, exit 4 -----------------------------------
    out3 = os.path.join(tmp, "nan", "results.h5")
    cfg3 = write_config(tmp, "nan.yaml", out3, chain_lr="1e30", alex_size=64)
    rc, so, se = xfer("run", cfg3, "--no-plots", "--only", "untrained,chained")
    check(rc == 4, f"diverging source: exit 4, got {rc}: {se[-1500:]}")
    with h5py.File(out3, "r") as f:
        st = f["sources"]["chained"].attrs["status"]
        check(st == "failed", f"chained failed: {st}")
        er = f["sources"]["chained"].attrs["error"]
        check("NaN" in er or "infinite" in er, f"reason recorded: {er}")
        check(f["sources"]["untrained"].attrs["status"] == "done", "the other source completed")
        check(f.attrs["complete"] == 0, "complete = 0 with a failed source")

    # ---- bad input: a missing weights file -------------------------------------------------------
    bad = os.path.join(tmp, "bad.yaml")
    with open(cfg) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("weights: random\n    classes", "weights: /nonexistent/w.safetensors\n    classes", 1)
                .replace(out, os.path.join(tmp, "bad", "results.h5")))
    rc, so, se = xfer("run", bad, "--no-plots")
    check(rc == 2 and "/nonexistent/w.safetensors" in se, f"missing weights: exit 2 naming the file: {rc} {se[-800:]}")
    check(not os.path.exists(os.path.join(tmp, "bad", "results.h5")), "no results file left for bad input")
    # a different config on an existing output is refused
    rc, so, se = xfer("run", cfg3, "--output", out, "--no-plots")
    check(rc == 2 and "different config" in se, f"different config on an existing output: {rc} {se[-500:]}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
