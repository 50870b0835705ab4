#!/usr/bin/python3
"""kill -9 at seeded random moments of a tiny pruned sweep (tiny.yaml with four sources and
successive halving, eta 2, over 6 epochs): rerunning on the same output resumes it to the rung
decisions (/prune), statuses and curves of an uninterrupted run, bitwise. The decisions are stored
in the results file, so a resumed run takes them instead of deciding a rung again (issue 16)."""
import os, random, shutil, signal, subprocess, sys, time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultutil import Checker, XFER, curves, experiment, tmpdir, xfer  # noqa: E402

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
        rng = random.Random(20261201)
        partial, trial = 0, -1
        while trial + 1 < TRIALS or (partial < 2 and trial + 1 < 2 * TRIALS):
            trial += 1
            d = os.path.join(base, f"t{trial}")
            experiment(d, **SUBST)
            at = rng.uniform(0.05, 1.0) * length
            p = subprocess.Popen([XFER] + ARGS, cwd=d, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(at)
            finished = p.poll() is not None
            if not finished:
                p.send_signal(signal.SIGKILL)
            p.wait()
            out = os.path.join(d, "out/results.h5")
            state = "finished before the kill" if finished else f"killed at {at:.2f} s"
            if os.path.exists(out):
                with h5py.File(out, "r") as f:
                    rows = sum(len(s["curve/epoch"]) for s in f["sources"].values()
                               if "curve/epoch" in s) if "sources" in f else 0
                    ndec = len(f["prune/rung"]) if "prune" in f else 0
                    partial += (not finished) and rows > 0 and f.attrs["complete"] == 0
                check(True, f"trial {trial}: {state}: {rows} curve rows, {ndec} rung rows")
            else:
                check(True, f"trial {trial}: {state}: no results file yet")
            r = xfer(ARGS, d)
            if not check(r.returncode == 0, f"trial {trial}: rerun exits 0"):
                print(r.stderr[-2000:])
                continue
            got, got_status = curves(out)
            check(got_status == want_status, f"trial {trial}: statuses {got_status}")
            check(decisions(out) == want_dec, f"trial {trial}: the same rung decisions")
            check(got == want, f"trial {trial}: curves bitwise equal to the uninterrupted run")
        check(partial >= 2, f"{partial} trials killed in the middle of the sweep")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    if not os.path.exists(XFER):
        print("skipped: no xfer binary")
        sys.exit(77)
    main()
