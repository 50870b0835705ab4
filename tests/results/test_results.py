"""The results file end to end: schema checked with h5py, correlations against scipy, `xfer report`
in md/csv/json, `xfer merge` of shards equals the unsharded file, merge refusals, plot.py, bad files,
the writer lock, and readability after SIGKILL at random moments. The experiments are written by
results_tool through the C API with made-up numbers (input data); every expected value here is
recomputed independently from the file with numpy/scipy."""
import csv
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

import h5py
import numpy as np
from scipy import stats

TOOL = sys.argv[1]
XFER = os.environ["XFER"]
SRC = os.environ["XFER_SOURCE_DIR"]
PASSED = FAILED = 0
CORR = ["pearson", "spearman", "kendall", "weighted_tau", "top1_hit", "top1_gap"]


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


def close(a, b, rtol=1e-9, atol=1e-12):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= atol + rtol * abs(b)


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def s(v):
    return v.decode() if isinstance(v, bytes) else v


def ref_corr(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = len(x)
        vals = [stats.pearsonr(x, y)[0] if n >= 2 else math.nan,
                stats.spearmanr(x, y)[0] if n >= 2 else math.nan,
                stats.kendalltau(x, y)[0] if n >= 2 else math.nan,
                stats.weightedtau(x, y)[0] if n >= 2 else math.nan]
    if n == 0:
        return [float(v) for v in vals] + [math.nan, math.nan]
    i = int(np.argmax(x))
    gap = float(np.max(y) - y[i])
    return [float(v) for v in vals] + [1.0 if gap == 0 else 0.0, gap]


def check_schema(path):
    with h5py.File(path, "r") as f:
        for k, t in [("xfer_version", str), ("config", str), ("created", str), ("device", str),
                     ("precision", str)]:
            check(isinstance(f.attrs[k], t), "root attr %s is a str" % k)
        check(int(f.attrs["seed"]) == 42, "seed")
        check(int(f.attrs["complete"]) in (0, 1), "complete is 0/1")
        t = f["target"]
        check(s(t.attrs["dataset"]) == "fashion-mnist:unicode-\u00e9", "UTF-8 dataset name")
        check(h5py.check_string_dtype(t["class_names"].dtype).encoding == "utf-8",
              "class_names are UTF-8 vlen strings")
        check([s(v) for v in t["class_names"][()]][0] == "T-shirt/top", "class_names content")
        check(t["train_files"].shape == (3,) and t["test_files"].shape == (2,), "file lists")
        for k in ("n_train", "n_test", "n_classes"):
            check(k in t.attrs, "target attr " + k)
        for name, g in f["sources"].items():
            for k in ("arch", "weights", "chain", "status", "error", "best_test_acc", "best_epoch",
                      "epochs_to_95pct", "curve_auc"):
                check(k in g.attrs, "%s attr %s" % (name, k))
            check(s(g.attrs["status"]) in ("pending", "scored", "done", "failed"), "status value")
            for m, d in g["scores"].items():
                check(d.shape == () and d.dtype == np.float64, "%s/%s scalar f64" % (name, m))
                check("seconds" in d.attrs and int(d.attrs["direction"]) in (1, -1),
                      "%s/%s seconds+direction" % (name, m))
                check(("mean" in d.attrs) == (m in ("softmax_max", "emd")), "mean attr " + m)
            c = g["curve"]
            n = c["epoch"].shape[0]
            for k in ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"):
                check(c[k].maxshape == (None,) and c[k].chunks is not None and c[k].shape == (n,),
                      "%s curve/%s extendible, length %d" % (name, k, n))
            acc = c["test_acc"][()]
            if n:
                best = acc.max()
                check(close(float(g.attrs["best_test_acc"]), float(best)), name + " best_test_acc")
                check(int(g.attrs["best_epoch"]) == int(c["epoch"][int(np.argmax(acc))]),
                      name + " best_epoch")
                first95 = int(c["epoch"][int(np.nonzero(acc >= 0.95 * best)[0][0])])
                check(int(g.attrs["epochs_to_95pct"]) == first95, name + " epochs_to_95pct")
                check(close(float(g.attrs["curve_auc"]), float(acc.mean())), name + " curve_auc")
            else:
                check(math.isnan(g.attrs["best_test_acc"]) and int(g.attrs["best_epoch"]) == -1,
                      name + " empty curve -> NaN / -1")


def check_correlations(path):
    with h5py.File(path, "r") as f:
        done = [g for g in f["sources"].values() if s(g.attrs["status"]) == "done"]
        metrics = sorted({m for g in done for m in g["scores"]})
        scopes = [None] + sorted({s(g.attrs["arch"]) for g in done})
        check(len(metrics) == 3 and len(scopes) == 3, "metrics and archs present")
        for arch in scopes:
            for m in metrics:
                grp = f["correlations"][m] if arch is None else f["correlations_by_arch"][arch][m]
                sel = [g for g in done if arch is None or s(g.attrs["arch"]) == arch]
                x = np.array([float(g["scores"][m][()]) * int(g["scores"][m].attrs["direction"])
                              for g in sel])
                for suffix, key in (("", "best_test_acc"), ("_auc", "curve_auc")):
                    y = np.array([float(g.attrs[key]) for g in sel])
                    for name, ref in zip(CORR, ref_corr(x, y)):
                        got = float(grp.attrs[name + suffix])
                        check(close(got, ref), "%s/%s %s%s: xfer %r scipy %r" %
                              (arch or "all", m, name, suffix, got, ref))
                check(int(grp.attrs["n"]) == len(sel), "n of %s/%s" % (arch, m))
        emd = f["correlations"]["emd"]
        check(int(emd.attrs["direction"]) == -1, "emd direction -1")


def best_marks(path):
    """(arch, source, metric) that hold the best oriented score in their arch."""
    out = set()
    with h5py.File(path, "r") as f:
        srcs = list(f["sources"].items())
        archs = {s(g.attrs["arch"]) for _, g in srcs}
        metrics = {m for _, g in srcs for m in g["scores"]}
        for a in archs:
            for m in metrics:
                vals = [(float(g["scores"][m][()]) * int(g["scores"][m].attrs["direction"]), n)
                        for n, g in srcs if s(g.attrs["arch"]) == a and m in g["scores"]]
                if vals:
                    b = max(v for v, _ in vals)
                    out |= {(a, n, m) for v, n in vals if v == b}
    return out


def check_report(path):
    md = run(XFER, "report", path)
    check(md.returncode == 0, "report md exit 0: " + md.stderr)
    text = md.stdout
    check("positive value means the metric ranked the sources well" in text, "orientation note")
    check("### alexnet" in text and "### resnet18" in text, "per-arch tables")
    marks = best_marks(path)
    header = None
    for line in text.splitlines():
        if line.startswith("| source |"):
            header = [c.strip() for c in line.strip("|").split("|")]
        elif header and line.startswith("| ") and not line.startswith("| scope"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) != len(header):
                continue
            for col, cell in zip(header, cells):
                m = col.split(" ")[0]
                if m in ("emd", "leep", "softmax_max"):
                    arch = "alexnet" if cells[0].startswith("alex") else "resnet18"
                    check(cell.endswith("*") == ((arch, cells[0], m) in marks),
                          "md best mark %s %s %r" % (cells[0], m, cell))
    c = run(XFER, "report", path, "--format", "csv")
    check(c.returncode == 0, "report csv exit 0")
    parts = c.stdout.split("\n\n")
    check(len(parts) == 2, "csv has two sections")
    rows = list(csv.DictReader(io.StringIO(parts[0])))
    corr_rows = list(csv.DictReader(io.StringIO(parts[1])))
    j = run(XFER, "report", path, "--format", "json")
    check(j.returncode == 0, "report json exit 0")
    doc = json.loads(j.stdout)
    with h5py.File(path, "r") as f:
        check(len(rows) == len(f["sources"]) == len(doc["sources"]), "one row per source")
        for r in rows:
            g = f["sources"][r["source"]]
            check(r["status"] == s(g.attrs["status"]), "csv status " + r["source"])
            for m in g["scores"]:
                check(close(float(r[m]), float(g["scores"][m][()]), 1e-15), "csv score")
            acc = float(g.attrs["best_test_acc"])
            check((r["best_test_acc"] == "") == math.isnan(acc), "csv NaN -> empty")
            best = set(filter(None, r["best"].split(";")))
            check(best == {m for a, n, m in marks if n == r["source"]}, "csv best column")
        for js in doc["sources"]:
            g = f["sources"][js["name"]]
            for m, sc in js["scores"].items():
                check(close(sc["value"], float(g["scores"][m][()]), 1e-15), "json score")
                check(sc["direction"] == int(g["scores"][m].attrs["direction"]), "json dir")
                check(("mean" in sc) == (m in ("softmax_max", "emd")), "json mean")
            acc = float(g.attrs["best_test_acc"])
            check((js["best_test_acc"] is None) == math.isnan(acc), "json NaN -> null")
        for m, grp in f["correlations"].items():
            jc = doc["correlations"]["overall"][m]
            for k in CORR:
                check(close(jc[k], float(grp.attrs[k]), 1e-15), "json corr %s %s" % (m, k))
        for a, ag in f["correlations_by_arch"].items():
            for m, grp in ag.items():
                check(close(doc["correlations"]["by_arch"][a][m]["kendall"],
                            float(grp.attrs["kendall"]), 1e-15), "json by-arch kendall")
        check(len(corr_rows) == len(f["correlations"]) * (1 + len(f["correlations_by_arch"])),
              "csv correlation rows")
    check(doc["complete"] is True and doc["correlations"]["stored_in_file"], "json flags")


def same_files(a, b):
    """Everything equal except nothing (created is fixed by the tool)."""
    diffs = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        def cmp_attrs(x, y, where):
            if set(x.attrs) != set(y.attrs):
                diffs.append(where + " attr names")
            for k in x.attrs:
                va, vb = x.attrs[k], y.attrs.get(k)
                if isinstance(va, (float, np.floating)):
                    if not close(float(va), float(vb), 0, 0):
                        diffs.append("%s@%s %r %r" % (where, k, va, vb))
                elif s(va) != s(vb):
                    diffs.append("%s@%s" % (where, k))
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if names_a != names_b:
            diffs.append("object lists differ: %s" % set(names_a) ^ set(names_b))
        cmp_attrs(fa, fb, "/")
        for n in names_a:
            if n not in fb:
                continue
            cmp_attrs(fa[n], fb[n], n)
            if isinstance(fa[n], h5py.Dataset):
                x, y = fa[n][()], fb[n][()]
                x, y = np.asarray(x), np.asarray(y)
                nan_ok = x.dtype.kind == "f" and y.dtype.kind == "f"
                if x.shape != y.shape or not np.array_equal(x, y, equal_nan=nan_ok):
                    diffs.append(n)
    return diffs


def main():
    tmp = tempfile.mkdtemp(prefix="xfer_results_")
    try:
        full = os.path.join(tmp, "full.h5")
        r = run(TOOL, "write", full)
        check(r.returncode == 0, "write full: " + r.stderr)
        check_schema(full)
        check_correlations(full)
        check_report(full)

        inc = os.path.join(tmp, "inc.h5")
        check(run(TOOL, "write", inc, "--incomplete").returncode == 0, "write incomplete")
        check_schema(inc)
        check_correlations(inc)
        md = run(XFER, "report", inc)
        check(md.returncode == 0 and "Incomplete results" in md.stdout and
              "pending: alex_random" in md.stdout, "incomplete report marked")
        js = json.loads(run(XFER, "report", inc, "--format", "json").stdout)
        check(js["complete"] is False and js["status_counts"]["pending"] == 3, "json incomplete")

        # merge: three shards equal the unsharded file
        shards = []
        for i in range(3):
            p = os.path.join(tmp, "shard%d.h5" % i)
            check(run(TOOL, "write", p, "--shard", "%d/3" % i).returncode == 0, "write shard")
            shards.append(p)
        merged = os.path.join(tmp, "merged.h5")
        m = run(XFER, "merge", merged, *shards)
        check(m.returncode == 0, "merge exit 0: " + m.stderr)
        d = same_files(full, merged)
        check(not d, "merged == unsharded: %s" % d[:5])
        check(not os.path.exists(merged + ".tmp"), "no temp left")
        m = run(XFER, "merge", merged, *shards)
        check(m.returncode == 2 and merged in m.stderr, "merge refuses existing OUT")
        m = run(XFER, "merge", "--force", merged, shards[0], shards[0], shards[1], shards[2])
        check(m.returncode == 0 and not same_files(full, merged), "identical duplicates merge")
        other = os.path.join(tmp, "other.h5")
        run(TOOL, "write", other, "--shard", "1/3", "--config", "another: config\n")
        out2 = os.path.join(tmp, "out2.h5")
        m = run(XFER, "merge", out2, shards[0], other)
        check(m.returncode == 2 and other in m.stderr and "config" in m.stderr,
              "different config refused naming the file: " + m.stderr)
        check(not os.path.exists(out2), "no output after refusal")
        changed = os.path.join(tmp, "changed.h5")
        shutil.copy(shards[0], changed)
        with h5py.File(changed, "r+") as f:
            f["sources/alex_imagenet/scores/leep"][()] = 123.0
        m = run(XFER, "merge", out2, shards[0], changed)
        check(m.returncode == 2 and changed in m.stderr and "alex_imagenet" in m.stderr,
              "duplicate with different content refused: " + m.stderr)

        # bad files
        garbage = os.path.join(tmp, "garbage.h5")
        with open(garbage, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + os.urandom(3000))
        trunc = os.path.join(tmp, "truncated.h5")
        with open(full, "rb") as f:
            data = f.read()
        with open(trunc, "wb") as f:
            f.write(data[: len(data) // 3])
        for p in (garbage, trunc, os.path.join(tmp, "missing.h5")):
            r = run(XFER, "report", p)
            check(r.returncode == 2 and p in r.stderr and "Traceback" not in r.stderr,
                  "report on bad file %s -> exit 2 naming it: rc %d %s" % (p, r.returncode,
                                                                          r.stderr))
        foreign = os.path.join(tmp, "foreign.h5")
        with h5py.File(foreign, "w") as f:
            f["x"] = np.arange(3)
        r = run(XFER, "report", foreign)
        check(r.returncode == 2 and "not a valid xfer results file" in r.stderr, "foreign h5")
        r = run(XFER, "report", full, "--format", "xml")
        check(r.returncode == 2, "bad --format -> 2")

        # the writer lock
        hold = subprocess.Popen([TOOL, "hold", full], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        check(hold.stdout.readline().strip() == "locked", "holder took the lock")
        r = run(TOOL, "open", full)
        check(r.returncode == 2 and "another xfer process" in r.stderr and full in r.stderr,
              "second writer refused: " + r.stderr)
        r = run(XFER, "merge", "--force", full, shards[0])
        check(r.returncode == 2 and "another xfer process" in r.stderr, "merge into locked OUT")
        check(run(XFER, "report", full).returncode == 0, "readers need no lock")
        hold.stdin.close()
        check(hold.wait(timeout=30) == 0, "holder exits 0")
        check(run(TOOL, "open", full).returncode == 0, "lock released")

        # SIGKILL at random moments: the file is always a readable results file
        crash = os.path.join(tmp, "crash.h5")
        shutil.copy(full, crash)
        rng = random.Random(5)
        ok = 0
        for _ in range(12):
            p = subprocess.Popen([TOOL, "write", crash], stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 1.0))
            p.send_signal(signal.SIGKILL)
            p.wait()
            try:
                with h5py.File(crash, "r") as f:
                    ok += "xfer_version" in f.attrs
            except OSError as e:
                print("unreadable after SIGKILL:", e)
            rr = run(XFER, "report", crash)
            ok += rr.returncode == 0
        check(ok == 24, "readable after every SIGKILL (%d/24)" % ok)

        # plots
        plots = os.path.join(tmp, "plots")
        r = run(sys.executable, os.path.join(SRC, "scripts", "plot.py"), full, "-o", plots)
        check(r.returncode == 0, "plot.py exit 0: " + r.stderr[-2000:])
        pngs = sorted(os.listdir(plots)) if os.path.isdir(plots) else []
        want = {"curves_alexnet.png", "curves_resnet18.png", "curves_top_alexnet.png",
                "curves_top_resnet18.png", "scatter_emd.png", "scatter_leep.png",
                "scatter_softmax_max.png"}
        check(want <= set(pngs), "plot files: %s" % pngs)
        for p in pngs:
            with open(os.path.join(plots, p), "rb") as f:
                check(f.read(8) == b"\x89PNG\r\n\x1a\n", p + " is a PNG")
        r = run(sys.executable, os.path.join(SRC, "scripts", "plot.py"), garbage, "-o", plots)
        check(r.returncode == 2 and garbage in r.stderr and "Traceback" not in r.stderr,
              "plot.py bad file -> 2: " + r.stderr[-500:])
        r = run(sys.executable, os.path.join(SRC, "scripts", "plot.py"), "--help")
        check(r.returncode == 0 and "RESULTS" in r.stdout, "plot.py --help")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
