"""xfer's rank correlations (src/scores/rankcorr.c) against scipy.stats on random data, with and
without ties, n = 0..12 and 100, constant inputs. Tolerance: rel 1e-9 (+1e-12 absolute)."""
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from scipy import stats

TOOL = sys.argv[1]
RTOL, ATOL = 1e-9, 1e-12


def scipy_ref(x, y):
    n = len(x)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in (lambda: stats.pearsonr(x, y)[0], lambda: stats.spearmanr(x, y)[0],
                  lambda: stats.kendalltau(x, y)[0], lambda: stats.weightedtau(x, y)[0]):
            try:
                v = float(f()) if n >= 2 else math.nan
            except ValueError:
                v = math.nan
            out.append(v)
    if n == 0:
        out += [-1, math.nan]
    else:
        i = int(np.argmax(x))  # first maximum, as documented
        gap = float(np.max(y) - y[i])
        out += [1 if gap == 0 else 0, gap]
    return out


def cases():
    rng = np.random.default_rng(20260127)
    for n in list(range(0, 13)) + [100, 100]:
        for kind in ("real", "ties", "int_ties_both"):
            if kind == "real":
                x, y = rng.normal(size=n), rng.normal(size=n)
                y = y + 0.5 * x  # correlated
            elif kind == "ties":
                x, y = rng.integers(0, 4, size=n).astype(float), rng.normal(size=n)
            else:
                x = rng.integers(0, 3, size=n).astype(float)
                y = (x + rng.integers(0, 3, size=n)).astype(float)
            yield x, y
    for n in (3, 5, 12):
        yield np.full(n, 2.0), rng.normal(size=n)  # constant x
        yield rng.normal(size=n), np.full(n, -1.0)  # constant y
        x = rng.normal(size=n)
        yield x, x.copy()  # perfect
        yield x, -x  # reversed
    yield np.array([1e6 + 1, 1e6 + 2, 1e6 + 4]), np.array([3.0, 1.0, 2.0])


def main():
    all_cases = list(cases())
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cases.txt")
        with open(path, "w") as f:
            for x, y in all_cases:
                f.write("%d\n%s\n%s\n" % (len(x), " ".join(repr(float(v)) for v in x),
                                          " ".join(repr(float(v)) for v in y)))
        out = subprocess.run([TOOL, "corr", path], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().split("\n")
    passed = failed = 0
    names = ["pearson", "spearman", "kendall", "weighted_tau", "top1_hit", "top1_gap"]
    if len(lines) != len(all_cases):
        print("expected %d result lines, got %d" % (len(all_cases), len(lines)))
        failed += 1
    for (x, y), line in zip(all_cases, lines):
        got = [float(v) for v in line.split()]
        ref = scipy_ref(x, y)
        for name, g, r in zip(names, got, ref):
            ok = (math.isnan(g) and math.isnan(r)) or abs(g - r) <= ATOL + RTOL * abs(r)
            if ok:
                passed += 1
            else:
                failed += 1
                print("MISMATCH n=%d %s: xfer %.17g scipy %.17g\n x=%s\n y=%s" %
                      (len(x), name, g, r, list(x), list(y)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
