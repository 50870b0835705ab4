"""`xfer report RESULTS.h5 --ground-truth FILE --dataset NAME` (docs/results.md): a score-only
results file made by results_tool and edited with h5py (archs set to the benchmark's models, one
source matched by its config's ground_truth_name, scores replaced by random vectors with and
without ties, a lower-is-better score, a failed value, baselines, a saturated score) ranked against
a hand-made ground-truth CSV (with tied accuracies in one row). Every statistic is compared with
scipy.stats (weightedtau with its defaults, kendalltau, spearmanr) to 1e-12 in json and csv, top-1
with numpy; bad input exits 2 with the file (and line) named and nothing on stdout."""
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish  # noqa: E402

TOOL = sys.argv[1]
TOL = 1e-12
NAMES = ["alex_caltech", "alex_imagenet", "alex_nan", "alex_places", "alex_random",
         "res_caltech", "res_imagenet", "res_late", "res_places", "res_random"]
MODELS = ["resnet34", "resnet50", "resnet101", "resnet152", "densenet121", "densenet169",
          "densenet201", "mnasnet1_0", "mobilenet_v2", "googlenet", "inception_v3"]
# the results' arch of each source; res_late keeps resnet18 (no column) and is matched by its
# ground_truth_name instead
ARCH = dict(zip([n for n in NAMES if n != "res_late"], MODELS[:9]))
ARCH["res_late"] = "resnet18"
GT_NAME = {"res_late": "inception_v3"}

CONFIG = "experiment: gt\ndatasets:\n  d: {kind: synthetic, synthetic: {classes: 3, per_class: 8}}\n" \
         "sources:\n" + "".join(
             f"  - {{name: {n}, arch: {'alexnet' if n.startswith('alex') else 'resnet18'}, "
             f"weights: random{', ground_truth_name: ' + GT_NAME[n] if n in GT_NAME else ''}}}\n"
             for n in NAMES) + "target: {dataset: d}\n"


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


def write_truth(path, rows):
    with open(path, "w") as f:
        f.write("# a hand-made ground truth\n#   (comment lines are skipped)\n\n")
        f.write("dataset," + ",".join(MODELS) + "\n")
        for name, acc in rows.items():
            f.write(name + ", " + ",".join(repr(float(a)) for a in acc) + "\n")


