"""`seeds:` repeats every fine-tune with several seeds: the results file holds one curve per seed
(/curve and /seeds/<i>/curve), the source's summary is the mean and sample standard deviation over
them (checked with numpy), the scores are computed once and equal a one-seed run's, the first
fine-tune is bitwise the one-seed run's, a lost fine-tune is redone on resume (and only it),
shards merge to the unsharded file, and each metric's bootstrap interval of Kendall's tau equals
an independent implementation of the documented method (SplitMix64 stream, scipy's kendalltau,
numpy's percentile)."""
import csv
import io
import json
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import check, finish, shards_and_merge, xfer  # noqa: E402

CONFIG = """
experiment: seeds
seed: 3
{seeds}
device: cpu
output: {out}
datasets:
  shapes:
    kind: synthetic
    synthetic: {{classes: 3, per_class: 30, size: 20, seed: 1}}
    image_size: 16
    cache_size: 20
  other:
    kind: synthetic
    synthetic: {{classes: 3, per_class: 30, size: 20, seed: 9}}
    image_size: 16
    cache_size: 20
sources:
  - name: untrained
    arch: resnet18
    width: 0.125
    weights: random
    classes: {classes}
  - name: built
    arch: resnet18
    width: 0.125
    train: {{from: random, dataset: other, epochs: 2, batch_size: 16,
            optimizer: {{sgd: {{lr: 0.05, momentum: 0.9}}}}}}
  - name: other_init
    arch: resnet18
    width: 0.125
    weights: random
    init_seed: 11
    classes: {classes}
target:
  dataset: shapes
  finetune:
    epochs: 3
    batch_size: 16
    optimizer: {{sgd: {{lr: 0.02, momentum: 0.9}}}}
    schedule: {{step: {{step_size: 2, gamma: 0.1}}}}
scores: [softmax_max, leep, logme]
"""

GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def splitmix64(z):
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def boot_ref(x, accs, resamples=2000, seed=20261201, level=0.90):
    """docs/results.md, "Bootstrap intervals", written from the text."""
    state = seed

    def draw(n):
        nonlocal state
        z = splitmix64(state)
        state = (state + GOLDEN) & M64
        return (z * n) >> 64

    n, taus = len(x), []
    for _ in range(resamples):
        xb, yb = [], []
        for _ in range(n):
            i = draw(n)
            a = accs[i]
            yb.append(sum(a[draw(len(a))] for _ in range(len(a))) / len(a))
            xb.append(x[i])
        t = stats.kendalltau(xb, yb)[0]
        if np.isfinite(t):
            taus.append(t)
    lo, hi = np.percentile(taus, [100 * (0.5 - level / 2), 100 * (0.5 + level / 2)])
    return lo, hi, len(taus)


def write_config(d, name, out, seeds):
    classes = os.path.join(d, "classes.txt")
    with open(classes, "w") as f:
        f.write("".join(f"c{i}\n" for i in range(10)))
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(CONFIG.format(out=out, classes=classes, seeds=f"seeds: {seeds}" if seeds else ""))
    return path


def curve_of(g):
    return {k: np.array(g[k]) for k in g}


