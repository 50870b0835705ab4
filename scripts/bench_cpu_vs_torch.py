#!/usr/bin/python3
"""xfer's CPU engine against PyTorch on the CPU, same machine, same run, same shapes and threads:
forward (inference) and train step (forward, backward, SGD with momentum) images/s, each the
median of --steps repeats after one warm-up, with the ratio xfer / torch printed last. The two
run in A-B-B-A order and each reports its better round, so load from other processes on a shared
machine biases neither side; the load average is printed with the figures.

usage: scripts/bench_cpu_vs_torch.py [--xfer build/xfer] [--arch resnet18] [--batch 16]
                                     [--size 224] [--steps 5] [--threads 2] [--classes 1000]"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def torch_bench(a):
    torch.set_num_threads(a.threads)
    # GoogLeNet and Inception-v3 as xfer builds them: no aux heads, transform_input
    kw = dict(aux_logits=False, transform_input=True, init_weights=False) \
        if a.arch in ("googlenet", "inception_v3") else {}
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes, **kw)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.arange(a.batch) % a.classes
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9, weight_decay=5e-4)

    def fwd():
        model.eval()
        with torch.no_grad():
            model(x)

    def train():
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    out = {}
    for name, fn in (("forward", fwd), ("train", train)):
        fn()  # warm-up
        ts = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        out[name] = a.batch / statistics.median(ts)
    return out


def xfer_bench(a):
    cmd = [a.xfer, "bench", "--device", "cpu", "--arch", a.arch, "--batch", str(a.batch),
           "--size", str(a.size), "--steps", str(a.steps), "--threads", str(a.threads),
           "--classes", str(a.classes)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"xfer bench failed ({r.returncode}): {r.stderr}")
    # images/s from the median seconds per batch (the img/s column has one decimal only)
    sec = r"\s+[\d.]+ img/s\s+\(median ([\d.]+) s per batch"
    fwd = a.batch / float(re.search(r"forward \(inference\)" + sec, r.stdout).group(1))
    train = a.batch / float(re.search(r"train step" + sec, r.stdout).group(1))
    rss = float(re.search(r"peak RSS\s+([\d.]+) MiB", r.stdout).group(1))
    return {"forward": fwd, "train": train, "rss": rss}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--xfer", default=os.environ.get("XFER", os.path.join(here, "..", "build",
                                                                          "xfer")))
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--classes", type=int, default=1000)
    a = p.parse_args()
    load0 = os.getloadavg()[0]
    x1 = xfer_bench(a)
    t1 = torch_bench(a)
    t2 = torch_bench(a)
    x2 = xfer_bench(a)
    x = {k: max(x1[k], x2[k]) for k in ("forward", "train")}
    x["rss"] = max(x1["rss"], x2["rss"])
    t = {k: max(t1[k], t2[k]) for k in ("forward", "train")}
    import resource
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{a.arch}, batch {a.batch}, {a.size}x{a.size}, {a.threads} threads, "
          f"median of {a.steps}; torch {torch.__version__}, {os.uname().nodename}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load average {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}, best of 2 rounds (A-B-B-A)")
    print(f"{'measure':<22}{'xfer':>12}{'torch':>12}{'xfer/torch':>12}")
    for k, label in (("forward", "forward img/s"), ("train", "train step img/s")):
        print(f"{label:<22}{x[k]:>12.2f}{t[k]:>12.2f}{x[k] / t[k]:>12.2f}")
    print(f"{'peak RSS MiB':<22}{x['rss']:>12.0f}{torch_rss:>12.0f}")


if __name__ == "__main__":
    main()
