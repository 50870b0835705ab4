#!/usr/bin/python3
"""Times `xfer prepare` against PIL decode+resize on the same folder, same output size, same
number of cores, in one run, and prints images/s for each and the ratio.

  scripts/bench_decode.py FOLDER [--xfer build/xfer] [--size 256] [--cores N] [--repeat 2]

FOLDER: an image_folder dataset (e.g. one written by scripts/make_synthetic_folder.py). The PIL
side is what torchvision's ImageFolder loader does per image: Image.open().convert("RGB"),
resize of the shorter side to SIZE (BILINEAR, antialiased), centre crop, to a numpy array, on a
multiprocessing pool of N workers. The xfer side is a whole `xfer prepare --force` (listing,
decoding, resizing, writing the HDF5 cache) timed from outside. Best of --repeat runs each."""
import argparse
import glob
import multiprocessing as mp
import os
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


def init(size):
    global SIZE
    SIZE = size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--xfer", default=os.environ.get("XFER", "build/xfer"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    files = sorted(p for p in glob.glob(os.path.join(a.folder, "*", "*"))
                   if p.lower().endswith((".jpg", ".jpeg", ".png")))
    n = len(files)
    print("folder %s: %d images, output %dx%d, %d cores" % (a.folder, n, a.size, a.size, a.cores))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "bench.yaml")
        with open(cfg, "w") as f:
            f.write("experiment: bench\noutput: %s/results.h5\ndatasets:\n  bench:\n"
                    "    kind: image_folder\n    root: %s\n    cache_size: %d\n"
                    "    image_size: %d\nsources:\n  - name: r\n    arch: resnet18\n"
                    "    weights: random\ntarget:\n  dataset: bench\nscores: [leep]\n"
                    % (tmp, os.path.abspath(a.folder), a.size, min(a.size, 224)))
        env = dict(os.environ, OMP_NUM_THREADS=str(a.cores))
        xt = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            r = subprocess.run([a.xfer, "prepare", cfg, "--force"], env=env,
                               capture_output=True, text=True)
            xt.append(time.perf_counter() - t0)
            if r.returncode != 0:
                print(r.stderr)
                return 1
        summary = [l for l in r.stderr.splitlines() if "prepared" in l]
        pt = []
        with mp.Pool(a.cores, initializer=init, initargs=(a.size,)) as pool:
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                pool.map(pil_one, files, chunksize=16)
                pt.append(time.perf_counter() - t0)
    x_rate, p_rate = n / min(xt), n / min(pt)
    if summary:
        print("xfer says: " + summary[-1])
    print("xfer prepare (decode+resize+HDF5 write): %8.0f images/s  (%.2f s)" % (x_rate, min(xt)))
    print("PIL decode+resize (%d processes):        %8.0f images/s  (%.2f s)" % (a.cores, p_rate, min(pt)))
    print("ratio xfer/PIL: %.2fx   (goals: >= 1500 images/s on 2 cores, >= 1.5x PIL)" % (x_rate / p_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
