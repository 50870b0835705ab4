"""Decoded + resized pixels against PIL (Image.open().convert("RGB").resize(BILINEAR) + centre
crop): mean absolute difference <= 2/255 on real photos (full-size and DCT-scaled decodes) and
synthetic images in every JPEG/PNG variant, including CMYK JPEG and 16-bit, palette, alpha and
grey PNGs."""
import os
import tempfile

import numpy as np
from PIL import Image

import datatest as T

TOL = 2.0  # mean abs diff in 0..255 units = 2/255
PHOTOS = ["/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg",
          "/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg"]
tmp = tempfile.mkdtemp()


def compare(path, S, ref, what, full=False, want_scaled=None):
    got, info = T.xfer_square(path, S, full=full, tmp=tmp)
    if not T.check(got is not None, "%s: decode failed: %s" % (what, info)):
        return
    d = np.abs(got - ref).mean()
    T.check(d <= TOL, "%s S=%d: mean abs diff %.3f > %.1f" % (what, S, d, TOL))
    if want_scaled is not None:
        scaled = "dct_scale 8" not in info
        T.check(scaled == want_scaled, "%s S=%d: DCT scaling %s expected %s (%s)"
                % (what, S, scaled, want_scaled, info.strip()))
    print("%-40s S=%3d mean|diff|=%.3f %s" % (what, S, d, info.strip()))


photos = [p for p in PHOTOS if os.path.exists(p)]
T.check(len(photos) >= 1, "a real photo is installed")
for p in photos:
    im = Image.open(p)
    for S in (224, 256):
        compare(p, S, T.pil_square(im, S), os.path.basename(p) + " full", full=True)
    # small targets: the decoder scales in the DCT domain (1/2, 1/4)
    for S in (64, 100):
        compare(p, S, T.pil_square(im, S), os.path.basename(p) + " dct", want_scaled=True)
# full-size decode is PIL-exact (same libjpeg-turbo defaults, same fixed-point filter)
p = photos[0]
got, _ = T.xfer_square(p, 256, full=True, tmp=tmp)
T.check(got is not None and np.array_equal(got, T.pil_square(Image.open(p), 256)),
        "full-size decode+resize of %s is identical to PIL" % p)

# synthetic content in every format
rng = np.random.default_rng(1)
yy, xx = np.mgrid[0:150, 0:220]
base = np.stack([(xx * 1.1) % 256, (yy * 1.7) % 256, ((xx + yy) * 0.6) % 256], -1)
rgb = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
gray = rgb[..., 0]

cases = []
f = os.path.join(tmp, "rgb.jpg"); Image.fromarray(rgb).save(f, quality=92); cases.append((f, "jpeg rgb"))
f = os.path.join(tmp, "gray.jpg"); Image.fromarray(gray).save(f, quality=92); cases.append((f, "jpeg grayscale"))
f = os.path.join(tmp, "cmyk.jpg"); Image.fromarray(rgb).convert("CMYK").save(f, quality=95); cases.append((f, "jpeg cmyk"))
f = os.path.join(tmp, "prog.jpg"); Image.fromarray(rgb).save(f, quality=90, progressive=True); cases.append((f, "jpeg progressive"))
f = os.path.join(tmp, "rgb.png"); Image.fromarray(rgb).save(f); cases.append((f, "png rgb"))
f = os.path.join(tmp, "gray.png"); Image.fromarray(gray).save(f); cases.append((f, "png gray"))
f = os.path.join(tmp, "rgba.png"); Image.fromarray(np.dstack([rgb, gray])).save(f); cases.append((f, "png rgba"))
f = os.path.join(tmp, "la.png"); Image.fromarray(np.dstack([gray, 255 - gray]), "LA").save(f); cases.append((f, "png gray+alpha"))
f = os.path.join(tmp, "pal.png"); Image.fromarray(rgb).quantize(64).save(f); cases.append((f, "png palette"))
for path, what in cases:
    ref_im = Image.open(path)
    for S in (64, 128, 200):
        compare(path, S, T.pil_square(ref_im, S), what)
    if what == "png palette":
        got, _ = T.xfer_square(path, 128, tmp=tmp)
        T.check(got is not None and np.array_equal(got, T.pil_square(ref_im, 128)),
                "palette PNG identical to PIL")

# 16-bit PNGs (PIL cannot write them; reference: the high byte, PIL's "RGB;16B" reading)
v16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 200, rgb.shape).astype(np.uint16)
for name, arr, ct in (("png 16-bit rgb", v16, 2), ("png 16-bit gray", v16[..., 0], 0),
                      ("png 16-bit rgba", np.dstack([v16, v16[..., :1]]), 6)):
    path = os.path.join(tmp, name.replace(" ", "_") + ".png")
    with open(path, "wb") as fh:
        fh.write(T.png_bytes(arr.astype(">u2"), ct, 16))
    hi = (arr >> 8).astype(np.uint8)
    if hi.ndim == 2:
        hi = np.dstack([hi] * 3)
    compare(path, 128, T.pil_square(Image.fromarray(np.ascontiguousarray(hi[..., :3])), 128), name)
# 4-bit palette PNG written by hand
pal = rng.integers(0, 256, (16, 3))
idx4 = (xx[:, :200] // 13 + yy[:, :200] // 11) % 16
packed = (idx4[:, 0::2] << 4 | idx4[:, 1::2]).astype(np.uint8)
path = os.path.join(tmp, "pal4.png")
with open(path, "wb") as fh:
    fh.write(T.png_bytes(packed, 3, 4, palette=pal, ihdr_size=(200, 150)))
compare(path, 100, T.pil_square(Image.open(path), 100), "png 4-bit palette")
T.finish()
