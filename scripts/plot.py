#!/usr/bin/python3
"""Plots of an xfer results file (docs/results.md): per architecture, test accuracy vs epoch of every
source (the paper's Fig. 2/4) and a zoomed view of the top sources (Fig. 3/5); per metric, a scatter
of score vs best test accuracy with Kendall's tau in the title. Writes PNG files into DIR:
curves_<arch>.png, curves_top_<arch>.png, scatter_<metric>.png. In a pruned sweep (/prune) a cross
marks where each pruned source stopped and dotted lines the rungs' epochs.
With several fine-tunes per source
(the config's `seeds`) a curve is the mean over them with a band from their minimum to their
maximum, and a scatter point is the mean best accuracy with an error bar of one standard deviation;
the title then gives the bootstrap 90% interval of tau.

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
                runs = [[float(v) for v in c["test_acc"][()]]]
                if "seeds" in g:
                    for k in sorted(g["seeds"], key=lambda k: int(k) if k.isdigit() else 0):
                        runs.append([float(v) for v in g["seeds"][k]["curve"]["test_acc"][()]])
                sources.append({
                    "runs": runs,
                    "sd": float(g.attrs.get("best_test_acc_sd", float("nan"))),
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
                    kendall[m] = (float(g.attrs["kendall"]), int(g.attrs["n"]),
                                  float(g.attrs.get("kendall_lo", float("nan"))),
                                  float(g.attrs.get("kendall_hi", float("nan"))),
                                  text(g.attrs.get("empty_reason", "")))
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


def mean_curve(s):
    """Epochs, mean, min and max of test_acc over the source's fine-tunes (rows they all have)."""
    n = min(len(r) for r in s["runs"])
    ep = s["epoch"][:n]
    rows = [[r[i] for r in s["runs"] if math.isfinite(r[i])] for i in range(n)]
    mean = [sum(v) / len(v) if v else float("nan") for v in rows]
    lo = [min(v) if v else float("nan") for v in rows]
    hi = [max(v) if v else float("nan") for v in rows]
    return ep, mean, lo, hi


LINESTYLES = ["-", "--", "-.", ":"]


