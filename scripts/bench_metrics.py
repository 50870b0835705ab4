#!/usr/bin/python3
"""Benchmark of `xfer metrics` (issue 5): N=9000, D=512, Cs=1000, Ct=101 random-but-structured
inputs written to HDF5; xfer's per-metric times and the float64 numpy/scipy/sklearn references
(tests/scores/refs.py) timed in the same run on the same inputs; prints the ratio and the relative
difference of the values. Goal: all metrics <= 6 s in total on the 2-core machine, >= 5x the
references for the metrics both compute.

Features: a 64-dimensional latent (class mean + noise) mapped linearly to D dimensions plus small
isotropic noise, so the spectrum decays as in CNN features (NLEEP's PCA keeps 80% of the variance
in a few dozen components). Logits: N(0,1) plus a class-dependent boost on a source class.

Label embedding (emms): a random [Ct, 300] matrix, the size of fastText's word vectors.
The pool-level metrics (etran, ncti) are timed per source and compared on their first raw term.
ncti is also timed against the published pipeline itself (sklearn's PCA(64), randomized at this
size, and sklearn's LDA) as `ncti[published]`. gbc, ncti, parc and nleep share the features' PCA
in one `xfer metrics` run (gbc, the first, pays for it); `ncti[alone]`, `nleep[alone]` and
`parc[alone]` time each alone, with its own PCA.

The nleep reference (a direct-broadcast EM, ~1 s per EM step at this size) is skipped by default.
Each `[alone]` figure is the median of --repeat (3) runs, its reference's too when that takes
under 5 s. Usage: bench_metrics.py [--xfer PATH] [--n N] [--repeat R] [--skip-refs NAME,...]"""
import argparse
import atexit
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scores"))
import refs  # noqa: E402


