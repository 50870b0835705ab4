#!/usr/bin/python3
"""valgrind memcheck on a short `xfer run` of the tiny config (synthetic data, a built source and a
random one, scoring and fine-tuning, results file and report) and on `xfer report` of its results:
0 errors and 0 definitely-lost bytes each (--error-exitcode, --errors-for-leak-kinds=definite).
One CPU thread: OpenMP's worker pool is left out of this check (it is exercised under ASan);
no suppressions are needed for xfer's own code (a CUDA build adds valgrind-cuda.supp for cuBLASLt's
library constructor, which runs before main). Skips (77) without valgrind. Label `valgrind` and `no_asan` (valgrind
cannot run an ASan binary)."""
import os, re, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultutil import Checker, XFER, experiment, tmpdir  # noqa: E402

VALGRIND = shutil.which("valgrind")
_HERE = os.path.dirname(os.path.abspath(__file__))
_info = subprocess.run([XFER, "info"], capture_output=True, text=True).stdout
SUPP = ([f"--suppressions={os.path.join(_HERE, 'valgrind-cuda.supp')}"]
        if "backends: cpu, cuda" in _info else [])


def memcheck(check, args, cwd, what):
    log = os.path.join(cwd, "valgrind.log")
    r = subprocess.run([VALGRIND, "--tool=memcheck", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", "--error-exitcode=99",
                        "--num-callers=30", f"--log-file={log}", *SUPP, XFER] + args,
                       cwd=cwd, capture_output=True, text=True, timeout=300)
    text = open(log).read()
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    lost = re.search(r"definitely lost: ([\d,]+) bytes", text)
    n_err = int(errors.group(1)) if errors else -1
    n_lost = int(lost.group(1).replace(",", "")) if lost else 0
    ok = r.returncode == 0 and n_err == 0 and n_lost == 0
    check(ok, f"{what}: exit {r.returncode}, {n_err} errors, {n_lost} bytes definitely lost")
    if not ok:
        print(text[-6000:])
        print(r.stderr[-2000:])


def main():
    check = Checker()
    d = tmpdir("valgrind")
    try:
        experiment(d)
        memcheck(check, ["run", "--no-plots", "--quiet", "--threads", "1", "tiny.yaml"], d,
                 "xfer run (tiny)")
        memcheck(check, ["report", "out/results.h5"], d, "xfer report")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    if not VALGRIND:
        print("skipped: valgrind not installed")
        sys.exit(77)
    if not os.path.exists(XFER):
        print("skipped: no xfer binary")
        sys.exit(77)
    main()