def curves(plt, out_dir, arch, srcs, top, suffix):
    fig, ax = plt.subplots(figsize=(8, 4.8))
    lo_y, hi_y = 1.0, 0.0
    n_seeds = max((len(s["runs"]) for s in srcs), default=1)
    colours = plt.get_cmap("tab10").colors
    drawn = [s for s in srcs if s["epoch"]]
    for k, s in enumerate(sorted(drawn, key=lambda s: -s["best"] if math.isfinite(s["best"]) else 1)):
        ep, mean, lo, hi = mean_curve(s)
        if not ep:
            continue
        label = s["name"] + ("" if s["status"] == "done" else " (%s)" % s["status"])
        at = s.get("pruned_at")
        if at is not None:
            label = s["name"] + " (pruned @ %d%s)" % (at, "" if s["status"] == "pruned" else
                                                       ", finished later")
        if math.isfinite(s["best"]):
            label += "  %.3f" % s["best"] + (" \u00b1 %.3f" % s["sd"] if math.isfinite(s["sd"]) else "")
        colour = colours[k % len(colours)]
        ax.plot(ep, mean, marker="o", markersize=3, color=colour,
                linestyle=LINESTYLES[(k // len(colours)) % len(LINESTYLES)], label=label)
        if len(s["runs"]) > 1:
            ax.fill_between(ep, lo, hi, color=colour, alpha=0.15, linewidth=0)
        if at is not None and at in ep:
            ax.plot([at], [mean[ep.index(at)]], marker="X", markersize=10,
                    color=colour, markeredgecolor="black", linestyle="none")
        tail = [v for v in mean[len(mean) // 2:] if math.isfinite(v)]
        if tail:
            lo_y, hi_y = min(lo_y, min(tail)), max(hi_y, max(v for v in hi if math.isfinite(v)))
    for e in (srcs[0].get("rungs") or []) if srcs else []:
        ax.axvline(e, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("fine-tuning epoch")
    ax.set_ylabel("test accuracy" + (" (mean of %d seeds; band: min to max)" % n_seeds
                                     if n_seeds > 1 else ""))
    if top:
        ax.set_title("%s: top %d sources (zoomed)" % (arch, len(srcs)))
        if hi_y > lo_y:
            pad = 0.1 * (hi_y - lo_y) + 1e-3
            ax.set_ylim(lo_y - pad, hi_y + pad)
    else:
        ax.set_title("%s: test accuracy of every source while fine-tuning" % arch)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="source  best acc" + (" (mean \u00b1 sd of each seed's best)" if n_seeds > 1 else ""),
              title_fontsize=8)
    path = save(fig, out_dir, "curves_%s%s.png" % (suffix, safe(arch)))
    plt.close(fig)
    return path


# Where a point's name may go, in points from the marker: right, left, above, below, diagonals.
LABEL_SPOTS = [(5, 3, "left", "bottom"), (-5, 3, "right", "bottom"), (5, -3, "left", "top"),
               (-5, -3, "right", "top"), (0, 6, "center", "bottom"), (0, -6, "center", "top"),
               (8, 10, "left", "bottom"), (-8, 10, "right", "bottom"), (8, -10, "left", "top"),
               (-8, -10, "right", "top")]


def overlap(a, b):
    """Area shared by two display-space boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(fig, ax, labels):
    """Names each point where its text overlaps the least with names already placed, the other
    markers and the plot's edge (greedy, in order of y): a fixed offset overprints close points."""
    fig.canvas.draw()  # fixes the axis limits, so display positions are final
    render = fig.canvas.get_renderer()
    frame = ax.get_window_extent(render)
    marks = []
    for x, y, _ in labels:
        px, py = ax.transData.transform((x, y))
        marks.append((px - 4, py - 4, px + 4, py + 4))
    placed = []
    for x, y, name in sorted(labels, key=lambda t: (t[1], t[0])):
        best = None
        for dx, dy, ha, va in LABEL_SPOTS:
            t = ax.annotate(name, (x, y), fontsize=7, xytext=(dx, dy), textcoords="offset points",
                            ha=ha, va=va)
            e = t.get_window_extent(render)
            box = (e.x0, e.y0, e.x1, e.y1)
            cost = sum(overlap(box, b) for b in placed) + sum(overlap(box, m) for m in marks)
            outside = (e.x1 - e.x0) * (e.y1 - e.y0) - overlap(box, (frame.x0, frame.y0, frame.x1,
                                                                     frame.y1))
            cost += 4 * outside
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, t, box)
            else:
                t.remove()
            if cost == 0:
                break
        placed.append(best[2])


def scatter(plt, out_dir, metric, sources, kendall):
    fig, ax = plt.subplots(figsize=(6, 4.8))
    direction = 1
    labels = []
    for arch in sorted({s["arch"] for s in sources}):
        pts = [(s["scores"][metric][0], s["best"], s["sd"], s["name"]) for s in sources
               if s["arch"] == arch and s["status"] == "done" and metric in s["scores"]
               and math.isfinite(s["scores"][metric][0]) and math.isfinite(s["best"])]
        for s in sources:
            if metric in s["scores"]:
                direction = s["scores"][metric][1]
        if not pts:
            continue
        err = [p[2] if math.isfinite(p[2]) else 0.0 for p in pts]
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=err if any(err) else None,
                    fmt="o", capsize=3, label=arch)
        labels.extend((x, y, n) for x, y, _, n in pts)
    tau, n, lo, hi, why = kendall.get(metric, (float("nan"), 0, float("nan"), float("nan"), ""))
    ci = "" if not (math.isfinite(lo) and math.isfinite(hi)) else ", 90%% CI [%.2f, %.2f]" % (lo, hi)
    if why:  # equal values: a zoomed axis would draw rounding noise as a spread
        xs = [s["scores"][metric][0] for s in sources if metric in s["scores"]
              and math.isfinite(s["scores"][metric][0])]
        if xs:
            c = sum(xs) / len(xs)
            half = max(abs(c) * 0.05, 1e-6)
            ax.set_xlim(c - half, c + half)
            ax.ticklabel_format(axis="x", useOffset=False)
        ax.set_title("%s: not ranked\n%s" % (metric, why), fontsize=9)
    else:
        ax.set_title("%s vs best accuracy\nKendall \u03c4 (oriented) = %s%s, n = %d" %
                     (metric, "n/a" if math.isnan(tau) else "%.2f" % tau, ci, n), fontsize=9)
    ax.set_xlabel("%s (%s is better)" % (metric, "lower" if direction < 0 else "higher"))
    multi = any(len(s["runs"]) > 1 for s in sources)
    ax.set_ylabel("best test accuracy" + (" (mean \u00b1 sd over seeds)" if multi else ""))
    ax.grid(alpha=0.3)
    ax.margins(x=0.15, y=0.12)
    if len({s["arch"] for s in sources}) > 1 and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    place_labels(fig, ax, labels)
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
