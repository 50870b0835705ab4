"""Shared by the fault and bad-input tests: a tiny experiment directory, running the real `xfer`
binary, reading curves with h5py, and the pass/fail count every Python test prints."""
import os, random, shutil, signal, subprocess, sys, tempfile, time

import h5py
import numpy as np

XFER = os.environ.get("XFER", "xfer")
HERE = os.path.dirname(os.path.abspath(__file__))
CURVE_KEYS = ["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc"]


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}")
        return cond

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def experiment(dirname, text=None, **subst):
    """Copies tests/faults/tiny.yaml (or `text`) and classes.txt into dirname, applying str
    replacements given as old=new pairs in subst (values are (old, new) tuples)."""
    os.makedirs(dirname, exist_ok=True)
    shutil.copy(os.path.join(HERE, "classes.txt"), dirname)
    if text is None:
        text = open(os.path.join(HERE, "tiny.yaml")).read()
    for old, new in subst.values():
        assert old in text, old
        text = text.replace(old, new)
    with open(os.path.join(dirname, "tiny.yaml"), "w") as f:
        f.write(text)
    return os.path.join(dirname, "tiny.yaml")


def xfer(args, cwd, timeout=120, **kw):
    return subprocess.run([XFER] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)


def curves(path):
    """{source: {key: bytes of the column}} and {source: status} of a results file."""
    out, status = {}, {}
    with h5py.File(path, "r") as f:
        for name, src in f["sources"].items():
            status[name] = src.attrs["status"]
            if "curve" in src:
                out[name] = {k: np.asarray(src["curve"][k][()]).tobytes() for k in CURVE_KEYS
                             if k in src["curve"]}
    return out, status


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=f"xfer-{prefix}-")


def kill_after_epoch_line(p, log, k, extra):
    """Waits until `log` holds k lines (or p ends), sleeps `extra` seconds, then SIGKILLs p.
    Returns True when p had finished by itself."""
    while p.poll() is None:
        try:
            with open(log) as f:
                if sum(1 for _ in f) >= k:
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    time.sleep(extra)
    if p.poll() is not None:
        return True
    p.send_signal(signal.SIGKILL)
    return False


def epoch_lines(want):
    """The --log-json epoch lines of tiny.yaml's run with these reference curves: the fine-tuning
    epochs plus the built source's 2."""
    return sum(len(c["epoch"]) // 8 for c in want.values()) + 2


def kill_trials(check, base, setup, args, length, lines, seed, inspect, verify, trials=10,
                log="epochs.jsonl"):
    """The kill -9 schedule shared by the resume tests. Trial t runs `xfer args --log-json log` in
    base/t<t> (made by setup(dir)) and SIGKILLs it: even trials at a moment uniform over `length`
    (the uninterrupted run's seconds: any phase), odd trials a random fraction of an epoch after the
    k-th of `lines` epoch lines appears (k random), so that kills land inside the curves whatever
    the load does to the other phases. inspect(trial, state, results_path, finished) checks the
    killed run's file and returns 1 when the kill landed inside a fine-tuning; then the run is
    resumed and verify(trial, results_path) compares it. `trials` trials, and up to as many more
    (same seeded generator) until 2 kills landed inside a fine-tuning, which is then checked."""
    rng = random.Random(seed)
    partial, trial = 0, -1
    while trial + 1 < trials or (partial < 2 and trial + 1 < 2 * trials):
        trial += 1
        d = os.path.join(base, f"t{trial}")
        setup(d)
        at = rng.uniform(0.05, 1.0) * length
        k = rng.randint(1, lines - 1)
        extra = rng.uniform(0.0, 0.03)
        p = subprocess.Popen([XFER] + args + ["--log-json", log], cwd=d,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trial % 2 == 0:
            time.sleep(at)
            finished = p.poll() is not None
            if not finished:
                p.send_signal(signal.SIGKILL)
            moment = f"{at:.2f} s"
        else:
            finished = kill_after_epoch_line(p, os.path.join(d, log), k, extra)
            moment = f"{extra * 1000:.0f} ms after epoch line {k}"
        p.wait()
        res = os.path.join(d, "out/results.h5")
        partial += inspect(trial, "finished before the kill" if finished else f"killed at {moment}",
                           res, finished)
        r = xfer(args, d)
        if not check(r.returncode == 0, f"trial {trial}: rerun exits 0"):
            print(r.stderr[-2000:])
            continue
        verify(trial, res)
    check(partial >= 2, f"{partial} trials killed in the middle of a fine-tuning")


def run_main(main):
    """Runs a test's main(); skipped (77) without the xfer binary."""
    if not os.path.exists(XFER):
        print("skipped: no xfer binary")
        sys.exit(77)
    main()
