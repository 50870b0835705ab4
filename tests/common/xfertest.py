"""Shared helpers for Python tests: count checks, print the closing "N passed, M failed" line and
exit non-zero on any failure (a test with no checks fails too)."""
import os
import subprocess
import sys

XFER = os.environ.get("XFER", "xfer")
_state = {"checks": 0, "failures": 0}


def check(cond, what):
    _state["checks"] += 1
    if not cond:
        _state["failures"] += 1
        print("FAIL:", what, flush=True)
    return cond


def xfer(*args, cwd=None, timeout=300):
    """Runs the xfer binary; returns (exit status, stdout, stderr)."""
    p = subprocess.run([XFER, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def shards_and_merge(cfg, n, out_dir, merged):
    """Runs `xfer run cfg --shard i/n` for every i (each to out_dir/shard-i.h5) and merges them into
    `merged`; checks every exit status. Returns the merged path."""
    shard_files = []
    for i in range(n):
        sf = os.path.join(out_dir, f"shard-{i}.h5")
        rc, _, se = xfer("run", cfg, "--shard", f"{i}/{n}", "--output", sf, "--no-plots", "--quiet")
        check(rc == 0, f"shard {i}/{n}: exit {rc} {se[-1500:]}")
        shard_files.append(sf)
    rc, _, se = xfer("merge", merged, *shard_files)
    check(rc == 0, f"merge of {n} shards: exit {rc} {se[-1500:]}")
    return merged


def finish():
    c, f = _state["checks"], _state["failures"]
    if c == 0:
        print("no checks ran: a test must assert something")
        sys.exit(1)
    print(f"{c - f} passed, {f} failed")
    sys.exit(1 if f else 0)
