#!/usr/bin/python3
"""Plots of an xfer results file (docs/results.md): per architecture, test accuracy vs epoch of every
source (the paper's Fig. 2/4) and a zoomed view of the top sources (Fig. 3/5); per metric, a scatter
of score vs best test accuracy with Kendall's tau in the title. Writes PNG files into DIR:
curves_<arch>.png, curves_top_<arch>.png, scatter_<metric>.png. In a pruned sweep (/prune) a cross
marks where each pruned source stopped and dotted lines the rungs' epochs.

Needs h5py and matplotlib (Debian: python3-h5py, python3-matplotlib). Exit status: 0 ok, 2 bad input."""
import argparse
import math
import os
import re
import sys


def die(msg):
    print("plot.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def load(path):
    """Reads what the plots need into plain Python structures (closes the file)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        die("%s: cannot open as HDF5 (%s)" % (path, str(e).split("(")[0].strip() or "bad file"))
    with f:
        if "xfer_version" not in f.attrs or "sources" not in f:
            die("%s: not an xfer results file (no xfer_version attribute or /sources)" % path)
        try:
            sources = []
            for name, g in f["sources"].items():
                c = g["curve"]
                sources.append({
                    "name": name,
                    "arch": text(g.attrs["arch"]),
                    "status": text(g.attrs["status"]),
                    "best": float(g.attrs["best_test_acc"]),
                    "epoch": [int(v) for v in c["epoch"][()]],
                    "test_acc": [float(v) for v in c["test_acc"][()]],
                    "scores": {m: (float(d[()]), int(d.attrs.get("direction", 1)))
                               for m, d in g["scores"].items()},
                })
            kendall = {}
            if "correlations" in f:
                for m, g in f["correlations"].items():
                    kendall[m] = (float(g.attrs["kendall"]), int(g.attrs["n"]))
            complete = int(f.attrs.get("complete", 0))
            rungs, pruned_at = set(), {}
            if "prune" in f:
                p = f["prune"]
                for e, n, k in zip(p["epoch"][()], p["source"].asstr()[()], p["kept"][()]):
                    rungs.add(int(e))
                    if int(k) == 0:
                        pruned_at[n] = int(e)
            for s in sources:
                s["pruned_at"] = pruned_at.get(s["name"])
                s["rungs"] = sorted(rungs)
        except (KeyError, OSError, ValueError, TypeError) as e:
            die("%s: not a valid xfer results file (%s)" % (path, e))
    return sources, kendall, complete


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def curves(plt, out_dir, arch, srcs, top, suffix):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lo, hi = 1.0, 0.0
    for s in srcs:
        if not s["epoch"]:
            continue
        label = s["name"] + ("" if s["status"] == "done" else " (%s)" % s["status"])
        at = s.get("pruned_at")
        if at is not None:
            label = s["name"] + " (pruned @ %d%s)" % (at, "" if s["status"] == "pruned" else
                                                       ", finished later")
        line, = ax.plot(s["epoch"], s["test_acc"], marker="o", markersize=3, label=label)
        if at is not None and at in s["epoch"]:
            ax.plot([at], [s["test_acc"][s["epoch"].index(at)]], marker="X", markersize=10,
                    color=line.get_color(), markeredgecolor="black", linestyle="none")
        tail = s["test_acc"][len(s["test_acc"]) // 2:]
        lo, hi = min(lo, min(tail)), max(hi, max(s["test_acc"]))
    for e in (srcs[0].get("rungs") or []) if srcs else []:
        ax.axvline(e, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    if top:
        ax.set_title("%s: top %d sources (zoomed)" % (arch, len(srcs)))
        if hi > lo:
            pad = 0.1 * (hi - lo) + 1e-3
            ax.set_ylim(lo - pad, hi + pad)
    else:
        ax.set_title("%s: test accuracy of every source while fine-tuning" % arch)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    path = save(fig, out_dir, "curves_%s%s.png" % (suffix, safe(arch)))
    plt.close(fig)
    return path


def scatter(plt, out_dir, metric, sources, kendall):
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    direction = 1
    for arch in sorted({s["arch"] for s in sources}):
        pts = [(s["scores"][metric][0], s["best"], s["name"]) for s in sources
               if s["arch"] == arch and s["status"] == "done" and metric in s["scores"]
               and math.isfinite(s["scores"][metric][0]) and math.isfinite(s["best"])]
        for s in sources:
            if metric in s["scores"]:
                direction = s["scores"][metric][1]
        if not pts:
            continue
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=arch)
        for x, y, n in pts:
            ax.annotate(n, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    tau, n = kendall.get(metric, (float("nan"), 0))
    ax.set_title("%s vs best accuracy: Kendall \u03c4 (oriented) = %s, n = %d" %
                 (metric, "n/a" if math.isnan(tau) else "%.3f" % tau, n), fontsize=10)
    ax.set_xlabel("%s (%s is better)" % (metric, "lower" if direction < 0 else "higher"))
    ax.set_ylabel("best test accuracy")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    path = save(fig, out_dir, "scatter_%s.png" % safe(metric))
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="plot.py", description="Plot an xfer results file (RESULTS.h5) into PNG files.")
    ap.add_argument("results", metavar="RESULTS.h5", help="results file written by xfer run/merge")
    ap.add_argument("-o", "--output", metavar="DIR", default="plots",
                    help="directory for the PNG files (created; default ./plots)")
    ap.add_argument("--top", type=int, default=3, metavar="N",
                    help="sources in the zoomed view per architecture (default 3)")
    args = ap.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        die("matplotlib is needed (Debian: python3-matplotlib): %s" % e)
    try:
        import h5py  # noqa: F401
    except ImportError as e:
        die("h5py is needed (Debian: python3-h5py): %s" % e)
    if not os.path.exists(args.results):
        die("%s: no such file" % args.results)
    sources, kendall, complete = load(args.results)
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as e:
        die("%s: cannot create the output directory: %s" % (args.output, e))
    written = []
    for arch in sorted({s["arch"] for s in sources}):
        srcs = [s for s in sources if s["arch"] == arch]
        written.append(curves(plt, args.output, arch, srcs, False, ""))
        ranked = sorted([s for s in srcs if s["epoch"] and math.isfinite(s["best"])],
                        key=lambda s: -s["best"])[:max(1, args.top)]
        if ranked:
            written.append(curves(plt, args.output, arch, ranked, True, "top_"))
    for metric in sorted({m for s in sources for m in s["scores"]}):
        written.append(scatter(plt, args.output, metric, sources, kendall))
    if not complete:
        print("plot.py: note: %s is incomplete (complete = 0)" % args.results, file=sys.stderr)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
