"""The command line contract: --help, --version, info, exit statuses of unknown input."""
import os
import subprocess
import sys

XFER = os.environ["XFER"]
failures = 0
checks = 0


def run(*args):
    p = subprocess.run([XFER, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


rc, out, err = run("--version")
check(rc == 0 and out.startswith("xfer "), f"--version: {rc} {out!r}")
rc, out, err = run("--help")
check(rc == 0 and "commands:" in out and "exit status" in out, "--help lists commands")
for cmd in ["run", "validate", "prepare", "score", "report", "merge", "metrics", "step", "bench",
            "info"]:
    rc, out, err = run(cmd, "--help")
    check(rc == 0 and out.startswith("usage: xfer " + cmd), f"{cmd} --help: {rc} {out[:80]!r}")
    rc, out, err = run(cmd, "--no-such-option")
    check(rc == 2 and "unknown option" in err, f"{cmd} --no-such-option: {rc} {err!r}")
rc, out, err = run("frobnicate")
check(rc == 2 and "unknown command" in err, f"unknown command: {rc} {err!r}")
rc, out, err = run()
check(rc == 2, "no command exits 2")
rc, out, err = run("--device", "tpu", "info")
check(rc == 2 and "--device" in err, f"bad --device: {rc} {err!r}")
rc, out, err = run("info")
check(rc == 0, f"info exits 0: {rc} {err}")
for key in ["xfer ", "backends: cpu", "CUDA devices:", "HDF5: ", "libyaml: ", "OpenBLAS"]:
    check(key in out, f"info prints {key!r}")
if not os.path.exists("/dev/nvidia0"):
    check("CUDA devices: none" in out, "info says 'CUDA devices: none' without a GPU")

print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
