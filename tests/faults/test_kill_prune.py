#!/usr/bin/python3
"""kill -9 at seeded random moments of a tiny pruned sweep (tiny.yaml with four sources and
successive halving, eta 2, over 6 epochs): rerunning on the same output resumes it to the rung
decisions (/prune), statuses and curves of an uninterrupted run, bitwise. The decisions are stored
in the results file, so a resumed run takes them instead of deciding a rung again (issue 16). The
kill schedule is test_kill.py's (faultutil.kill_trials: half the kills anchored on epoch lines, so
they land inside the sweep whatever the load)."""
import os, shutil, sys, time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultutil import (Checker, curves, epoch_lines, experiment, kill_trials, run_main,  # noqa: E402
                       tmpdir, xfer)

TRIALS = int(os.environ.get("XFER_KILL_TRIALS", "10"))
ARGS = ["run", "--no-plots", "--quiet", "--threads", "1", "tiny.yaml"]
MORE = """  - {name: r2, arch: resnet18, width: 0.125, weights: random, init_seed: 21}
  - {name: r3, arch: resnet18, width: 0.125, weights: random, init_seed: 22}
target:"""
PRUNE = ("    epochs: 6\n"
         "    prune: {method: successive_halving, eta: 2, min_epochs: 1, seed_by: logme}\n")
SUBST = {"more": ("target:", MORE), "prune": ("    epochs: 4\n", PRUNE)}


def decisions(path):
    with h5py.File(path, "r") as f:
        if "prune" not in f:
            return None
        p = f["prune"]
        return [np.asarray(p[k][()]).tobytes() if k != "source" else p[k].asstr()[()].tolist()
                for k in ("rung", "epoch", "source", "value", "kept")]


def main():
    check = Checker()
    base = tmpdir("killprune")
    try:
        ref = os.path.join(base, "ref")
        experiment(ref, **SUBST)
        t0 = time.monotonic()
        r = xfer(ARGS, ref)
        length = time.monotonic() - t0
        if not check(r.returncode == 0, f"uninterrupted pruned sweep exits 0 ({length:.1f} s)"):
            print(r.stderr)
            check.finish()
        res = os.path.join(ref, "out/results.h5")
        want, want_status = curves(res)
        want_dec = decisions(res)
        check("pruned" in want_status.values() and want_dec and len(want_dec[2]) >= 4,
              f"reference: some sources pruned ({want_status}), {len(want_dec[2])} rung rows")

        def inspect(trial, state, out, finished):
            if not os.path.exists(out):
                check(True, f"trial {trial}: {state}: no results file yet")
                return 0
            with h5py.File(out, "r") as f:
                rows = sum(len(s["curve/epoch"]) for s in f["sources"].values()
                           if "curve/epoch" in s) if "sources" in f else 0
                ndec = len(f["prune/rung"]) if "prune" in f else 0
                complete = f.attrs["complete"]
            check(True, f"trial {trial}: {state}: {rows} curve rows, {ndec} rung rows")
            return int((not finished) and rows > 0 and complete == 0)

        def verify(trial, out):
            got, got_status = curves(out)
            check(got_status == want_status, f"trial {trial}: statuses {got_status}")
            check(decisions(out) == want_dec, f"trial {trial}: the same rung decisions")
            check(got == want, f"trial {trial}: curves bitwise equal to the uninterrupted run")

        kill_trials(check, base, lambda d: experiment(d, **SUBST), ARGS, length, epoch_lines(want),
                    20261201, inspect, verify, trials=TRIALS)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    run_main(main)
