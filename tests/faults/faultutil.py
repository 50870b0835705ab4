"""Shared by the fault and bad-input tests: a tiny experiment directory, running the real `xfer`
binary, reading curves with h5py, and the pass/fail count every Python test prints."""
import os, shutil, subprocess, sys, tempfile

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
