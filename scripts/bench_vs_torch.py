#!/usr/bin/env python3
"""Training-step and inference throughput, PyTorch vs `xfer bench`, on the same GPU in one run.

    bench_vs_torch.py [--xfer build-gpu/xfer] [--shapes resnet18:64,resnet18:256,alexnet:64,
                      alexnet:256] [--precisions fp32,tf32,bf16] [--steps 10] [--warmup 3]
                      [--compile] [--budget 300]

Shapes: 224x224, 102 classes, SGD (lr 0.01, momentum 0.9, weight decay 5e-4), synthetic batches
resident on the GPU (no data loading on either side). PyTorch eager: fp32 = TF32 off
(torch.backends.{cuda.matmul,cudnn}.allow_tf32 = False), tf32 = TF32 on, bf16 = autocast bfloat16
with channels_last and fp32 master weights; cudnn.benchmark on. Each figure is the median of
--steps repeats timed with CUDA events after --warmup, as `xfer bench` does. --compile adds
torch.compile (bf16, ResNet-18 batch 256, the issue's reference) when the time budget allows.
Inference: ResNet-18 batch 256 forward in eval mode (no_grad) vs `xfer bench`'s forward figure.
The table with the ratios (xfer / torch, with issue 8's goals) is printed last.
Needs a CUDA device and torch (1.13 or 2.x); exits 2 with a message otherwise."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

GOALS = {  # (arch, batch, precision) -> ratio goal of issue 8
    ("resnet18", 256, "bf16"): 1.2, ("resnet18", 64, "bf16"): 1.5,
    ("alexnet", 256, "bf16"): 1.1,
}


def goal(arch, batch, prec):
    if (arch, batch, prec) in GOALS:
        return GOALS[(arch, batch, prec)]
    return 1.0 if prec in ("fp32", "tf32") else None


def torch_bench(torch, tv, arch, batch, prec, steps, warmup, train=True, compiled=False):
    torch.backends.cudnn.benchmark = True
    tf32 = prec == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = torch.device("cuda")
    model = getattr(tv.models, arch)(num_classes=102).to(dev)
    cl = prec == "bf16"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device=dev)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(batch, device=dev) % 102
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    fwd = torch.compile(model) if compiled else model

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=prec == "bf16"):
            if train:
                loss = torch.nn.functional.cross_entropy(fwd(x), y)
            else:
                with torch.no_grad():
                    fwd(x)
        if train:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    model.train(train)
    for _ in range(warmup + (3 if compiled else 0)):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        step()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3)
    del model, opt, x, y, fwd
    torch.cuda.empty_cache()
    return batch / statistics.median(times)


def xfer_bench(xfer, arch, batch, prec, steps, warmup):
    cmd = [xfer, "bench", "--device", "cuda", "--arch", arch, "--batch", str(batch),
           "--precision", prec, "--classes", "102", "--steps", str(steps), "--warmup", str(warmup)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        return None, None, "timed out"
    m = re.search(r"^bench: .*train_img_s=([\d.]+) infer_img_s=([\d.]+) card=\"([^\"]*)\"",
                  p.stdout, re.M)
    if p.returncode != 0 or not m:
        return None, None, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
    return float(m.group(1)), float(m.group(2)), m.group(3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--xfer", default=os.environ.get("XFER", os.path.join(root, "build-gpu", "xfer")))
    ap.add_argument("--shapes", default="resnet18:64,resnet18:256,alexnet:64,alexnet:256")
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="torch.compile row (bf16 resnet18 256)")
    ap.add_argument("--budget", type=float, default=300, help="seconds; later rows are skipped")
    a = ap.parse_args()
    try:
        import torch
        import torchvision as tv
    except ImportError as e:
        print("bench_vs_torch: needs torch and torchvision (%s)" % e, file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_vs_torch: no CUDA device (torch %s): this benchmark needs a GPU"
              % torch.__version__, file=sys.stderr)
        return 2
    if not os.access(a.xfer, os.X_OK):
        print("bench_vs_torch: %s is not an executable xfer (build with CUDA, or pass --xfer)"
              % a.xfer, file=sys.stderr)
        return 2
    t_start = time.time()
    card = torch.cuda.get_device_name(0)
    print("bench_vs_torch: %s, torch %s, cuDNN %s, %s" % (card, torch.__version__,
          torch.backends.cudnn.version(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    rows = []  # (label, arch, batch, prec, torch img/s, xfer img/s, note)
    shapes = [(s.split(":")[0], int(s.split(":")[1])) for s in a.shapes.split(",") if s]
    precs = [p for p in a.precisions.split(",") if p]
    infer_done = set()
    for arch, batch in shapes:
        for prec in precs:
            if time.time() - t_start > a.budget:
                rows.append(("train", arch, batch, prec, None, None, "skipped: budget"))
                continue
            try:
                t = torch_bench(torch, tv, arch, batch, prec, a.steps, a.warmup)
            except Exception as e:  # out of memory etc.: report, keep going
                t, note = None, "torch: %s" % str(e).splitlines()[0][:60]
            else:
                note = ""
            xt, xi, xcard = xfer_bench(a.xfer, arch, batch, prec, a.steps, a.warmup)
            if xt is None:
                note = (note + "; " if note else "") + "xfer: " + xcard[:70]
            rows.append(("train", arch, batch, prec, t, xt, note))
            print("  %-8s %4d %-5s torch %9s  xfer %9s %s" % (
                arch, batch, prec, "%.0f" % t if t else "-", "%.0f" % xt if xt else "-", note),
                flush=True)
            if arch == "resnet18" and batch == 256 and (arch, prec) not in infer_done:
                infer_done.add((arch, prec))
                try:
                    ti = torch_bench(torch, tv, arch, batch, prec, a.steps, a.warmup, train=False)
                except Exception as e:
                    ti = None
                    note = "torch: %s" % str(e).splitlines()[0][:60]
                rows.append(("infer", arch, batch, prec, ti, xi, ""))
    if a.compile and time.time() - t_start < a.budget:
        try:
            if not hasattr(torch, "compile"):
                raise RuntimeError("torch %s has no torch.compile" % torch.__version__)
            tc = torch_bench(torch, tv, "resnet18", 256, "bf16", a.steps, a.warmup, compiled=True)
            note = "torch.compile"
        except Exception as e:
            tc, note = None, "torch.compile: %s" % str(e).splitlines()[0][:60]
        xt = next((r[5] for r in rows if r[:4] == ("train", "resnet18", 256, "bf16")), None)
        rows.append(("train*", "resnet18", 256, "bf16", tc, xt, note))

    print()
    print("== xfer vs PyTorch on %s (img/s, 224x224, 102 classes, SGD; median of %d; %.0fs) =="
          % (card, a.steps, time.time() - t_start))
    print("| what | model | batch | precision | PyTorch | xfer | xfer/PyTorch | goal | |")
    print("|---|---|---|---|---|---|---|---|---|")
    n_fail = 0
    for kind, arch, batch, prec, t, x, note in rows:
        g = goal(arch, batch, prec) if kind == "train" else (1.0 if kind == "infer" else None)
        ratio = x / t if (t and x) else None
        verdict = ""
        if ratio is not None and g is not None:
            verdict = "ok" if ratio >= g else "BELOW"
            n_fail += ratio < g
        label = {"train": "train step", "infer": "inference", "train*": "train vs compile"}[kind]
        print("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
            label, arch, batch, prec, "%.0f" % t if t else "-", "%.0f" % x if x else "-",
            "%.2f" % ratio if ratio else "-", "%.1f" % g if g else "-",
            " ".join(v for v in (verdict, note) if v)))
    print("%d of %d rows below their goal" % (n_fail, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
