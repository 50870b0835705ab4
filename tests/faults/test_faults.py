#!/usr/bin/python3
"""Fault tests on the real `xfer` binary with the tiny config (tests/faults/tiny.yaml). One case per
ctest: test_faults.py CASE, CASE in disk_full | readonly | weights_gone | cache_truncated |
concurrent | nan. Cases that need mount(2) (disk_full, readonly) skip with exit 77 when the
kernel refuses it (not root, no CAP_SYS_ADMIN)."""
import hashlib, os, shutil, subprocess, sys, time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultutil import Checker, XFER, curves, experiment, tmpdir, xfer  # noqa: E402

RUN = ["run", "--no-plots", "--quiet", "--threads", "1"]


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def leftovers(d):
    """Temp files a failed write must not leave behind."""
    return [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if ".tmp" in f]


def mount(*args):
    return subprocess.run(["mount"] + list(args), capture_output=True, text=True).returncode == 0


def umount(path):
    subprocess.run(["umount", path], capture_output=True)


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def case_disk_full(check, base):
    """The output on a 16 MiB tmpfs: a first run of one source, then the disk filled to ~150 KiB
    free and the full run: a clear 'No space left' error, exit 2, the results file still opens
    with the first source's curve unchanged, no temp files left; after freeing space a rerun
    completes every source."""
    disk = os.path.join(base, "disk")
    os.makedirs(disk)
    if not mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", disk):
        skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
    try:
        experiment(disk)
        r = xfer(RUN + ["--only", "rnd", "tiny.yaml"], disk)
        check(r.returncode == 0, "first run (source rnd) on the tmpfs exits 0")
        res = os.path.join(disk, "out/results.h5")
        before, _ = curves(res)
        st = os.statvfs(disk)
        free_kib = st.f_bavail * st.f_frsize // 1024
        with open(os.path.join(disk, "filler"), "wb") as f:
            f.write(b"\0" * ((free_kib - 150) * 1024))
        r = xfer(RUN + ["tiny.yaml"], disk)
        check(r.returncode == 2, f"full disk: exit 2 (got {r.returncode})")
        check("No space left on device" in r.stderr and "error:" in r.stderr,
              f"full disk: a clear error: {r.stderr.strip().splitlines()[-1:]}")
        try:
            after, status = curves(res)
            check(after.get("rnd") == before["rnd"] and status.get("rnd") == "done",
                  "full disk: the previous results file opens, rnd done with its curve unchanged")
        except Exception as e:  # noqa: BLE001
            check(False, f"full disk: the previous results file does not open: {e}")
        check(leftovers(disk) == [], f"full disk: no temp files left ({leftovers(disk)})")
        os.unlink(os.path.join(disk, "filler"))
        r = xfer(RUN + ["tiny.yaml"], disk)
        _, status = curves(res)
        check(r.returncode == 0 and set(status.values()) == {"done"},
              f"space freed: the rerun completes every source ({status})")
    finally:
        umount(disk)


def case_readonly(check, base):
    """The output folder made read-only by a read-only bind mount (root ignores permission bits):
    exit 2 naming the path and the reason; the existing results file unchanged."""
    d = os.path.join(base, "exp")
    experiment(d)
    r = xfer(RUN + ["--only", "rnd", "tiny.yaml"], d)
    check(r.returncode == 0, "first run (source rnd) exits 0")
    out = os.path.join(d, "out")
    res = os.path.join(out, "results.h5")
    digest = sha(res)
    if not mount("--bind", out, out):
        skip("cannot bind-mount here (needs root / CAP_SYS_ADMIN)")
    try:
        if not mount("-o", "remount,bind,ro", out):
            skip("cannot remount read-only here")
        r = xfer(RUN + ["tiny.yaml"], d)
        check(r.returncode == 2, f"read-only output: exit 2 (got {r.returncode})")
        check("out/results.h5" in r.stderr and "Read-only file system" in r.stderr,
              f"read-only output: error names the file and reason: {r.stderr.strip()[-200:]}")
        check(sha(res) == digest, "read-only output: results file unchanged")
    finally:
        umount(out)


