#!/usr/bin/python3
"""kill -9 at 10 seeded random moments of a tiny `xfer run` (a built source trained for 2 epochs, a
random one, both fine-tuned for 4 epochs): after each kill the results file (when one exists yet)
opens with h5py, and rerunning on the same output resumes to curves (epoch, lr, train/test loss
and accuracy) bitwise equal to an uninterrupted run's. Issue 6's resume acceptance and issue 9's
crash-safety test. The kill schedule (faultutil.kill_trials): even trials at a moment uniform over
the uninterrupted run's length (any phase: prepare, build, scoring, fine-tuning), odd trials a
random fraction of an epoch after a random epoch line of --log-json."""
import os, shutil, sys, time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultutil import (Checker, curves, epoch_lines, experiment, kill_trials, run_main,  # noqa: E402
                       tmpdir, xfer)

TRIALS = int(os.environ.get("XFER_KILL_TRIALS", "10"))
ARGS = ["run", "--no-plots", "--quiet", "--threads", "1", "tiny.yaml"]


def main():
    check = Checker()
    base = tmpdir("kill")
    try:
        ref = os.path.join(base, "ref")
        experiment(ref)
        t0 = time.monotonic()
        r = xfer(ARGS, ref)
        length = time.monotonic() - t0
        if not check(r.returncode == 0, f"uninterrupted run exits 0 ({length:.1f} s)"):
            print(r.stderr)
            check.finish()
        want, want_status = curves(os.path.join(ref, "out/results.h5"))
        check(set(want_status.values()) == {"done"} and len(want) == 2,
              f"reference: both sources done ({want_status})")

        def inspect(trial, state, res, finished):
            if not os.path.exists(res):
                check(True, f"trial {trial}: {state}: no results file yet")
                return 0
            try:
                with h5py.File(res, "r") as f:
                    rows = {n: len(s["curve/epoch"]) for n, s in f["sources"].items()
                            if "curve/epoch" in s} if "sources" in f else {}
            except Exception as e:  # noqa: BLE001
                check(False, f"trial {trial}: {state}: results file does not open: {e}")
                return 0
            check(True, f"trial {trial}: {state}: results file opens with h5py (curve rows {rows})")
            return int(any(0 < v < len(want[n]["epoch"]) // 8 for n, v in rows.items()))

        def verify(trial, res):
            got, got_status = curves(res)
            check(got_status == want_status, f"trial {trial}: statuses {got_status}")
            for s in want:
                for k in want[s]:
                    if got.get(s, {}).get(k) != want[s][k]:
                        print(f"      {s}/curve/{k} differs")
            check(got == want, f"trial {trial}: curves bitwise equal to the uninterrupted run")

        kill_trials(check, base, experiment, ARGS, length, epoch_lines(want), 20240609, inspect,
                    verify, trials=TRIALS)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    run_main(main)
