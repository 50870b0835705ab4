"""Score kinds in the results file (docs/results.md): baselines (attribute kind = "baseline") are
reported beside the metrics and correlated like them but marked; a failed score (NaN value with
an `error` attribute) is reported with its reason; a metric whose values do not discriminate
between the sources (within XFER_SATURATION_RTOL) is not ranked and its correlations are empty
with the reason, in md, csv and json and in the file written by `xfer merge`. The files are
written by results_tool and edited with h5py; every expectation is computed here."""
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
RTOL = 1e-6  # XFER_SATURATION_RTOL


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


tmp = tempfile.mkdtemp(prefix="xfer-kinds-")
try:
    base = os.path.join(tmp, "base.h5")
    check(run(TOOL, "write", base).returncode == 0, "results_tool write")
    path = os.path.join(tmp, "kinds.h5")
    shutil.copy(base, path)
    acc = {}
    with h5py.File(path, "r+") as f:
        del f["correlations"], f["correlations_by_arch"]  # the report computes them now
        names = sorted(f["sources"])
        for i, name in enumerate(names):
            g = f["sources"][name]
            sc = g["scores"]
            acc[name] = (g.attrs["status"], float(g.attrs["best_test_acc"]), g.attrs["arch"])
            # a baseline: a number per source known without target data
            d = sc.create_dataset("prior", data=50.0 + 3.0 * ((i * 7) % 5))
            d.attrs["seconds"], d.attrs["direction"], d.attrs["kind"] = 0.0, 1, "baseline"
            # saturated: 1.0 everywhere up to 1e-9 relative (sfda at large N)
            d = sc.create_dataset("sfda", data=1.0 - 1e-9 * (i % 3))
            d.attrs["seconds"], d.attrs["direction"] = 0.0, 1
            # a metric that failed on one source
            d = sc.create_dataset("gbc", data=math.nan if name == "res_places" else -float(i))
            d.attrs["seconds"], d.attrs["direction"] = 0.0, 1
            if name == "res_places":
                d.attrs["error"] = "gbc: target class 2 has 1 sample"
    r = run(XFER, "report", path)
    check(r.returncode == 0, "report md: " + r.stderr)
    md = r.stdout
    check("| prior (baseline) ↑ |" in md, "md: baseline marked in Table 1")
    check("| all | prior (baseline) |" in md, "md: baseline marked in the correlations")
    check("sfda (alexnet) does not discriminate" in md and "sfda (resnet18) does not" in md,
          "md: saturated metric named per arch")
    check("- res_places, gbc: gbc: target class 2 has 1 sample" in md, "md: failed score's reason")
    rows = [l for l in md.splitlines() if l.startswith("| res_places |")]
    check(len(rows) == 1 and " failed |" in rows[0], "md: failed cell")
    header = [l for l in md.splitlines() if l.startswith("| source |")][0]
    cols = [c.strip() for c in header.strip("|").split("|")]
    k = cols.index("sfda ↑")
    for l in md.splitlines():
        if l.startswith("| alex_") or l.startswith("| res_"):
            check(not l.strip("|").split("|")[k].strip().endswith("*"), "md: no best mark for sfda")
    corr_rows = [l for l in md.splitlines() if l.startswith("| all | sfda |")]
    check(len(corr_rows) == 1 and corr_rows[0].count(" – |") >= 10, "md: sfda correlations empty")
    check("- sfda (all): does not discriminate" in md, "md: reason of the empty row")

    # correlations of the baseline against scipy over the done sources
    done = [n for n in names if acc[n][0] == "done"]
    with h5py.File(path, "r") as f:
        x = np.array([float(f["sources"][n]["scores"]["prior"][()]) for n in done])
    y = np.array([acc[n][1] for n in done])
    r = run(XFER, "report", path, "--format", "json")
    check(r.returncode == 0, "report json")
    doc = json.loads(r.stdout)
    c = doc["correlations"]["overall"]
    check(c["prior"]["kind"] == "baseline" and c["leep"]["kind"] == "metric", "json: kinds")
    check(abs(c["prior"]["spearman"] - stats.spearmanr(x, y)[0]) < 1e-12, "json: prior spearman")
    check(c["sfda"]["spearman"] is None and "does not discriminate" in c["sfda"]["empty_reason"],
          "json: sfda empty with reason")
    check("empty_reason" not in c["leep"], "json: leep not empty")
    js = {s_["name"]: s_ for s_ in doc["sources"]}
    check(js["res_places"]["scores"]["gbc"]["error"].startswith("gbc: target class 2"),
          "json: score error")
    check(js["res_places"]["scores"]["prior"]["kind"] == "baseline", "json: score kind")
    check("sfda" in js["alex_imagenet"]["not_ranked_in_arch"], "json: not ranked")
    check("sfda" not in js["alex_imagenet"]["best_score_in_arch"], "json: sfda not best")
    r = run(XFER, "report", path, "--format", "csv")
    check(r.returncode == 0, "report csv")
    parts = r.stdout.split("\n\n")
    t1 = list(csv.DictReader(io.StringIO(parts[0])))
    cr = {(row["scope"], row["metric"]): row for row in csv.DictReader(io.StringIO(parts[1]))}
    check(cr[("all", "prior")]["kind"] == "baseline", "csv: baseline kind")
    check(cr[("all", "sfda")]["spearman"] == "" and "does not discriminate" in
          cr[("all", "sfda")]["empty_reason"], "csv: sfda empty with reason")
    rp = [row for row in t1 if row["source"] == "res_places"][0]
    check("gbc: gbc: target class 2" in rp["score_errors"], "csv: score error")
    check("sfda" in rp["not_ranked"], "csv: not ranked")

    # the same values 1e-3 apart relative are ranked again (the threshold is relative)
    wide = os.path.join(tmp, "wide.h5")
    shutil.copy(path, wide)
    with h5py.File(wide, "r+") as f:
        for i, n in enumerate(names):
            f["sources"][n]["scores"]["sfda"][()] = 1.0 - 1e-3 * (i % 3)
    doc = json.loads(run(XFER, "report", wide, "--format", "json").stdout)
    check(doc["correlations"]["overall"]["sfda"]["spearman"] is not None, "1e-3 apart: ranked")

    # merge writes the empty rows with their reason into the file
    merged = os.path.join(tmp, "merged.h5")
    r = run(XFER, "merge", merged, path)
    check(r.returncode == 0, "merge: " + r.stderr)
    with h5py.File(merged, "r") as f:
        g = f["correlations"]["sfda"]
        check(math.isnan(g.attrs["spearman"]) and "does not discriminate" in g.attrs["empty_reason"],
              "merged file: empty correlations with the reason")
        check("empty_reason" not in f["correlations"]["leep"].attrs, "merged: leep has none")
        check(f["sources"]["res_places"]["scores"]["prior"].attrs["kind"] == "baseline",
              "merged: kind kept")
        check(f["sources"]["res_places"]["scores"]["gbc"].attrs["error"].startswith("gbc:"),
              "merged: error kept")

    # pool-level scores (etran, ncti): raw terms per source; the value is pooled over the sources
    # present when the file is read; shards merged = the unsharded file
    def add_pool(p):
        with h5py.File(p, "r+") as f:
            for name in f["sources"]:
                if "scores" not in f["sources"][name]:
                    continue
                for metric, terms in TERMS.items():
                    d = f["sources"][name]["scores"].create_dataset(metric, data=math.nan)
                    d.attrs["seconds"], d.attrs["direction"] = 0.0, 1
                    d.attrs["terms"] = np.array(terms[name])

    with h5py.File(base, "r") as f:
        names = sorted(f["sources"])
    TERMS = {"etran": {n: [0.3 + 0.07 * ((i * 5) % 7), -2.0 + 0.5 * ((i * 3) % 4)]
                       for i, n in enumerate(names)},
             "ncti": {n: [40.0 + 3.0 * ((i * 3) % 5), 0.5 + 0.04 * ((i * 2) % 7),
                          3.0 + 0.1 * ((i * 5) % 3)] for i, n in enumerate(names)}}
    sc = lambda v: (v - v.min()) / (v.max() - v.min())
    t = np.array([TERMS["etran"][n] for n in names])
    want = {"etran": dict(zip(names, 0.85 * sc(t[:, 0]) + 0.15 * sc(t[:, 1])))}
    t = np.array([TERMS["ncti"][n] for n in names])  # BUserName/NCTI: ncc + seli - vc
    want["ncti"] = dict(zip(names, sc(t[:, 1]) + sc(t[:, 0]) - sc(t[:, 2])))
    full = os.path.join(tmp, "pool_full.h5")
    shutil.copy(base, full)
    add_pool(full)
    doc = json.loads(run(XFER, "report", full, "--format", "json").stdout)
    shards = []
    for i in range(3):
        sp = os.path.join(tmp, f"pool_shard{i}.h5")
        check(run(TOOL, "write", sp, "--shard", f"{i}/3").returncode == 0, "write shard")
        add_pool(sp)
        shards.append(sp)
    one = json.loads(run(XFER, "report", shards[0], "--format", "json").stdout)
    merged = os.path.join(tmp, "pool_merged.h5")
    r = run(XFER, "merge", merged, *shards)
    check(r.returncode == 0, "merge shards: " + r.stderr)
    m = json.loads(run(XFER, "report", merged, "--format", "json").stdout)
    run(XFER, "merge", os.path.join(tmp, "pool_u.h5"), full)
    mu = json.loads(run(XFER, "report", os.path.join(tmp, "pool_u.h5"), "--format", "json").stdout)
    for metric in TERMS:
        w = want[metric]
        got = {s_["name"]: s_["scores"][metric]["value"] for s_ in doc["sources"]}
        check(all(abs(got[n] - w[n]) <= 1e-12 for n in names),
              f"{metric} pooled on read: {got} {w}")
        vals0 = {s_["name"]: s_["scores"][metric]["value"] for s_ in one["sources"]
                 if metric in s_["scores"]}
        check(any(abs(vals0[n] - w[n]) > 1e-6 for n in vals0),
              f"{metric}: a shard alone pools over its own")
        with h5py.File(merged, "r") as f:
            for n in names:
                v = float(f["sources"][n]["scores"][metric][()])
                check(abs(v - w[n]) <= 1e-12, f"merged file holds the pooled {metric} of {n}: {v}")
        check(m["correlations"]["overall"][metric] == mu["correlations"]["overall"][metric],
              f"sharded+merged correlations of {metric} = unsharded")
        check(all(abs(s_["scores"][metric]["value"] - w[s_["name"]]) <= 1e-12
                  for s_ in m["sources"]), f"merged report values of {metric}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
