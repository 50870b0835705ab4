"""The fine-tuning recipe options against torch 1.13 and sklearn (docs/config.md, recipe):
- `schedule: cosine`: xfer_cosine_lr equals torch.optim.lr_scheduler.CosineAnnealingLR's per-epoch
  learning rates exactly (float64), with and without eta_min, and past T_max;
- `optimizer.sgd.nesterov` with momentum and weight decay: the CPU backend's SGD update under
  the cosine lrs (several epochs of steps on fixed gradients) against torch.optim.SGD(nesterov=True)
  in float32 (a few float32 roundings apart at most);
- `accuracy: mean_per_class`: xfer_mean_per_class against sklearn's balanced_accuracy_score;
- and in `xfer run`: the curve's lr is torch's cosine sequence (as float32), nesterov changes the
  curve, mean_per_class equals top-1 on a balanced test split and, on an imbalanced one (an
  image_list with a split column), differs and decomposes into per-class hit counts."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
from PIL import Image
from sklearn.metrics import balanced_accuracy_score

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, xfer  # noqa: E402

TOOL = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="xfer-recipe-")


def torch_cosine(base, eta_min, t_max, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return out


def tool_sgd(params, grads, per_epoch, t_max, nesterov, momentum, wd, lr, eta_min):
    src, dst = os.path.join(tmp, "sgd.in"), os.path.join(tmp, "sgd.out")
    with open(src, "wb") as f:
        np.array([params.size, len(grads), per_epoch, t_max, nesterov], np.int32).tofile(f)
        np.array([momentum, wd, lr, eta_min], np.float64).tofile(f)
        params.astype(np.float32).tofile(f)
        np.stack(grads).astype(np.float32).tofile(f)
    r = subprocess.run([TOOL, "sgd", src, dst], capture_output=True, text=True, timeout=60)
    if not check(r.returncode == 0, "train_tool sgd: " + r.stderr):
        return None, None
    raw = np.fromfile(dst, np.uint8)
    n_lr = len(grads)
    return raw[:8 * n_lr].view(np.float64), raw[8 * n_lr:].view(np.float32)


try:
    # ---- the cosine schedule ------------------------------------------------------------------
    for base, eta_min, t_max, epochs in [(0.01, 0.0, 30, 30), (0.1, 0.0, 7, 7), (0.05, 1e-4, 12, 12),
                                         (0.02, 0.001, 5, 17), (0.003, 0.0, 1, 3)]:
        want = torch_cosine(base, eta_min, t_max, epochs)
        grads = [np.zeros(1, np.float32)] * epochs
        lrs, _ = tool_sgd(np.zeros(1), grads, 1, t_max, 0, 0.9, 0.0, base, eta_min)
        if lrs is not None:
            check(list(lrs) == want, f"cosine lr == torch's (base {base}, eta_min {eta_min}, "
                  f"T_max {t_max}, {epochs} epochs): max diff {np.max(np.abs(lrs - want)):.3g}")

    # ---- Nesterov SGD with weight decay and momentum under the cosine lrs ---------------------
    rng = np.random.default_rng(15)
    n, per_epoch, epochs = 1000, 4, 6
    p0 = rng.normal(size=n).astype(np.float32)
    grads = [rng.normal(size=n).astype(np.float32) for _ in range(per_epoch * epochs)]
    for nesterov in (1, 0):
        for momentum, wd in ((0.9, 5e-4), (0.9, 0.0), (0.5, 1e-2)):
            p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
            opt = torch.optim.SGD([p], lr=0.05, momentum=momentum, weight_decay=wd,
                                  nesterov=bool(nesterov))
            sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
            for e in range(epochs):
                for s in range(per_epoch):
                    p.grad = torch.from_numpy(grads[e * per_epoch + s].copy())
                    opt.step()
                sch.step()
            want = p.detach().numpy()
            _, got = tool_sgd(p0, grads, per_epoch, epochs, nesterov, momentum, wd, 0.05, 0.0)
            if got is not None:
                # float32 roundings apart (torch's add(alpha) may fuse): relative to the scale
                err = np.max(np.abs(got - want)) / np.max(np.abs(want))
                print(f"nesterov={nesterov} momentum {momentum} wd {wd}: max |diff| / max |p| "
                      f"{err:.3g}")
                check(err < 1e-6, f"SGD nesterov={nesterov} momentum {momentum} wd {wd}: "
                      f"max rel diff vs torch {err:.3g}")
    # the comparison can tell Nesterov from plain momentum
    pn = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.SGD([pn], lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=False)
    for s in range(per_epoch):
        pn.grad = torch.from_numpy(grads[s].copy())
        opt.step()
    _, got = tool_sgd(p0, grads[:per_epoch], per_epoch, epochs, 1, 0.9, 5e-4, 0.05, 0.0)
    if got is not None:
        check(np.max(np.abs(got - pn.detach().numpy())) > 1e-3, "Nesterov differs from plain")

    # ---- mean per-class accuracy vs sklearn ----------------------------------------------------
    for trial in range(20):
        k = int(rng.integers(2, 12))
        m = int(rng.integers(1, 300))
        lab = rng.integers(0, k, size=m).astype(np.int32)
        if trial % 3 == 0:
            lab[lab == k - 1] = 0  # a class without images
        pred = np.where(rng.random(m) < 0.6, lab, rng.integers(0, k, size=m)).astype(np.int32)
        src = os.path.join(tmp, "mpc.in")
        with open(src, "wb") as f:
            np.array([m, k], np.int32).tofile(f)
            pred.tofile(f)
            lab.tofile(f)
        r = subprocess.run([TOOL, "mpc", src], capture_output=True, text=True, timeout=60)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = balanced_accuracy_score(lab, pred)
        check(r.returncode == 0 and abs(float(r.stdout) - want) <= 1e-12,
              f"mean_per_class {r.stdout.strip()} vs sklearn {want} (k {k}, n {m})")

    # ---- in xfer run ------------------------------------------------------------------------------
    def run_cfg(name, dataset, finetune, extra_ds=""):
        out = os.path.join(tmp, name, "results.h5")
        cfg = os.path.join(tmp, name + ".yaml")
        with open(cfg, "w") as f:
            f.write(f"experiment: {name}\nseed: 2\ndevice: cpu\noutput: {out}\n"
                    f"datasets:\n  t:\n{dataset}    image_size: 20\n    cache_size: 24\n"
                    f"    cache: {tmp}/cache-{name}.h5\n{extra_ds}"
                    "sources:\n  - {name: s, arch: resnet18, width: 0.125, weights: random}\n"
                    f"target:\n  dataset: t\n  finetune: {finetune}\n")
        rc, so, se = xfer("run", cfg, "--no-plots", "--quiet")
        check(rc == 0, f"{name}: run exits 0: {se[-1500:]}")
        if rc:
            return None
        with h5py.File(out) as f:
            return {k: np.array(f["sources"]["s"]["curve"][k]) for k in f["sources"]["s"]["curve"]}

    synth = "    kind: synthetic\n    synthetic: {classes: 3, per_class: 30, size: 24, seed: 4}\n"
    base = "epochs: 4, batch_size: 16, optimizer: {sgd: {lr: 0.05, momentum: 0.9, weight_decay: 1e-4"
    cos = run_cfg("cos", synth, "{" + base + ", nesterov: true}}, schedule: cosine}")
    if cos is not None:
        want = np.float32(torch_cosine(0.05, 0.0, 4, 4)).astype(np.float64)
        check(np.array_equal(cos["lr"], want), f"run: cosine lr {cos['lr']} == torch's {want}")
    plain = run_cfg("plain", synth, "{" + base + "}}, schedule: cosine}")
    if cos is not None and plain is not None:
        check(np.array_equal(cos["lr"], plain["lr"]) and
              not np.array_equal(cos["train_loss"], plain["train_loss"]),
              "run: nesterov changes the training")
    mpc = run_cfg("mpc", synth, "{" + base + ", nesterov: true}}, schedule: cosine, "
                  "accuracy: mean_per_class}")
    if cos is not None and mpc is not None:
        check(np.array_equal(cos["train_loss"], mpc["train_loss"]), "run: accuracy changes no training")
        check(np.allclose(cos["test_acc"], mpc["test_acc"], rtol=0, atol=1e-12),
              f"run: balanced test split: mean_per_class {mpc['test_acc']} == top1 {cos['test_acc']}")
    # an imbalanced test split: 2 classes, 16 and 4 test images
    imgs = os.path.join(tmp, "imgs")
    os.makedirs(imgs)
    n_test = {"a": 16, "b": 4}
    with open(os.path.join(tmp, "list.csv"), "w") as f:
        for c, colour in (("a", (200, 40, 40)), ("b", (40, 40, 200))):
            for i in range(20 + n_test[c]):
                arr = np.clip(rng.normal(0, 40, size=(24, 24, 3)) + colour, 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(os.path.join(imgs, f"{c}{i}.png"))
                f.write(f"imgs/{c}{i}.png,{c},{'test' if i < n_test[c] else 'train'}\n")
    lst = f"    kind: image_list\n    list: {tmp}/list.csv\n"
    fin = "{epochs: 3, batch_size: 8, optimizer: {sgd: {lr: 0.01}}, accuracy: %s}"
    t1 = run_cfg("imb_top1", lst, fin % "top1")
    t2 = run_cfg("imb_mpc", lst, fin % "mean_per_class")
    if t1 is not None and t2 is not None:
        check(np.array_equal(t1["train_loss"], t2["train_loss"]), "imbalanced: same training")
        check(not np.array_equal(t1["test_acc"], t2["test_acc"]),
              f"imbalanced: mean_per_class {t2['test_acc']} differs from top1 {t1['test_acc']}")
        na, nb = n_test["a"], n_test["b"]
        for e, (a1, a2) in enumerate(zip(t1["test_acc"], t2["test_acc"])):
            # hits ka + kb = a1 (na + nb) and (ka / na + kb / nb) / 2 = a2: integers in range
            tot = a1 * (na + nb)
            kb = (2 * a2 - tot / na) / (1 / nb - 1 / na)
            ka = tot - kb
            ok = all(abs(v - round(v)) < 1e-6 for v in (ka, kb, tot)) and 0 <= round(ka) <= na \
                and 0 <= round(kb) <= nb
            check(ok, f"imbalanced epoch {e + 1}: top1 {a1}, mean_per_class {a2} decompose into "
                  f"per-class hits ({ka:.4f}, {kb:.4f})")

    # ---- validation ---------------------------------------------------------------------------
    def validate(finetune):
        cfg = os.path.join(tmp, "v.yaml")
        with open(cfg, "w") as f:
            f.write("experiment: v\ndatasets:\n  d: {kind: synthetic, synthetic: {classes: 2, "
                    "per_class: 4}}\nsources:\n  - {name: s, arch: resnet18, weights: random}\n"
                    f"target:\n  dataset: d\n  finetune: {finetune}\n")
        return xfer("validate", cfg)

    for fin, needle in [("{schedule: cosin}", "v.yaml:8:24:"), ("{accuracy: top5}", "v.yaml:8:24:"),
                        ("{schedule: {cosine: {eta_min: -1}}}", "v.yaml:8:43:"),
                        ("{schedule: {cosine: {eta_min: 0.5}}}", "larger than the learning rate"),
                        ("{schedule: {step: {step_size: 2}, cosine: null}}", "both step and cosine")]:
        rc, so, se = validate(fin)
        check(rc == 2 and needle in se, f"validate {fin}: rc {rc} {se!r}")
    for fin in ("{schedule: cosine, accuracy: mean_per_class}", "{schedule: {cosine: {eta_min: 1e-5}}}",
                "{schedule: {cosine: null}}", "{schedule: step}"):
        rc, so, se = validate(fin)
        check(rc == 0, f"validate {fin}: {se}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