def make(n, d, cs, ct, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % ct
    rng.shuffle(y)
    lat = 1.0 * rng.normal(size=(ct, 64))[y] + rng.normal(size=(n, 64))
    W = rng.normal(size=(64, d)) / 8
    f = (lat @ W + 0.1 * rng.normal(size=(n, d))).astype(np.float32)
    src_of = rng.integers(0, cs, size=ct)
    logits = rng.normal(size=(n, cs))
    logits[np.arange(n), src_of[y]] += 3.0
    D = rng.uniform(0.5, 3.0, size=(cs, ct))
    emb = rng.normal(size=(ct, 300))
    return f, logits.astype(np.float32), y, D, emb


def knn_blocked(f, y, k=10, block=500):
    """refs.knn (leave-one-out k-NN accuracy, ties to the smallest label) in row blocks, so the
    N x N distance matrix is never held whole."""
    sq = np.sum(f * f, axis=1)
    ct = int(y.max()) + 1
    correct = 0
    for b in range(0, len(y), block):
        d2 = sq[None, :] - 2 * f[b:b + block] @ f.T
        d2[np.arange(len(d2)), np.arange(b, b + len(d2))] = np.inf
        nb = np.argsort(d2, axis=1, kind="stable")[:, :k]
        pred = np.array([np.argmax(np.bincount(y[row], minlength=ct)) for row in nb])
        correct += int(np.sum(pred == y[b:b + block]))
    return correct / len(y)


def ncti_published(f, y):
    """BUserName/NCTI's NCTI_Score pipeline as published: sklearn's PCA(n_components=64) (its
    'auto' solver: randomized here, unseeded) and sklearn's LDA; the first raw term."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA
    pca = PCA(n_components=64)
    X = pca.fit_transform(f, y)
    temp = max(np.exp(-pca.explained_variance_[:32].sum()), 1e-10)
    clf = LDA(solver="svd") if temp == 1e-10 else LDA(solver="eigen", shrinkage=float(temp))
    low = clf.fit_transform(X, y)
    low = low - low.mean(axis=0, keepdims=True)
    P = clf.predict_proba(X)
    t = [np.linalg.norm(low, ord="nuc"), np.mean(P[np.arange(len(y)), y]),
         np.log(sum(np.linalg.norm(P[y == c], ord="nuc") for c in range(int(y.max()) + 1)))]
    return t


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfer", default=os.environ.get("XFER", "build/xfer"))
    ap.add_argument("--n", type=int, default=9000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--cs", type=int, default=1000)
    ap.add_argument("--ct", type=int, default=101)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each [alone] figure (median)")
    ap.add_argument("--skip-refs", default="nleep", help="comma-separated metrics whose reference is not run")
    args = ap.parse_args()
    global LOAD0
    LOAD0 = os.getloadavg()
    print(f"uptime before: {uptime()}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    f, logits, y, D, emb = make(args.n, args.d, args.cs, args.ct)
    tmp = tempfile.mkdtemp(prefix="xfer_bench_metrics_")
    atexit.register(shutil.rmtree, tmp, True)  # the 55 MB input goes when the bench ends
    path = os.path.join(tmp, "input.h5")
    with h5py.File(path, "w") as h:
        h["features"], h["logits"], h["labels"], h["ground_distance"] = f, logits, y, D
        h["label_embedding"] = emb
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([args.xfer, "metrics", path, "--format", "json"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if r.returncode != 0:
        print(r.stderr)
        return 1
    out = json.loads(r.stdout)
    f64 = f.astype(np.float64)
    p = refs.softmax(logits.astype(np.float64))
    ct = args.ct
    ref_fns = {
        "softmax_max": lambda: refs.softmax_max(p),
        "emd": lambda: refs.emd(p, y, D),
        "leep": lambda: refs.leep(p, y, ct),
        "nce": lambda: refs.nce(p, y, ct),
        "hscore": lambda: refs.hscore(f64, y),
        "hscore_reg": lambda: refs.hscore_reg(f64, y),
        "logme": lambda: refs.logme(f64, y, ct),
        "gbc": lambda: refs.gbc(f64, y, ct),
        "transrate": lambda: refs.transrate(f64, y, ct),
        "sfda": lambda: refs.sfda(f64, y),
        "nleep": lambda: refs.nleep(f64, y, ct),
        "parc": lambda: refs.parc(f64, y),
        "knn": lambda: knn_blocked(f64, y),
        "tmi": lambda: refs.tmi(f64, y),
        "etran": lambda: refs.etran_terms(f64, y),
        "pactran": lambda: refs.pactran(p, y),
        "ncti": lambda: refs.ncti_terms(f64, y)[0],
        "emms": lambda: refs.emms(f64, y, emb),
    }
    extra = {"ncti": ("ncti[published]", lambda: ncti_published(f64, y))}
    skip = set(s for s in args.skip_refs.split(",") if s)
    print(f"load average before: {LOAD0}, after xfer: {os.getloadavg()}; {uptime()}")
    print(f"N={args.n} D={args.d} Cs={args.cs} Ct={args.ct}; xfer wall {wall:.2f} s, CPU {cpu:.2f} s "
          "(process, incl. HDF5 read; CPU time is less sensitive to the load than wall time)")
    print(f"{'metric':12s} {'xfer s':>8s} {'ref s':>8s} {'ratio':>7s} {'rel diff':>9s}  value")
    tx = tr = 0.0
    ref_s = {}
    for name, o in out.items():
        tx += o["seconds"]
        line = f"{name:12s} {o['seconds']:8.3f}"
        if name in ref_fns and name not in skip:
            t1 = time.perf_counter()
            v = ref_fns[name]()
            dt = time.perf_counter() - t1
            tr += dt
            ref_s[name] = dt
            x = o["value"]
            if "terms" in o:  # pool-level: compare the first raw term (one source pools to 0)
                x, v = o["terms"][0], v[0]
            rel = abs(x - v) / max(abs(v), 1e-300)
            line += f" {dt:8.3f} {dt / max(o['seconds'], 1e-6):6.1f}x {rel:9.1e}"
        else:
            line += f" {'-':>8s} {'-':>7s} {'-':>9s}"
        print(line + f"  {o['value']:.10g}", flush=True)
        if name in extra and name not in skip:
            label, fn = extra[name]
            t1 = time.perf_counter()
            v = fn()
            dt = time.perf_counter() - t1
            rel = abs(o["terms"][0] - v[0]) / abs(v[0])
            print(f"{label:12s} {'':8s} {dt:8.3f} {dt / max(o['seconds'], 1e-6):6.1f}x {rel:9.1e}"
                  "  (randomized PCA: differs)", flush=True)
    print(f"{'total':12s} {tx:8.3f} {tr:8.3f} {tr / max(tx, 1e-6):6.1f}x   (goal: xfer total <= 6 s)")
    # gbc, ncti, parc and nleep share the features' PCA (xfer_metric_cache): in the run above the
    # first of them (gbc) pays for it. Each of the others alone, paying for its own PCA:
    # Each [alone] figure is the median of --repeat runs; a reference under 5 s is run again in
    # turn with them and its median taken too (the run above counts as one), so one noisy run of
    # either side does not decide the ratio.
    for name in ("ncti", "nleep", "parc"):
        if name not in out:
            continue
        xs, rs = [], [ref_s[name]] if name in ref_s else []
        for rep in range(args.repeat):
            r2 = subprocess.run([args.xfer, "metrics", path, "--metrics", name, "--format", "json"],
                                capture_output=True, text=True)
            if r2.returncode != 0:
                print(r2.stderr)
                return 1
            xs.append(json.loads(r2.stdout)[name]["seconds"])
            if rs and ref_s[name] < 5.0 and len(rs) < args.repeat:
                t1 = time.perf_counter()
                ref_fns[name]()
                rs.append(time.perf_counter() - t1)
        x = float(np.median(xs))
        line = f"{name + '[alone]':12s} {x:8.3f}"
        if rs:
            rm = float(np.median(rs))
            line += f" {rm:8.3f} {rm / max(x, 1e-6):6.1f}x"
        print(line + f"  (its own PCA: run alone; medians of {len(xs)} xfer runs"
              + (f", {len(rs)} reference runs" if rs else "") + ")"
              + (f"; xfer {min(xs):.3f}-{max(xs):.3f} s" if len(xs) > 1 else ""), flush=True)
    print(f"load average at the end: {os.getloadavg()}; uptime after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