def case_weights_gone(check, base):
    """A source whose weights file disappears between runs: the next run stops before any work with
    exit 2 naming the config key and the file; the results file is unchanged."""
    d = os.path.join(base, "exp")
    experiment(d, w=("weights: random", "weights: w.safetensors"))
    # weights for the source: the random source's initial weights, saved by a first run
    tmp = os.path.join(base, "mk")
    experiment(tmp)
    r = xfer(RUN + ["--only", "rnd", "tiny.yaml"], tmp)
    shutil.copy(os.path.join(tmp, "out/checkpoints/results/rnd.best.safetensors"),
                os.path.join(d, "w.safetensors"))
    r = xfer(RUN + ["--only", "built", "tiny.yaml"], d)
    check(r.returncode == 0, "first run (source built) exits 0")
    res = os.path.join(d, "out/results.h5")
    digest = sha(res)
    os.unlink(os.path.join(d, "w.safetensors"))
    r = xfer(RUN + ["tiny.yaml"], d)
    check(r.returncode == 2, f"weights gone: exit 2 (got {r.returncode})")
    check("sources.rnd.weights" in r.stderr and "w.safetensors" in r.stderr
          and "not found" in r.stderr, f"weights gone: named error: {r.stderr.strip()}")
    check(sha(res) == digest, "weights gone: results file unchanged")


def case_cache_truncated(check, base):
    """A decoded-dataset cache truncated on disk (as by a crash of another tool or a full disk):
    the next run notices, rebuilds it and completes with the same curves as a clean run."""
    ref = os.path.join(base, "ref")
    experiment(ref)
    check(xfer(RUN + ["tiny.yaml"], ref).returncode == 0, "clean run exits 0")
    want, _ = curves(os.path.join(ref, "out/results.h5"))
    d = os.path.join(base, "exp")
    experiment(d)
    check(xfer(RUN + ["--only", "rnd", "tiny.yaml"], d).returncode == 0, "first run exits 0")
    for name in ["tgt.h5", "src.h5"]:
        p = os.path.join(d, "out/cache", name)
        if os.path.exists(p):
            os.truncate(p, os.path.getsize(p) // 3)
    r = xfer(["run", "--no-plots", "--threads", "1", "tiny.yaml"], d)
    check(r.returncode == 0, f"truncated cache: the rerun exits 0 ({r.returncode})")
    got, status = curves(os.path.join(d, "out/results.h5"))
    check(set(status.values()) == {"done"} and got == want,
          "truncated cache: rebuilt, every source done with the clean run's curves")
    with h5py.File(os.path.join(d, "out/cache/tgt.h5"), "r"):
        check(True, "truncated cache: the rebuilt cache opens with h5py")


def case_concurrent(check, base):
    """Two runs on the same output at once: the second refuses (exit 2) with a message naming the
    lock, and the first is unaffected."""
    d = os.path.join(base, "exp")
    experiment(d, e=("epochs: 4\n", "epochs: 40\n"))
    p = subprocess.Popen([XFER] + RUN + ["tiny.yaml"], cwd=d, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    res = os.path.join(d, "out/results.h5")
    for _ in range(300):
        if os.path.exists(res) or p.poll() is not None:
            break
        time.sleep(0.05)
    r = xfer(RUN + ["tiny.yaml"], d)
    first_running = p.poll() is None
    check(first_running, "the first run was still running when the second started")
    check(r.returncode == 2, f"second run: exit 2 (got {r.returncode})")
    check("another xfer process" in r.stderr and "results.h5.lock" in r.stderr,
          f"second run: clear message: {r.stderr.strip()}")
    _, err = p.communicate(timeout=300)
    check(p.returncode == 0, f"the first run completes (exit {p.returncode}) {err[-300:]}")


def case_nan(check, base):
    """A source whose training diverges (its build recipe at lr 1e6): that source ends `failed` with
    the NaN reason, the other is fine-tuned to `done`, the run exits 4."""
    d = os.path.join(base, "exp")
    experiment(d, lr=("{sgd: {lr: 0.05,", "{sgd: {lr: 1.0e6,"))
    r = xfer(RUN + ["tiny.yaml"], d)
    check(r.returncode == 4, f"diverging source: exit 4 (got {r.returncode})")
    with h5py.File(os.path.join(d, "out/results.h5"), "r") as f:
        b, n = f["sources/built"].attrs, f["sources/rnd"].attrs
        check(b["status"] == "failed" and "NaN" in b["error"],
              f"built: failed with the reason ({b['status']}: {b['error']})")
        check(n["status"] == "done" and len(f["sources/rnd/curve/epoch"]) == 4,
              f"rnd: done with 4 epochs ({n['status']})")
    check("built" in r.stderr and "NaN" in r.stderr, "the failure is reported on stderr")


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(f"usage: test_faults.py {'|'.join(CASES)}")
    if not os.path.exists(XFER):
        skip("no xfer binary")
    check = Checker()
    base = tmpdir(sys.argv[1])
    try:
        CASES[sys.argv[1]](check, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()
