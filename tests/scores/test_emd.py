#!/usr/bin/python3
"""xfer's exact EMD (transportation simplex) against POT's ot.emd2 (rel <= 1e-6) and its batched
log-domain Sinkhorn against ot.sinkhorn2 with the same reg, on random cases including zero-mass
bins, unequal sizes, degenerate (integer) costs and masses. Usage: test_emd.py EMD_TOOL"""
import subprocess
import sys

import numpy as np
import ot

TOOL = sys.argv[1]
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def fmt(x):
    return " ".join(repr(float(v)) for v in np.ravel(x))


def tool(text):
    r = subprocess.run([TOOL], input=text, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout.split("\n")


def main():
    rng = np.random.default_rng(3)
    cases, expect = [], []
    for t in range(60):
        m, n = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        a = rng.uniform(size=m)
        b = rng.uniform(size=n)
        if t % 3 == 0:  # zero-mass bins
            a[rng.uniform(size=m) < 0.3] = 0
            b[rng.uniform(size=n) < 0.3] = 0
            if a.sum() == 0:
                a[0] = 1
            if b.sum() == 0:
                b[-1] = 1
        if t % 4 == 1:  # degenerate: integer masses and costs (ties everywhere)
            a = rng.integers(0, 4, size=m).astype(float)
            b = rng.integers(0, 4, size=n).astype(float)
            a[0] += 1
            b[0] += 1
            C = rng.integers(0, 3, size=(m, n)).astype(float)
        else:
            x, y = rng.normal(size=(m, 2)), rng.normal(size=(n, 2))
            C = ot.dist(x, y, metric="euclidean")
        a /= a.sum()
        b /= b.sum()
        cases.append(f"exact {m} {n} {fmt(a)} {fmt(b)} {fmt(C)}\n")
        expect.append(ot.emd2(a, b, C, numItermax=10**7))
    # Unnormalised inputs: each histogram is scaled to mass 1.
    a, b = rng.uniform(size=7) * 5, rng.uniform(size=9) * 0.1
    C = rng.uniform(size=(7, 9))
    cases.append(f"exact 7 9 {fmt(a)} {fmt(b)} {fmt(C)}\n")
    expect.append(ot.emd2(a / a.sum(), b / b.sum(), C))
    # A larger problem.
    m, n = 150, 120
    a, b = rng.uniform(size=m), rng.uniform(size=n)
    a /= a.sum()
    b /= b.sum()
    C = ot.dist(rng.normal(size=(m, 3)), rng.normal(size=(n, 3)))
    cases.append(f"exact {m} {n} {fmt(a)} {fmt(b)} {fmt(C)}\n")
    expect.append(ot.emd2(a, b, C, numItermax=10**7))
    rc, out = tool("".join(cases))
    check(rc == 0, f"emd_tool exit {rc}: {out[-2:]}")
    for i, e in enumerate(expect):
        got = float(out[i]) if rc == 0 else None
        check(got is not None and abs(got - e) <= 1e-6 * abs(e) + 1e-12, f"exact case {i}: {got} vs POT {e}")

    # Sinkhorn: a batch sharing one cost, with zero bins in some problems, unequal sizes.
    B, m, n, reg = 12, 25, 18, 0.1
    C = ot.dist(rng.normal(size=(m, 2)), rng.normal(size=(n, 2)), metric="euclidean")
    A = rng.uniform(size=(B, m))
    Bm = rng.uniform(size=(B, n))
    A[::3, :4] = 0
    Bm[1::4, -3:] = 0
    A /= A.sum(axis=1, keepdims=True)
    Bm /= Bm.sum(axis=1, keepdims=True)
    rc, out = tool(f"sinkhorn {B} {m} {n} {reg!r} {fmt(A)} {fmt(Bm)} {fmt(C)}\n")
    check(rc == 0, f"sinkhorn exit {rc}: {out[-2:]}")
    for p in range(B):
        ref = float(ot.sinkhorn2(A[p], Bm[p], C, reg, method="sinkhorn_log", numItermax=100000,
                                 stopThr=1e-13))
        got = float(out[p]) if rc == 0 else None
        check(got is not None and abs(got - ref) <= 1e-6 * abs(ref), f"sinkhorn {p}: {got} vs POT {ref}")
    # Small reg: the entropic cost approaches the exact EMD from above.
    rc, out = tool(f"sinkhorn 1 {m} {n} 0.01 {fmt(A[1])} {fmt(Bm[1])} {fmt(C)}\n")
    exact = ot.emd2(A[1], Bm[1], C)
    check(rc == 0 and exact - 1e-9 <= float(out[0]) <= exact * 1.05, f"sinkhorn reg 0.01 near exact: {out[0]} vs {exact}")

    # Errors are named, exit 2.
    rc, out = tool("exact 2 2 0 0 1 1 0 1 1 0\n")
    check(rc == 2 and "zero mass" in out[0], f"zero-mass histogram: {out}")
    rc, out = tool("exact 2 2 1 -1 1 1 0 1 1 0\n")
    check(rc == 2 and "a[1]" in out[0], f"negative mass: {out}")
    rc, out = tool("sinkhorn 1 2 2 0 1 1 1 1 0 1 1 0\n")
    check(rc == 2 and "reg" in out[0], f"reg 0: {out}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
