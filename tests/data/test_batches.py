"""Splits and batches: split determinism across OMP_NUM_THREADS and stratification; cache
identical whatever the thread count; RandomResizedCrop crop sizes within torchvision's bounds, flips
~50%; training batches equal PIL's resize of the same crop box (flipped, normalized); evaluation
centre crop exact; prefetching changes nothing."""
import os
import tempfile

import h5py
import numpy as np
from PIL import Image

import datatest as T

tmp = tempfile.mkdtemp()
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

caches = []
for threads in (1, 2):
    c = os.path.join(tmp, "syn%d.h5" % threads)
    rc, out, err = T.tool("prepare", "kind=synthetic", "synth=7,40,56,3", "size=48", "cache=" + c,
                          env={"OMP_NUM_THREADS": str(threads)})
    T.check(rc == 0, "synthetic prepare: %s" % err)
    caches.append(c)
with h5py.File(caches[0]) as a, h5py.File(caches[1]) as b:
    T.check(np.array_equal(a["images"][:], b["images"][:]), "cache identical with 1 and 2 threads")
    imgs, labels = a["images"][:], a["labels"][:]
    T.check(imgs.shape == (280, 48, 48, 3) and list(np.bincount(labels)) == [40] * 7, "synthetic counts")
    # classes are learnable: nearest class mean on 6x6 thumbnails, fit on half, scored on half
    th = imgs.reshape(280, 6, 8, 6, 8, 3).mean((2, 4)).reshape(280, -1)
    fit = np.arange(280) % 2 == 0
    cent = np.stack([th[fit & (labels == c)].mean(0) for c in range(7)])
    pred = np.argmin(((th[~fit, None, :] - cent[None]) ** 2).sum(-1), 1)
    acc = (pred == labels[~fit]).mean()
    T.check(acc > 0.6, "synthetic classes are separable: nearest-mean accuracy %.2f" % acc)
cache = caches[0]

# ---- splits
splits = {}
for threads in ("1", "2"):
    for form in ("0.75", "10,20"):
        rc, out, err = T.tool("split", cache, 42, form, env={"OMP_NUM_THREADS": threads})
        T.check(rc == 0, "split %s: %s" % (form, err))
        splits[(threads, form)] = out
T.check(splits[("1", "0.75")] == splits[("2", "0.75")] and splits[("1", "10,20")] == splits[("2", "10,20")],
        "splits identical across OMP_NUM_THREADS")
tr, te = [np.array(l.split()[1:], int) for l in splits[("1", "0.75")].splitlines()]
T.check(list(np.bincount(labels[tr])) == [30] * 7 and list(np.bincount(labels[te])) == [10] * 7,
        "train_fraction 0.75 is stratified 30/10 per class")
T.check(len(set(tr) & set(te)) == 0 and len(tr) + len(te) == 280, "train and test disjoint, cover all")
tr2, te2 = [np.array(l.split()[1:], int) for l in splits[("1", "10,20")].splitlines()]
T.check(list(np.bincount(labels[tr2])) == [10] * 7 and list(np.bincount(labels[te2])) == [20] * 7,
        "train_per_class 10 / test_per_class 20")
rc, out, err = T.tool("split", cache, 43, "0.75")
T.check(out != splits[("1", "0.75")], "another seed gives another split")
rc, out, err = T.tool("split", cache, 42, "39,5")
T.check(rc == 2 and "fewer" in err, "too few images for train_per_class: exit 2")

# ---- augmentation statistics over many draws (S = 48 cached, 32 out)
S, Tsz, smin = 48, 32, 0.08
rows = []
for epoch in range(8):
    rc, out, err = T.tool("crops", cache, Tsz, smin, 7, epoch)
    rows += [list(map(int, l.split())) for l in out.splitlines()]
rows = np.array(rows)
i, j, h, w, flip = rows.T
area = h * w / (S * S)
T.check(len(rows) == 8 * 280, "crop rows")
T.check((i >= 0).all() and (j >= 0).all() and (i + h <= S).all() and (j + w <= S).all(),
        "crops inside the image")
# rounding of w and h to whole pixels widens the bounds slightly
T.check(area.min() >= smin * 0.8 and area.max() <= 1.0, "crop area in [scale_min, 1]: %.3f %.3f" % (area.min(), area.max()))
ratio = w / h
T.check(ratio.min() >= 0.75 * 0.85 and ratio.max() <= 4 / 3 / 0.85, "crop ratio in [3/4, 4/3]")
T.check(area.mean() > 0.45 and area.mean() < 0.62, "mean crop area ~ (0.08+1)/2: %.3f" % area.mean())
n = len(flip)
T.check(abs(flip.mean() - 0.5) < 4 * np.sqrt(0.25 / n), "flips ~50%%: %.3f of %d" % (flip.mean(), n))
T.check(len(set(map(tuple, rows[:280, :4].tolist()))) > 200, "crops vary between images")

# ---- training batches vs PIL on the same crop box
def batches(train, prefetch, epoch=3, bs=64):
    f = os.path.join(tmp, "b.f32")
    rc, out, err = T.tool("batches", cache, f, train, Tsz, bs, 7, epoch, prefetch, smin)
    T.check(rc == 0, "batches: %s" % err)
    x = np.fromfile(f, np.float32).reshape(-1, Tsz, Tsz, 3)
    meta = [list(map(int, l.split(":")[1].split())) for l in out.splitlines()]
    sizes = [int(l.split(":")[0].split()[1]) for l in out.splitlines()]
    idx = np.array([m for b in meta for m in b[0::2]])
    lab = np.array([m for b in meta for m in b[1::2]])
    return x, idx, lab, sizes


x, idx, lab, sizes = batches(1, 1)
T.check(sorted(idx.tolist()) == list(range(280)) and idx.tolist() != list(range(280)),
        "training epoch: every image once, shuffled")
T.check(np.array_equal(lab, labels[idx]), "batch labels match the images")
T.check(sizes == [64, 64, 64, 64, 24], "last partial batch kept: %s" % sizes)
rc, out, err = T.tool("crops", cache, Tsz, smin, 7, 3)
crops = np.array([list(map(int, l.split())) for l in out.splitlines()])
worst = 0.0
for k in range(0, 280, 7):
    a = idx[k]
    ci, cj, ch, cw, fl = crops[a]
    ref = np.asarray(Image.fromarray(imgs[a]).resize((Tsz, Tsz), Image.BILINEAR,
                                                      box=(cj, ci, cj + cw, ci + ch))).astype(np.float32)
    if fl:
        ref = ref[:, ::-1]
    ref = (ref / 255.0 - MEAN) / STD
    worst = max(worst, np.abs(ref - x[k]).max())
T.check(worst < 1e-4, "training crops equal PIL's box resize (+flip, normalize): max %.2e" % worst)
x2, idx2, _, _ = batches(1, 0)
T.check(np.array_equal(x, x2) and np.array_equal(idx, idx2), "prefetching changes nothing")
x3, idx3, _, _ = batches(1, 1, epoch=4)
T.check(not np.array_equal(idx, idx3), "another epoch, another order")

# ---- evaluation: in order, centre crop exact
xe, idxe, labe, sizes = batches(0, 1)
T.check(idxe.tolist() == list(range(280)) and sizes[-1] == 280 - 64 * 4, "eval in order, last batch kept")
o = int(round((S - Tsz) / 2))
ref = (imgs[:, o:o + Tsz, o:o + Tsz].astype(np.float32) / 255.0 - MEAN) / STD
T.check(np.abs(ref - xe).max() < 1e-5, "eval centre crop exact: %.2e" % np.abs(ref - xe).max())
T.finish()
