"""Helpers shared by the data tests: the data_tool driver, checks, a minimal PNG writer (for
16-bit, palette and lying-header files PIL cannot write) and the PIL reference transform."""
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

XFER = os.environ.get("XFER", "")
BUILD = os.environ.get("XFER_BUILD_DIR", ".")
TOOL = os.path.join(BUILD, "tests", "data", "data_tool")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


def finish():
    print("%d passed, %d failed" % (checks - failures, failures))
    sys.exit(1 if failures else 0)


def tool(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, timeout=120, env=e)
    return p.returncode, p.stdout, p.stderr


def png_bytes(arr, color_type, bit_depth, palette=None, ihdr_size=None):
    """A PNG from a numpy array (rows of samples, big-endian for 16-bit), filter 0 on each row."""
    h = arr.shape[0]
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    w = arr.shape[1] if ihdr_size is None else ihdr_size[0]
    hh = h if ihdr_size is None else ihdr_size[1]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, hh, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pil_square(im, S):
    """The cache transform with PIL: shorter side to S (BILINEAR), centre crop S x S."""
    w, h = im.size
    if w <= h:
        nw, nh = S, int(S * h / w)
    else:
        nw, nh = int(S * w / h), S
    r = np.asarray(im.convert("RGB").resize((nw, nh), Image.BILINEAR))
    t, l = int(round((nh - S) / 2)), int(round((nw - S) / 2))
    return r[t:t + S, l:l + S].astype(np.int32)


def xfer_square(path, S, full=False, tmp="/tmp"):
    out = os.path.join(tmp, "decoded.raw")
    args = ["decode", path, S, out] + (["full"] if full else [])
    rc, so, se = tool(*args)
    if rc != 0:
        return None, se
    return np.fromfile(out, np.uint8).reshape(S, S, 3).astype(np.int32), so


def read_idx_gz(path):
    import gzip
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        r, c = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, r, c)
    return np.frombuffer(data, np.uint8, offset=8)