tmp = tempfile.mkdtemp(prefix="xfer-seeds-")
try:
    out = os.path.join(tmp, "multi", "results.h5")
    cfg = write_config(tmp, "multi.yaml", out, 3)
    rc, so, se = xfer("run", cfg, "--no-plots")
    check(rc == 0, f"run with seeds: 3 exits 0: {rc}\n{se[-3000:]}")
    one_out = os.path.join(tmp, "one", "results.h5")
    one_cfg = write_config(tmp, "one.yaml", one_out, None)
    rc, _, se = xfer("run", one_cfg, "--no-plots", "--quiet")
    check(rc == 0, f"one-seed run exits 0: {rc}\n{se[-2000:]}")

    with h5py.File(out, "r") as f, h5py.File(one_out, "r") as f1:
        for name in ["untrained", "built", "other_init"]:
            g, g1 = f["sources"][name], f1["sources"][name]
            check(g.attrs["status"] == "done", f"{name} done")
            check(int(g.attrs["n_seeds"]) == 3 and int(g1.attrs["n_seeds"]) == 1,
                  f"{name}: n_seeds 3 / 1")
            check(sorted(g["seeds"]) == ["1", "2"], f"{name}: seeds/1 and seeds/2")
            curves = [curve_of(g["curve"])] + [curve_of(g["seeds"][i]["curve"]) for i in "12"]
            check([int(g["seeds"][i].attrs["seed"]) for i in "12"] == [4, 5],
                  f"{name}: fine-tune seeds 4, 5 after the experiment's 3")
            check(all(len(c["epoch"]) == 3 for c in curves), f"{name}: 3 epochs per fine-tune")
            # the first fine-tune is the one-seed run's, bit for bit; the scores are the same
            c1 = curve_of(g1["curve"])
            check(all(np.array_equal(curves[0][k], c1[k]) for k in c1 if k != "seconds"),
                  f"{name}: first fine-tune == the one-seed run")
            check(not np.array_equal(curves[1]["train_loss"], curves[0]["train_loss"]) and
                  not np.array_equal(curves[2]["train_loss"], curves[1]["train_loss"]),
                  f"{name}: the seeds' fine-tunes differ")
            check({m: g["scores"][m][()] for m in g["scores"]} ==
                  {m: g1["scores"][m][()] for m in g1["scores"]},
                  f"{name}: scores computed once, equal to the one-seed run's")
            best = np.array([c["test_acc"].max() for c in curves])
            auc = np.array([c["test_acc"].mean() for c in curves])
            check(g.attrs["best_test_acc"] == np.mean(best) or
                  abs(g.attrs["best_test_acc"] - np.mean(best)) < 1e-15,
                  f"{name}: best_test_acc = mean over seeds")
            check(abs(g.attrs["best_test_acc_sd"] - np.std(best, ddof=1)) < 1e-12,
                  f"{name}: best_test_acc_sd = sample sd over seeds "
                  f"({g.attrs['best_test_acc_sd']} vs {np.std(best, ddof=1)})")
            check(abs(g.attrs["curve_auc"] - auc.mean()) < 1e-15 and
                  abs(g.attrs["curve_auc_sd"] - np.std(auc, ddof=1)) < 1e-12,
                  f"{name}: curve_auc mean and sd")
            mean_curve = np.mean([c["test_acc"] for c in curves], axis=0)
            check(int(g.attrs["best_epoch"]) == int(curves[0]["epoch"][np.argmax(mean_curve)]),
                  f"{name}: best_epoch of the mean curve")
            for i in "12":
                s = g["seeds"][i]
                c = curve_of(s["curve"])
                check(s.attrs["best_test_acc"] == c["test_acc"].max() and
                      int(s.attrs["best_epoch"]) == int(c["epoch"][np.argmax(c["test_acc"])]),
                      f"{name}: seeds/{i} summary")
            check(np.isnan(g1.attrs["best_test_acc_sd"]), f"{name}: one seed, sd NaN")
            check(g1.attrs["best_test_acc"] == curve_of(g1["curve"])["test_acc"].max(),
                  f"{name}: one seed, best_test_acc as before")

        # the bootstrap interval of every metric, against the method as documented
        srcs = sorted(f["sources"])
        accs = [[f["sources"][n]["curve"]["test_acc"][()].max()] +
                [f["sources"][n]["seeds"][i]["curve"]["test_acc"][()].max() for i in "12"]
                for n in srcs]
        for m, grp in f["correlations"].items():
            x = [float(f["sources"][n]["scores"][m][()]) * int(f["sources"][n]["scores"][m].attrs["direction"])
                 for n in srcs]
            lo, hi, used = boot_ref(x, accs)
            check(abs(grp.attrs["kendall_lo"] - lo) < 1e-12 and abs(grp.attrs["kendall_hi"] - hi) < 1e-12
                  and int(grp.attrs["n_boot"]) == used,
                  f"{m}: bootstrap interval [{grp.attrs['kendall_lo']}, {grp.attrs['kendall_hi']}] "
                  f"n {grp.attrs['n_boot']}, reference [{lo}, {hi}] n {used}")
            check(grp.attrs["kendall_lo"] <= grp.attrs["kendall_hi"], f"{m}: lo <= hi")
            ybar = [np.mean(a) for a in accs]
            check(abs(grp.attrs["kendall"] - stats.kendalltau(x, ybar)[0]) < 1e-12,
                  f"{m}: kendall against the mean over seeds")

    # ---- the report in its three formats ----------------------------------------------------------
    rc, md, _ = xfer("report", out)
    check(rc == 0 and "±" in md and "kendall 90% CI" in md and "fine-tuned 3 times" in md,
          "md report: mean ± sd, the interval column, the seeds note")
    rc, text, _ = xfer("report", out, "--format", "csv")
    parts = text.split("\n\n")
    rows = list(csv.DictReader(io.StringIO(parts[0])))
    corr = list(csv.DictReader(io.StringIO(parts[1])))
    check(rc == 0 and all(r["n_seeds"] == "3" and r["best_test_acc_sd"] for r in rows),
          "csv: n_seeds and best_test_acc_sd")
    check(all(r["kendall_lo"] and r["kendall_hi"] and r["n_boot"] for r in corr),
          "csv: kendall_lo, kendall_hi, n_boot")
    rc, text, _ = xfer("report", out, "--format", "json")
    doc = json.loads(text)
    check(all(len(s["seeds"]) == 3 and s["n_seeds"] == 3 for s in doc["sources"]), "json seeds")
    check(all("kendall_lo" in c for c in doc["correlations"]["overall"].values()),
          "json intervals")
    check(rc == 0 and "bootstrap" in doc["correlations"], "json bootstrap note")

    # ---- resume: a lost fine-tune (seed 3 of one source) is redone, and only it --------------------
    keep = os.path.join(tmp, "keep.h5")
    shutil.copy(out, keep)
    with h5py.File(out, "r+") as f:
        g = f["sources"]["built"]
        g.attrs["status"] = "scored"
        for k in g["seeds"]["2"]["curve"]:
            g["seeds"]["2"]["curve"][k].resize((1,))
    rc, so, se = xfer("run", cfg, "--no-plots")
    check(rc == 0, f"resume exits 0: {se[-2000:]}")
    check("finetune built seed 3/3" in se and "finetune built seed 1/3" not in se and
          "finetune untrained" not in se, "resume redoes only the lost fine-tune")
    with h5py.File(out, "r") as f, h5py.File(keep, "r") as k:
        for n in f["sources"]:
            for where in ["curve", "seeds/1/curve", "seeds/2/curve"]:
                a, b = f["sources"][n][where], k["sources"][n][where]
                check(all(np.array_equal(a[c][()], b[c][()]) for c in a if c != "seconds"),
                      f"{n}/{where} after resume == uninterrupted")

    # ---- shards merge to the unsharded file -----------------------------------------------------
    merged = shards_and_merge(cfg, 2, os.path.join(tmp, "multi"), os.path.join(tmp, "merged.h5"))
    with h5py.File(merged, "r") as f, h5py.File(keep, "r") as k:
        for n in k["sources"]:
            a, b = f["sources"][n], k["sources"][n]
            check(int(a.attrs["n_seeds"]) == 3 and a.attrs["best_test_acc"] == b.attrs["best_test_acc"]
                  and a.attrs["best_test_acc_sd"] == b.attrs["best_test_acc_sd"],
                  f"merged {n}: the seeds' summary")
            for i in "12":
                check(np.array_equal(a["seeds"][i]["curve"]["test_acc"][()],
                                     b["seeds"][i]["curve"]["test_acc"][()]) and
                      a["seeds"][i].attrs["seed"] == b["seeds"][i].attrs["seed"],
                      f"merged {n}: seeds/{i}")
        for m in k["correlations"]:
            for key in ["kendall", "kendall_lo", "kendall_hi", "n_boot"]:
                check(f["correlations"][m].attrs[key] == k["correlations"][m].attrs[key],
                      f"merged correlations {m} {key}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
