#!/usr/bin/python3
"""Times `xfer prepare` against PIL decode+resize on the same folder, same output size, same
number of cores, in one run, and prints images/s for each and the ratio.

  scripts/bench_decode.py FOLDER [--xfer build/xfer] [--baseline OLD/xfer] [--size 256]
                         [--cores N] [--repeat 2]

FOLDER: an image_folder dataset (e.g. one written by scripts/make_synthetic_folder.py). The PIL
side is what torchvision's ImageFolder loader does per image: Image.open().convert("RGB"),
resize of the shorter side to SIZE (BILINEAR, antialiased), centre crop, to a numpy array, on a
multiprocessing pool of N workers. The xfer side is a whole `xfer prepare` (listing,
decoding, resizing, writing the HDF5 cache) timed from outside, each run into a fresh output
folder (replacing an existing 1.8 GB cache adds the kernel's cost of freeing the old file, which
is not decoding; docs/perf.md gives that figure). Runs alternate xfer, PIL, xfer, PIL... so both
see the same background load; best of --repeat runs each. Also printed: CPU seconds per image
(user + system, all threads/processes), which load on the machine does not inflate as much as
wall time, and the load average around each run."""
import argparse
import glob
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

SIZE = 256


def pil_one(path):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = SIZE, int(SIZE * h / w)
    else:
        nw, nh = int(SIZE * w / h), SIZE
    im = im.resize((nw, nh), Image.BILINEAR)
    t, l = int(round((nh - SIZE) / 2)), int(round((nw - SIZE) / 2))
    return np.asarray(im.crop((l, t, l + SIZE, t + SIZE))).shape[0]


def pil_chunk(paths):
    """CPU seconds (user + system) this worker spent on pil_one for these paths."""
    t0 = os.times()
    for p in paths:
        pil_one(p)
    t1 = os.times()
    return t1.user - t0.user + t1.system - t0.system


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def init(size):
    global SIZE
    SIZE = size


def time_xfer(binary, cfg, env):
    """Wall seconds, CPU seconds (user + system, all threads) and summary line of one prepare."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([binary, "prepare", cfg, "--force"], env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        print(r.stderr)
        return None
    summary = [l for l in r.stderr.splitlines() if "prepared" in l]
    return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, summary[-1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--xfer", default=os.environ.get("XFER", "build/xfer"))
    ap.add_argument("--baseline", help="a second xfer binary (e.g. an older build) timed in the "
                    "same alternation, for before/after figures under the same load")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    files = sorted(p for p in glob.glob(os.path.join(a.folder, "*", "*"))
                   if p.lower().endswith((".jpg", ".jpeg", ".png")))
    n = len(files)
    print("folder %s: %d images, output %dx%d, %d cores" % (a.folder, n, a.size, a.size, a.cores))
    print("machine: %s, %d CPUs; %s" % (cpu_model(), os.cpu_count(),
                                          time.strftime("%Y-%m-%d %H:%M %Z")))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.cores))
    sides = [("xfer", a.xfer)] + ([("baseline", a.baseline)] if a.baseline else [])
    wall = {k: [] for k, _ in sides + [("PIL", None)]}
    cpu = {k: [] for k in wall}
    summary = {}
    with tempfile.TemporaryDirectory() as tmp, \
            mp.Pool(a.cores, initializer=init, initargs=(a.size,)) as pool:
        for rep in range(a.repeat):
            for name, binary in sides:
                run = os.path.join(tmp, "%s%d" % (name, rep))
                os.makedirs(run)
                cfg = os.path.join(run, "bench.yaml")
                with open(cfg, "w") as f:
                    f.write("experiment: bench\noutput: %s/results.h5\ndatasets:\n  bench:\n"
                            "    kind: image_folder\n    root: %s\n    cache_size: %d\n"
                            "    image_size: %d\nsources:\n  - name: r\n    arch: resnet18\n"
                            "    weights: random\ntarget:\n  dataset: bench\nscores: [leep]\n"
                            % (run, os.path.abspath(a.folder), a.size, min(a.size, 224)))
                l0 = os.getloadavg()[0]
                got = time_xfer(binary, cfg, env)
                if got is None:
                    return 1
                wall[name].append(got[0])
                cpu[name].append(got[1])
                summary[name] = got[2]
                shutil.rmtree(os.path.join(run, "cache"), ignore_errors=True)
                print("run %d: %-8s %6.2f s (%.2f CPU-s)  load %.1f -> %.1f"
                      % (rep + 1, name, got[0], got[1], l0, os.getloadavg()[0]))
            l0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            c = sum(pool.map(pil_chunk, [files[i:i + 16] for i in range(0, n, 16)]))
            wall["PIL"].append(time.perf_counter() - t0)
            cpu["PIL"].append(c)
            print("run %d: %-8s %6.2f s (%.2f CPU-s)  load %.1f -> %.1f"
                  % (rep + 1, "PIL", wall["PIL"][-1], c, l0, os.getloadavg()[0]))
    for name, _ in sides:
        if summary.get(name):
            print("%s says: %s" % (name, summary[name][0]))
    labels = {"xfer": "xfer prepare (decode+resize+HDF5 write)",
              "baseline": "baseline xfer prepare",
              "PIL": "PIL decode+resize (%d processes)" % a.cores}
    for name in wall:
        print("%-40s %6.0f images/s  (best %.2f s, median %.2f s)  %.3f CPU-ms/image"
              % (labels[name] + ":", n / min(wall[name]), min(wall[name]),
                 sorted(wall[name])[len(wall[name]) // 2], 1e3 * min(cpu[name]) / n))
    for name, _ in sides:
        print("ratio %s/PIL: %.2fx wall, %.2fx CPU   (goals: >= 1500 images/s on 2 cores, "
              ">= 1.5x PIL)" % (name, min(wall["PIL"]) / min(wall[name]),
                                min(cpu["PIL"]) / min(cpu[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
