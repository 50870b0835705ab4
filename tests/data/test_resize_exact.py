"""The resampler is PIL's BILINEAR bit for bit: lossless (PNG) RGB noise images of awkward sizes
(1 pixel wide, thinner than the filter, odd ratios, strong downscales whose filters have many
taps, upscales) through the cache transform, compared with PIL's resize + centre crop for exact
equality. Covers every tap-count path of src/data/resize.c (fixed-K loops, the generic K, windows
shifted inside the image at both edges, the scalar right-end pixels)."""
import os
import tempfile

import numpy as np
from PIL import Image

import datatest as T

tmp = tempfile.mkdtemp()
rng = np.random.default_rng(7)
sizes = [(1, 1), (1, 9), (9, 1), (2, 3), (3, 2), (5, 300), (300, 5), (17, 13), (64, 64),
         (257, 255), (300, 200), (200, 300), (1000, 700), (701, 1203), (4000, 9)]
targets = [1, 2, 7, 64, 100, 256]
for (w, h) in sizes:
    arr = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    path = os.path.join(tmp, "noise_%dx%d.png" % (w, h))
    Image.fromarray(arr).save(path)
    ref_im = Image.open(path)
    for S in targets:
        got, info = T.xfer_square(path, S, tmp=tmp)
        if not T.check(got is not None, "%dx%d S=%d: decode failed: %s" % (w, h, S, info)):
            continue
        ref = T.pil_square(ref_im, S)
        n_diff = int((got != ref).sum())
        T.check(n_diff == 0, "%dx%d -> S=%d: %d of %d values differ from PIL (max |diff| %d)"
                % (w, h, S, n_diff, got.size, int(np.abs(got - ref).max())))
T.finish()
