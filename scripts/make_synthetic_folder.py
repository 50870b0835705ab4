#!/usr/bin/python3
"""Writes a Caltech-101-shaped folder of JPEGs for decode and end-to-end timing:
OUT/<class>/image_NNNN.jpg for --classes classes (one of them BACKGROUND_Google, as in
Caltech-101, so configs can exclude it), --images images in all (spread as evenly as possible),
each --size WxH (width and height vary +-15% per image, like real photos), plus a stray non-image
file OUT/<first class>/RENAME2. Deterministic in --seed. Needs PIL and numpy (/usr/bin/python3)."""
import argparse
import os
import sys

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--classes", type=int, default=102)
    ap.add_argument("--images", type=int, default=9146)
    ap.add_argument("--size", default="300x200", help="WxH (default 300x200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quality", type=int, default=90)
    a = ap.parse_args()
    w0, h0 = (int(v) for v in a.size.lower().split("x"))
    rng = np.random.default_rng(a.seed)
    names = ["BACKGROUND_Google"] + ["class_%03d" % c for c in range(1, a.classes)]
    per = [a.images // a.classes + (1 if c < a.images % a.classes else 0) for c in range(a.classes)]
    for c, name in enumerate(names):
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        base = rng.integers(0, 256, 3)
        for i in range(per[c]):
            w = int(w0 * rng.uniform(0.85, 1.15))
            h = int(h0 * rng.uniform(0.85, 1.15))
            # smooth colour field + a few edges: compresses like a photo, not like noise
            yy, xx = np.mgrid[0:h, 0:w]
            fx, fy = rng.uniform(0.005, 0.05, 2)
            img = np.empty((h, w, 3), np.float32)
            for k in range(3):
                img[..., k] = base[k] + 60 * np.sin(xx * fx + k) * np.cos(yy * fy + i)
            x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
            img[y0:y0 + h // 3, x0:x0 + w // 3] += rng.uniform(-80, 80, 3)
            img += rng.normal(0, 6, img.shape)
            img = np.clip(img, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(d, "image_%04d.jpg" % (i + 1)), quality=a.quality)
    with open(os.path.join(a.out, names[0], "RENAME2"), "w") as f:
        f.write("not an image\n")
    print("wrote %d images in %d classes to %s" % (sum(per), a.classes, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