def make_scores(path, rng):
    """Replaces every score by a new vector; returns {metric: (direction, {source: value})}."""
    n = len(NAMES)
    vecs = {
        "m_real": (1, rng.normal(size=n)),
        "m_ties": (1, rng.integers(0, 4, size=n).astype(float)),  # ties in the score
        "m_pairs": (1, np.repeat(rng.normal(size=n // 2), 2)),     # every value tied once
        "emd": (-1, rng.normal(100, 30, size=n)),                  # lower is better
        "m_failed": (1, rng.normal(size=n)),                       # NaN on one source
        "sfda": (1, 1.0 - 1e-9 * (np.arange(n) % 3)),              # does not discriminate
        "params": (1, rng.integers(1, 4, size=n).astype(float) * 1e6),
        "prior": (1, rng.normal(70, 5, size=n)),
    }
    vecs["m_failed"][1][3] = math.nan
    with h5py.File(path, "r+") as f:
        for i, name in enumerate(NAMES):
            g = f["sources"][name]
            g.attrs["arch"] = ARCH[name]
            g.attrs["status"] = "scored"
            del g["scores"]
            sc = g.create_group("scores")
            for m, (direction, v) in vecs.items():
                d = sc.create_dataset(m, data=float(v[i]))
                d.attrs["seconds"], d.attrs["direction"] = 0.0, direction
                if m in ("params", "prior"):
                    d.attrs["kind"] = "baseline"
                if m == "m_failed" and i == 3:
                    d.attrs["error"] = "m_failed: made up"
    return {m: (dv[0], dict(zip(NAMES, dv[1]))) for m, dv in vecs.items()}


def expected(vecs, acc_of):
    out = {}
    for m, (direction, vals) in vecs.items():
        used = [n for n in NAMES if math.isfinite(vals[n])]
        x = np.array([vals[n] * direction for n in used])
        y = np.array([acc_of[n] for n in used])
        if np.ptp(x) <= 1e-6 * np.max(np.abs(x)):
            out[m] = None  # saturated
            continue
        b = int(np.argmax(x))
        out[m] = {"n": len(used), "weighted_tau": stats.weightedtau(x, y)[0],
                  "kendall": stats.kendalltau(x, y)[0], "spearman": stats.spearmanr(x, y)[0],
                  "top1_hit": float(y[b] == y.max()), "top1_gap": float(y.max() - y[b]),
                  "best_source": used[b]}
    return out


def close(a, b):
    return a is not None and abs(a - b) <= TOL


tmp = tempfile.mkdtemp(prefix="xfer-gt-")
try:
    base = os.path.join(tmp, "base.h5")
    r = run(TOOL, "write", base, "--config", CONFIG)
    check(r.returncode == 0, "results_tool write: " + r.stderr)
    truth = os.path.join(tmp, "acc.csv")
    rng = np.random.default_rng(20261201)
    rows = {"plain": rng.normal(85, 5, size=11).round(2),
            "tied": np.array([84.6, 85.8, 85.8, 86.3, 85.3, 85.8, 85.7, 81.1, 82.8, 82.8, 83.8])}
    write_truth(truth, rows)
    compared = 0
    for trial in range(3):
        path = os.path.join(tmp, f"trial{trial}.h5")
        shutil.copy(base, path)
        vecs = make_scores(path, rng)
        for ds, accs in rows.items():
            col = dict(zip(MODELS, accs))
            acc_of = {n: col[GT_NAME.get(n, ARCH[n])] for n in NAMES}
            want = expected(vecs, acc_of)
            r = run(XFER, "report", path, "--ground-truth", truth, "--dataset", ds,
                    "--format", "json")
            if not check(r.returncode == 0, f"json report {ds}: {r.stderr}"):
                continue
            j = json.loads(r.stdout)
            check(j["ground_truth"] == {"file": truth, "dataset": ds}, "json: ground truth named")
            got_src = {s["name"]: s for s in j["sources"]}
            check(all(got_src[n]["published_acc"] == acc_of[n] and
                      got_src[n]["ground_truth"] == GT_NAME.get(n, ARCH[n]) for n in NAMES),
                  f"json: sources matched to their columns ({ds})")
            r2 = run(XFER, "report", path, "--ground-truth", truth, "--dataset", ds,
                     "--format", "csv")
            check(r2.returncode == 0, "csv report: " + r2.stderr)
            parts = r2.stdout.split("\n\n")
            crows = {row["metric"]: row for row in csv.DictReader(io.StringIO(parts[1]))}
            for m, w in want.items():
                c = j["correlations"][m]
                cr = crows[m]
                if w is None:
                    check(c["weighted_tau"] is None and c.get("empty_reason") and
                          cr["weighted_tau"] == "" and cr["empty_reason"],
                          f"{m}: saturated, empty with a reason")
                    continue
                check(c["n"] == w["n"] and int(cr["n"]) == w["n"], f"{m} {ds}: n {c['n']}")
                for k in ("weighted_tau", "kendall", "spearman", "top1_hit", "top1_gap"):
                    compared += 1
                    check(close(c[k], w[k]), f"{m} {ds} trial {trial}: json {k} {c[k]} vs "
                          f"scipy {w[k]}")
                    check(close(float(cr[k]), w[k]), f"{m} {ds}: csv {k} {cr[k]} vs {w[k]}")
                check(c["best_source"] == w["best_source"] == cr["best_source"],
                      f"{m} {ds}: best source {c['best_source']} vs {w['best_source']}")
                check(c["kind"] == ("baseline" if m in ("params", "prior") else "metric"),
                      f"{m}: kind")
            r3 = run(XFER, "report", path, "--ground-truth", truth, "--dataset", ds)
            check(r3.returncode == 0 and "against published accuracies" in r3.stdout and
                  "| params (baseline) |" in r3.stdout and "| inception_v3 |" in r3.stdout,
                  "md report: " + r3.stderr)
            wt = want["m_real"]["weighted_tau"]
            check(f"| m_real | 10 | {wt:.3f} |" in r3.stdout, f"md: m_real's row ({wt:.3f})")
    check(compared == 3 * 2 * 7 * 5, f"every statistic compared ({compared})")

    # ---- bad input: exit 2, the file (and line) named, nothing on stdout -----------------------
    path = os.path.join(tmp, "trial0.h5")

    def bad(args, *needles, what):
        r = run(XFER, "report", path, *args)
        check(r.returncode == 2 and r.stdout == "" and all(s in r.stderr for s in needles),
              f"{what}: rc {r.returncode} {r.stderr!r}")

    bad(["--ground-truth", truth, "--dataset", "nosuch"], truth, "no dataset 'nosuch'",
        "plain, tied", what="unknown dataset")
    bad(["--ground-truth", os.path.join(tmp, "missing.csv"), "--dataset", "plain"],
        "missing.csv", "cannot open", what="missing file")
    bad(["--ground-truth", truth], "--dataset", what="--ground-truth without --dataset")
    bad(["--dataset", "plain"], "--ground-truth", what="--dataset without --ground-truth")
    broken = os.path.join(tmp, "broken.csv")
    with open(truth) as f:
        lines = f.read().splitlines()
    with open(broken, "w") as f:  # line 6: a cell that is not a number
        f.write("\n".join(lines[:5] + [lines[5].replace("85.8", "85,8", 1)]) + "\n")
    bad(["--ground-truth", broken, "--dataset", "plain"], broken + ":6:", "cells",
        what="a row with too many cells")
    with open(broken, "w") as f:
        f.write("\n".join(lines[:5] + [lines[5].replace("85.8", "n/a", 1)]) + "\n")
    bad(["--ground-truth", broken, "--dataset", "plain"], broken + ":6:", "'n/a' is not a number",
        what="a cell that is not a number")
    with open(broken, "w") as f:
        f.write("# only comments\n")
    bad(["--ground-truth", broken, "--dataset", "plain"], broken, "no header",
        what="no header")
    shutil.copy(path, os.path.join(tmp, "edit.h5"))
    path = os.path.join(tmp, "edit.h5")
    with h5py.File(path, "r+") as f:
        f["sources"]["alex_places"].attrs["arch"] = "alexnet"
    bad(["--ground-truth", truth, "--dataset", "plain"], "'alex_places'", "arch 'alexnet'",
        "ground_truth_name", what="a source that matches no column")
    with h5py.File(path, "r+") as f:
        f["sources"]["alex_places"].attrs["arch"] = "resnet34"
    bad(["--ground-truth", truth, "--dataset", "plain"], "both match column 'resnet34'",
        what="two sources on one column")

    # ---- the config key ----------------------------------------------------------------------
    cfg = os.path.join(tmp, "gt.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    r = run(XFER, "validate", cfg)
    check(r.returncode == 0, "validate accepts ground_truth_name: " + r.stderr)
    with open(cfg, "w") as f:
        f.write(CONFIG.replace("ground_truth_name: inception_v3", "ground_truth_name: [a, b]"))
    r = run(XFER, "validate", cfg)
    line = 5 + NAMES.index("res_late")
    check(r.returncode == 2 and f":{line}:" in r.stderr and "ground_truth_name" in r.stderr,
          "a list as ground_truth_name: exit 2 with its line: " + r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
