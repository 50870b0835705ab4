#!/usr/bin/env python3
"""scripts/gpu-check.sh must not pass without a GPU (issue 13): run on this build as it is
(XFER_GPU_CHECK_NO_BUILD=1, the phases that need a device skipped), its verdict must be FAIL with
exit status 1, naming the reason that applies -- "the CUDA backend is not built" when `xfer info`
lists no cuda backend, else "no CUDA device visible" -- and the summary table must come last.
Skips (77) where a CUDA device is visible. (CI stage 2 runs the script in normal mode on the
CPU-only build, where every gpu test is skipped, and requires FAIL as well.)"""
import os
import subprocess
import sys
import tempfile

SRC = os.environ["XFER_SOURCE_DIR"]
BUILD = os.environ["XFER_BUILD_DIR"]
XFER = os.environ["XFER"]


def main():
    info = subprocess.run([XFER, "info"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True).stdout
    dev = next((l for l in info.splitlines() if l.startswith("CUDA devices:")), "")
    if dev[len("CUDA devices:"):].strip()[:1].isdigit() and not dev.endswith(": 0"):
        print(f"skipped: a CUDA device is visible ({dev})")
        return 77
    backends = next((l for l in info.splitlines() if l.startswith("backends:")), "")
    has_cuda = "cuda" in backends.split(":", 1)[1].replace(",", " ").split()
    want = "no CUDA device visible" if has_cuda else "the CUDA backend is not built"
    with tempfile.TemporaryDirectory(prefix="xfer-gpucheck-") as tmp:
        env = dict(os.environ, OUT=os.path.join(tmp, "logs"), XFER_GPU_BUILD=BUILD,
                   XFER_GPU_CHECK_NO_BUILD="1", XFER_GPU_DEPS_PREFIX=os.path.join(tmp, "deps"),
                   XFER_GPU_CHECK_SKIP="tests sanitizer bench torch")
        env.pop("XFER_GPU_CHECK_REHEARSE", None)
        r = subprocess.run(["bash", os.path.join(SRC, "scripts", "gpu-check.sh")], cwd=SRC,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=100)
        out = r.stdout
        print(out)
        lines = out.rstrip().splitlines()
        summary = next((i for i, l in enumerate(lines) if l.startswith("== gpu-check summary")),
                       None)
        errors = []
        if r.returncode != 1:
            errors.append(f"exit status {r.returncode}, want 1")
        if summary is None:
            errors.append("no summary table")
        else:
            table = lines[summary + 1:]
            if any(l.split()[:2] == ["verdict", "PASS"] for l in table):
                errors.append("the verdict says PASS")
            if not any(l.startswith("verdict") and f"FAIL: {want}" in l for l in table):
                errors.append(f"no 'verdict ... FAIL: {want}' in the table")
            if not any(l.startswith("backend ") for l in table):
                errors.append("no backend row")
        if not os.path.exists(os.path.join(tmp, "logs", "info.log")):
            errors.append("no info.log written")
    for e in errors:
        print(f"FAIL: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
