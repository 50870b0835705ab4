"""The demo with and without pruning (issue 16): runs configs/demo.yaml (the full sweep) and
configs/demo-prune.yaml (successive halving), the second reusing the first's built sources and
caches (the runner reuses built sources by design; they are the same bytes), and checks that the
pruned sweep trains at most 50% of the full sweep's fine-tuning epochs and that its best source is
the full sweep's best source (`xfer report --compare`); the README's demo table is checked
against the full sweep's report (scripts/readme_demo_table.py --check). Prints the figures recorded in docs/run.md,
with the wall times and the machine's load. Skips (77) without Debian's dataset-fashion-mnist."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, xfer  # noqa: E402

SRC = os.environ["XFER_SOURCE_DIR"]
if not os.path.exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"):
    print("skipped: no /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)")
    sys.exit(77)


def run(cfg, out):
    t0 = time.monotonic()
    p = subprocess.run([XFER, "run", "--quiet", "--no-plots", "--device", "cpu", "--output", out,
                        os.path.join(SRC, "configs", cfg)], cwd=SRC, capture_output=True,
                       text=True, timeout=3600)
    return p, time.monotonic() - t0


# XFER_DEMO_DIR=DIR keeps both results there (for reading the curves afterwards)
keep = os.environ.get("XFER_DEMO_DIR")
tmp = keep or tempfile.mkdtemp(prefix="xfer-demo-prune-")
try:
    full_h5 = os.path.join(tmp, "full", "results.h5")
    prune_h5 = os.path.join(tmp, "prune", "results.h5")
    p, t_full = run("demo.yaml", full_h5)
    check(p.returncode == 0, f"demo.yaml exits 0: {p.returncode} {p.stderr[-2000:]}")
    # the README's demo table against this fresh run (sources, columns, statuses; not the digits):
    # CI's check of the README, made here so that CI runs the whole demo once
    t = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts", "readme_demo_table.py"),
                        "--check", "--report", os.path.join(tmp, "full", "report.md"),
                        "--readme", os.path.join(SRC, "README.md")], capture_output=True,
                       text=True)
    check(t.returncode == 0, f"README.md's demo table matches the fresh run's report "
          f"(scripts/readme_demo_table.py --check exit {t.returncode}): {t.stdout[-2000:]}"
          f"{t.stderr[-1000:]}")
    shutil.rmtree(os.path.join(tmp, "prune"), ignore_errors=True)
    os.makedirs(os.path.join(tmp, "prune"))
    for sub in ("sources", "cache"):
        shutil.copytree(os.path.join(tmp, "full", sub), os.path.join(tmp, "prune", sub))
    load_full = os.getloadavg()
    p, t_prune = run("demo-prune.yaml", prune_h5)
    load_prune = os.getloadavg()
    check(p.returncode == 0, f"demo-prune.yaml exits 0: {p.returncode} {p.stderr[-2000:]}")
    rc, js, se = xfer("report", "--format", "json", "--compare", full_h5, prune_h5)
    check(rc == 0, f"report --compare exits 0: {se[-500:]}")
    j = json.loads(js)["prune"]
    c = j["compare"]
    ratio = j["epochs_trained"] / c["epochs_full_file"]
    print(f"full sweep: {c['epochs_full_file']} fine-tuning epochs, {t_full:.0f} s "
          f"(load average {load_full[0]:.2f} {load_full[1]:.2f} {load_full[2]:.2f}); best "
          f"{c['best_source_full']} {c['best_acc_full']:.4f}")
    print(f"pruned sweep: {j['epochs_trained']} epochs ({100 * ratio:.1f}%), "
          f"{j['train_images_processed']} of {j['train_images_full_sweep']} training images, "
          f"{t_prune:.0f} s (sources reused; load average {load_prune[0]:.2f} "
          f"{load_prune[1]:.2f} {load_prune[2]:.2f}); best found {c['best_source_found']} "
          f"{c['best_acc_found']:.4f}; regret {c['regret']:.4f}")
    print("pruned:", ", ".join(f"{r['source']} @ {r['stopped_at_epoch']} ({r['test_acc_then']:.4f})"
                               for r in j["pruned"]))
    check(ratio <= 0.5, f"the pruned sweep trains <= 50% of the full sweep's epochs: {ratio:.3f}")
    check(c["best_survived"] and c["best_source_found"] == c["best_source_full"],
          f"the full sweep's best source survived: {c}")
    # demo.yaml repeats every fine-tune with 3 seeds and its best_acc is their mean; the pruned
    # sweep (one seed: pruning ranks one fine-tune per source) is fine-tune 0, which is bitwise
    # the full sweep's fine-tune 0 (/curve): the regret against that one is 0, the regret against
    # the mean is reported above
    import h5py  # noqa: E402
    with h5py.File(full_h5, "r") as f:
        seed0 = float(max(f["sources"][c["best_source_full"]]["curve"]["test_acc"][()]))
    check(abs(c["best_acc_found"] - seed0) <= 1e-6, f"the best source found reaches the full sweep's "
          f"fine-tune 0 accuracy of that source: {c['best_acc_found']} vs {seed0} "
          f"(regret against the 3-seed mean {c['regret']:.4f})")
finally:
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
finish()
