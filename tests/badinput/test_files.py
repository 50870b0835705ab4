#!/usr/bin/python3
"""Bad input files through the CLI that tests/results, tests/scores and tests/wordvec do not already
cover there: each asserts exit 2, a message naming the file and the problem, and no Python
traceback or crash.
- `xfer report` on a results file whose score dataset holds 1000 values instead of one (regression:
  fuzz_results found the reader copying all of them into one double);
- `xfer metrics` on a file whose labels hold INT_MAX (regression: fuzz_metrics_raw found the
  number of target classes overflowing);
- `xfer metrics --word-vectors` with a .vec whose row has the wrong dimension, a .bin of fastText
  version 13 and a quantized .ftz (the library-level cases are in tests/wordvec)."""
import os, shutil, struct, subprocess, sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultutil import Checker, XFER, run_main, tmpdir  # noqa: E402

SRC = os.environ.get("XFER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FASTTEXT = shutil.which("fasttext") or "/usr/bin/fasttext"


def run(*args, cwd=None):
    return subprocess.run([XFER] + list(args), capture_output=True, text=True, errors="replace", timeout=120,
                          cwd=cwd)


def refused(check, r, needles, what):
    ok = (r.returncode == 2 and all(n in r.stderr for n in needles)
          and "Traceback" not in r.stderr and "Sanitizer" not in r.stderr)
    check(ok, f"{what}: exit {r.returncode}, message has {needles}")
    if not ok:
        print("      " + r.stderr.strip()[-800:])


def main():
    check = Checker()
    base = tmpdir("badfiles")
    try:
        # ---- results: a score dataset with 1000 values
        res = os.path.join(base, "scores_array.h5")
        shutil.copy(os.path.join(SRC, "tests/fuzz/corpus/results_raw/tiny_run.h5"), res)
        with h5py.File(res, "r+") as f:
            g = f["sources/rnd/scores"]
            name = next(iter(g))
            attrs = dict(g[name].attrs)
            del g[name]
            g.create_dataset(name, data=np.arange(1000.0))
            for k, v in attrs.items():
                g[name].attrs[k] = v
        r = run("report", res)
        refused(check, r, [res, "unreadable score", name], "report: score dataset of 1000 values")
        ok = run("report", os.path.join(SRC, "tests/fuzz/corpus/results_raw/tiny_run.h5"))
        check(ok.returncode == 0, "report: the unedited file still reads")

        # ---- metrics: labels holding INT_MAX
        rng = np.random.default_rng(0)
        m = os.path.join(base, "labels_intmax.h5")
        with h5py.File(m, "w") as f:
            f["features"] = rng.normal(size=(6, 3))
            f["logits"] = rng.normal(size=(6, 4))
            f["labels"] = np.array([0, 1, 0, 1, 0, 2147483647], np.int64)
        r = run("metrics", m)
        refused(check, r, [m, "labels", "2147483647"], "metrics: a label of INT_MAX")

        # ---- word vectors through xfer metrics --word-vectors
        wv = os.path.join(base, "wv.h5")
        with h5py.File(wv, "w") as f:
            f["features"] = rng.normal(size=(6, 3))
            f["logits"] = rng.normal(size=(6, 2))
            f["labels"] = np.array([0, 1, 0, 1, 0, 1])
            f["source_classes"] = np.array(["cat", "dog"], dtype=h5py.string_dtype())
            f["target_classes"] = np.array(["coat", "bag"], dtype=h5py.string_dtype())
        vec = os.path.join(base, "bad.vec")
        with open(vec, "w") as f:
            f.write("4 3\ncat 0.1 0.2 0.3\ndog 0.1 0.2\ncoat 1 2 3\nbag 3 2 1\n")
        r = run("metrics", "--metrics", "emd", "--word-vectors", vec, wv)
        refused(check, r, [vec + ":3:", "dog"], ".vec row with 2 values for dim 3")
        if not os.path.exists(FASTTEXT):
            print("note: no fasttext binary, the .bin/.ftz cases are not run")
        else:
            corpus = os.path.join(base, "c.txt")
            words = ["cat", "dog", "coat", "bag", "the", "a"]
            with open(corpus, "w") as f:
                for i in range(300):
                    f.write(f"__label__{i % 2} " + " ".join(rng.choice(words, 6)) + "\n")
            mdl = os.path.join(base, "sup")
            subprocess.run([FASTTEXT, "supervised", "-input", corpus, "-output", mdl, "-dim", "8",
                            "-minn", "2", "-maxn", "3", "-bucket", "2000", "-epoch", "1",
                            "-verbose", "0"], check=True, capture_output=True)
            r = run("metrics", "--metrics", "emd", "--word-vectors", mdl + ".bin", wv)
            check(r.returncode == 0, f"a good .bin is accepted (exit {r.returncode})")
            data = bytearray(open(mdl + ".bin", "rb").read())
            data[4:8] = struct.pack("<i", 13)
            v13 = os.path.join(base, "v13.bin")
            open(v13, "wb").write(bytes(data))
            r = run("metrics", "--metrics", "emd", "--word-vectors", v13, wv)
            refused(check, r, [v13, "version 13"], ".bin of fastText version 13")
            subprocess.run([FASTTEXT, "quantize", "-output", mdl, "-input", corpus],
                           check=True, capture_output=True)
            r = run("metrics", "--metrics", "emd", "--word-vectors", mdl + ".ftz", wv)
            refused(check, r, [mdl + ".ftz", "quantized"], "quantized .ftz")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    run_main(main)
