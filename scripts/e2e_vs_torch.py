#!/usr/bin/env python3
"""The paper's sweep shape end to end, xfer vs the usual PyTorch script, on one GPU in one run.

    e2e_vs_torch.py [--xfer build-gpu/xfer] [--folder data/caltech101-synthetic]
                    [--xfer-epochs 30] [--torch-runs 2] [--torch-epochs 3] [--workers 16]

1. Makes the Caltech-101-shaped folder (scripts/make_synthetic_folder.py: 102 class folders, 9,146
   JPEGs) unless it is there, and the stand-in "ImageNet"/"Places365" weights (torchvision's random
   initialisations, 1000 and 365 classes) in weights/synthetic/ (configs/paper-synthetic.yaml).
2. xfer: `xfer run configs/paper-synthetic.yaml` from scratch (its output folder, decode cache
   included, is removed first): 8 small source builds, 12 sources scored (11 scores), 12 fine-tunes
   of --xfer-epochs epochs (30: the goal's shape; fewer makes a written copy of the config).
3. PyTorch, the usual script: torchvision ImageFolder + PIL + DataLoader (--workers workers,
   batch 64, shuffle, pinned memory), RandomResizedCrop(224) + flip for training and
   Resize(256) + CenterCrop(224) for testing, a stratified 80/20 split, SGD lr 0.001 momentum 0.9,
   StepLR(7, 0.1), evaluation every epoch, one eval-mode pass over the training split per source
   (the scoring forward pass). It runs --torch-runs fine-tunes (alternating AlexNet / ResNet-18)
   of --torch-epochs epochs; the 12 x 30-epoch total is extrapolated from their per-epoch times
   per architecture (said so in the output). The source builds are not run on the PyTorch side
   (that favours PyTorch).
Prints both wall times and the ratio last (issue 8's goal: xfer <= 300 s, >= 4x PyTorch).
Needs a CUDA device, torch + torchvision, numpy and PIL; exits 2 with a message otherwise."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "configs/paper-synthetic.yaml"
STANDINS = [("alexnet", "imagenet", 1000), ("alexnet", "places365", 365),
            ("resnet18", "imagenet", 1000), ("resnet18", "places365", 365)]


def make_inputs(torch, tv, folder):
    if not os.path.isdir(folder):
        t0 = time.time()
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make_synthetic_folder.py"),
                        folder], check=True)
        print("made %s in %.0fs" % (folder, time.time() - t0))
    os.makedirs("weights/synthetic", exist_ok=True)
    for arch, what, k in STANDINS:
        out = "weights/synthetic/%s_%s_random.safetensors" % (arch, what)
        if os.path.exists(out):
            continue
        torch.manual_seed(len(out))
        sd = getattr(tv.models, arch)(num_classes=k).state_dict()
        tmp = out + ".pth"
        torch.save(sd, tmp)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/convert_torch.py"), tmp, out,
                        "--arch", arch], check=True, stdout=subprocess.DEVNULL)
        os.remove(tmp)


def run_xfer(xfer, epochs):
    cfg = CONFIG
    if epochs != 30:
        text = open(CONFIG).read()
        text = re.sub(r"(finetune:\n\s+epochs:) 30", r"\1 %d" % epochs, text)
        cfg = "results/paper-synthetic-e%d.yaml" % epochs
        os.makedirs("results", exist_ok=True)
        with open(cfg, "w") as f:
            f.write(text)
    shutil.rmtree("results/paper-synthetic", ignore_errors=True)
    t0 = time.time()
    p = subprocess.run([xfer, "run", cfg], capture_output=True, text=True)
    wall = time.time() - t0
    with open("results/e2e-xfer.log", "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        print("xfer run failed (exit %d):\n%s" % (p.returncode, "\n".join(
            p.stderr.strip().splitlines()[-8:])))
        return None
    return wall


def torch_finetune(torch, tv, folder, arch, epochs, workers, amp, seed):
    import numpy as np
    from torch.utils.data import DataLoader, Subset
    T = tv.transforms
    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    train_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    test_tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
    full_train = tv.datasets.ImageFolder(folder, transform=train_tf)
    full_test = tv.datasets.ImageFolder(folder, transform=test_tf)
    labels = np.array(full_train.targets)
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for c in np.unique(labels):  # stratified 80/20
        idx = rng.permutation(np.where(labels == c)[0])
        k = int(round(0.8 * len(idx)))
        tr += idx[:k].tolist()
        te += idx[k:].tolist()
    kw = dict(batch_size=64, num_workers=workers, pin_memory=True, persistent_workers=workers > 0)
    dl_train = DataLoader(Subset(full_train, tr), shuffle=True, **kw)
    dl_test = DataLoader(Subset(full_test, te), shuffle=False, **kw)
    dl_score = DataLoader(Subset(full_test, tr), shuffle=False, **kw)
    dev = torch.device("cuda")
    model = getattr(tv.models, arch)(num_classes=1000)
    if arch == "alexnet":
        model.classifier[6] = torch.nn.Linear(4096, 102)
    else:
        model.fc = torch.nn.Linear(512, 102)
    model = model.to(dev)
    t0 = time.time()
    model.eval()  # the scoring forward pass over the training split
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        for x, _ in dl_score:
            model(x.to(dev, non_blocking=True)).float().softmax(1).cpu()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 7, 0.1)
    for ep in range(epochs):
        model.train()
        for x, y in dl_train:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
        sched.step()
        model.eval()
        correct = n = 0
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            for x, y in dl_test:
                p = model(x.to(dev, non_blocking=True)).argmax(1).cpu()
                correct += int((p == y).sum())
                n += len(y)
    return time.time() - t0, correct / max(n, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xfer", default=os.environ.get("XFER", os.path.join(ROOT, "build-gpu", "xfer")))
    ap.add_argument("--folder", default="data/caltech101-synthetic")
    ap.add_argument("--xfer-epochs", type=int, default=30)
    ap.add_argument("--torch-runs", type=int, default=2)
    ap.add_argument("--torch-epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--torch-amp", action="store_true", help="bf16 autocast in the PyTorch script")
    ap.add_argument("--skip-xfer", action="store_true")
    ap.add_argument("--skip-torch", action="store_true")
    a = ap.parse_args()
    os.chdir(ROOT)
    try:
        import torch
        import torchvision as tv
    except ImportError as e:
        print("e2e_vs_torch: needs torch and torchvision (%s)" % e, file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("e2e_vs_torch: no CUDA device (torch %s): this comparison needs a GPU"
              % torch.__version__, file=sys.stderr)
        return 2
    if not a.skip_xfer and not os.access(a.xfer, os.X_OK):
        print("e2e_vs_torch: %s is not an executable xfer (pass --xfer)" % a.xfer, file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name(0)
    make_inputs(torch, tv, a.folder)
    xw = None
    if not a.skip_xfer:
        xw = run_xfer(a.xfer, a.xfer_epochs)
        if xw is not None:
            print("xfer run: %.1fs wall for 12 sources x %d epochs (+ builds, scores, decode); log "
                  "results/e2e-xfer.log" % (xw, a.xfer_epochs), flush=True)
    per_epoch = {}
    if not a.skip_torch:
        for i in range(a.torch_runs):
            arch = ("alexnet", "resnet18")[i % 2]
            secs, acc = torch_finetune(torch, tv, a.folder, arch, a.torch_epochs, a.workers,
                                       a.torch_amp, i)
            per_epoch.setdefault(arch, []).append(secs / a.torch_epochs)
            print("torch %s: %d epochs (+ scoring pass) in %.1fs, test accuracy %.3f"
                  % (arch, a.torch_epochs, secs, acc), flush=True)
    tw = None
    if len(per_epoch) == 2:
        tw = sum(6 * 30 * sum(v) / len(v) for v in per_epoch.values())
    print()
    print("== e2e on %s, %s ==" % (card, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    print("xfer    %s  (measured: xfer run, 12 x %d epochs, builds + scores + decode)"
          % ("%8.1fs" % xw if xw else "       -", a.xfer_epochs))
    print("PyTorch %s  (extrapolated to 12 x 30 epochs from %d runs of %d epochs%s)"
          % ("%8.1fs" % tw if tw else "       -", a.torch_runs, a.torch_epochs,
             ", bf16 autocast" if a.torch_amp else ", fp32"))
    if xw and tw:
        xw30 = xw * 30 / a.xfer_epochs if a.xfer_epochs != 30 else xw
        print("ratio   %8.2fx  PyTorch / xfer%s (goal >= 4x; xfer goal <= 300 s: %s)" % (
            tw / xw30, "" if a.xfer_epochs == 30 else " (xfer scaled to 30 epochs)",
            "ok" if xw30 <= 300 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
