"""`xfer prepare` decodes in blocks and writes each block while the next one decodes: a folder of
700 small PNGs (several blocks) with bad files placed at block edges reads back in path order,
with the right labels, every image equal to PIL's resize + centre crop, and the same bytes with 1
and 2 threads; on_bad_image: error on a bad file in a late block leaves no cache behind."""
import os
import tempfile

import h5py
import numpy as np
from PIL import Image

import datatest as T

tmp = tempfile.mkdtemp()
root = os.path.join(tmp, "folder")
rng = np.random.default_rng(3)
classes = ["a", "b", "c", "d", "e"]
files = []
for c in classes:
    os.makedirs(os.path.join(root, c))
    for i in range(140):
        w, h = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        p = os.path.join(root, c, "img_%03d.png" % i)
        Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8)).save(p)
        files.append((p, classes.index(c)))
files.sort()
# bad files at both sides of block edges (blocks of 64 or 128 or 256 images) and at the very end
bad = {0, 63, 64, 127, 128, 129, 255, 256, 511, 699}
for i in bad:
    with open(files[i][0], "wb") as fh:
        fh.write(b"not an image")
good = [f for i, f in enumerate(files) if i not in bad]
S = 24
caches = {}
for th in (1, 2):
    c = os.path.join(tmp, "c%d.h5" % th)
    rc, out, err = T.tool("prepare", "root=" + root, "size=%d" % S, "cache=" + c, "threads=%d" % th)
    if not T.check(rc == 0, "prepare threads=%d: rc %d %s" % (th, rc, err)):
        continue
    with h5py.File(c) as f:
        imgs, labels = f["images"][:], f["labels"][:]
        paths = [p.decode() if isinstance(p, bytes) else p for p in f["paths"][:]]
        nbad = int(f.attrs["n_bad"])
    caches[th] = imgs
    T.check(nbad == len(bad), "threads=%d: n_bad %d, want %d" % (th, nbad, len(bad)))
    T.check(imgs.shape == (len(good), S, S, 3), "threads=%d: shape %s" % (th, imgs.shape))
    T.check(paths == [p for p, _ in good], "threads=%d: paths in order without the bad ones" % th)
    T.check(list(labels) == [l for _, l in good], "threads=%d: labels" % th)
    n_same = sum(np.array_equal(imgs[k], T.pil_square(Image.open(p), S))
                 for k, (p, _) in enumerate(good) if k < imgs.shape[0])
    T.check(n_same == len(good), "threads=%d: %d of %d images equal to PIL" % (th, n_same, len(good)))
if len(caches) == 2:
    T.check(np.array_equal(caches[1], caches[2]), "1 and 2 threads give the same bytes")
# error mode: only a file in a late block is bad (earlier blocks have been written by then)
for i in bad:
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(files[i][0])
with open(files[600][0], "wb") as fh:
    fh.write(b"")
c = os.path.join(tmp, "err", "c.h5")
rc, out, err = T.tool("prepare", "root=" + root, "size=%d" % S, "cache=" + c, "onbad=error")
left = os.listdir(os.path.dirname(c)) if os.path.isdir(os.path.dirname(c)) else []
T.check(rc == 2 and os.path.basename(files[600][0]) in err and left == [],
        "on_bad_image: error: exit 2, nothing left (%d, %s, %s)" % (rc, err.strip(), left))
T.finish()
