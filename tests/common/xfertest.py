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


def finish():
    c, f = _state["checks"], _state["failures"]
    if c == 0:
        print("no checks ran: a test must assert something")
        sys.exit(1)
    print(f"{c - f} passed, {f} failed")
    sys.exit(1 if f else 0)
