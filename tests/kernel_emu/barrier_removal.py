#!/usr/bin/env python3
"""Proof that the emulator tests can fail (docs/gpu.md, "Barrier removal"):

    barrier_removal.py BUILD_DIR [--list]

For each __syncthreads() / __syncwarp(...) in kernels/*.cu, one at a time: a temporary copy of
that .cu file without it is rewritten and compiled exactly as the build compiles the emulated
kernels (flags from BUILD_DIR's xemu target), each emulator test program is relinked with it in
front of libxemu.a, and the tests run (fibers, forward then reverse thread order) until one fails.
Prints one line per barrier (caught by which test, or NOT CAUGHT) and the totals; exits 1 when a
barrier was not caught. Nothing in the source tree or the build changes."""
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
BARRIER = re.compile(r"__syncthreads\s*\(\s*\)\s*;|__syncwarp\s*\([^;]*\)\s*;")
TESTS = ["ops", "archs", "scores", "extra", "data", "batches"]  # cheapest first


def flags(build):
    d = os.path.join(build, "tests", "kernel_emu", "CMakeFiles", "xemu.dir")
    vals = {}
    with open(os.path.join(d, "flags.make"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"(CXX_\w+) = (.*)", line.rstrip("\n"))
            if m:
                vals[m.group(1)] = m.group(2)
    return vals


def link_cmd(build, name):
    d = os.path.join(build, "tests", "kernel_emu")
    with open(os.path.join(d, "CMakeFiles", f"kemu_{name}.dir", "link.txt"), encoding="utf-8") as f:
        return d, f.read().strip()


def main():
    build = os.path.abspath(sys.argv[1])
    cxx = None
    with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("CMAKE_CXX_COMPILER:"):
                cxx = line.split("=", 1)[1].strip()
    fl = flags(build)
    kernels = sorted(os.path.join(SRC, "kernels", f) for f in os.listdir(os.path.join(SRC, "kernels"))
                     if f.endswith(".cu"))
    sites = []
    for k in kernels:
        text = open(k, encoding="utf-8").read()
        for m in BARRIER.finditer(text):
            sites.append((k, m.start(), m.end(), text.count("\n", 0, m.start()) + 1, m.group(0)))
    if "--list" in sys.argv:
        for k, _, _, line, what in sites:
            print(f"{os.path.relpath(k, SRC)}:{line}: {what}")
        return 0
    caught = 0
    env = dict(os.environ)
    env.pop("XEMU_ORDER", None)
    with tempfile.TemporaryDirectory(prefix="xemu-barrier-") as tmp:
        for k, a, b, line, what in sites:
            text = open(k, encoding="utf-8").read()
            name = os.path.basename(k)
            cu = os.path.join(tmp, name)
            # same file name and #line target, so reports still name kernels/<file>:<line>
            with open(cu, "w", encoding="utf-8") as f:
                f.write(text[:a] + "/* barrier removed */" + text[b:])
            cpp, obj = cu + ".cpp", cu + ".o"
            subprocess.run([sys.executable, os.path.join(HERE, "rewrite.py"), cu, cpp], check=True)
            cmd = ([cxx] + shlex.split(fl.get("CXX_DEFINES", "")) +
                   shlex.split(fl.get("CXX_INCLUDES", "")) + shlex.split(fl.get("CXX_FLAGS", "")) +
                   ["-I", os.path.join(SRC, "kernels"), "-c", cpp, "-o", obj])
            subprocess.run(cmd, check=True, cwd=os.path.join(build, "tests", "kernel_emu"))
            verdict = None
            for t in TESTS:
                d, link = link_cmd(build, t)
                exe = os.path.join(tmp, f"kemu_{t}")
                parts = shlex.split(link)
                out = parts.index("-o")
                parts[out + 1] = exe
                lib = next(i for i, p in enumerate(parts) if p.endswith("libxemu.a"))
                parts.insert(lib, obj)
                subprocess.run(parts, check=True, cwd=d, stdout=subprocess.DEVNULL)
                for order in ("forward", "reverse"):
                    env["XEMU_ORDER"] = order
                    r = subprocess.run([exe], cwd=d, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, timeout=900)
                    if r.returncode != 0:
                        msg = r.stdout.decode(errors="replace").strip().splitlines()
                        first = next((m for m in msg if "FAIL" in m or "xemu error" in m or
                                      "relative error" in m), msg[-1] if msg else "")
                        verdict = f"caught by kemu_{t} ({order}): {first.strip()[:150]}"
                        break
                if verdict:
                    break
            rel = os.path.relpath(k, SRC)
            if verdict:
                caught += 1
                print(f"{rel}:{line}: {what} removed: {verdict}", flush=True)
            else:
                print(f"{rel}:{line}: {what} removed: NOT CAUGHT by any emulator test", flush=True)
    print(f"barrier removal: {caught} of {len(sites)} barriers caught")
    return 0 if caught == len(sites) else 1


if __name__ == "__main__":
    sys.exit(main())
