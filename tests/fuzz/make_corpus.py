#!/usr/bin/python3
"""Regenerates the seed corpora in tests/fuzz/corpus/<target>/ from small valid files (and a few
broken ones): configs from configs/ and tests/config/bad/, fastText models trained by the fastText
CLI, Fashion-MNIST IDX subsets (plain and gzip), JPEG/PNG images made with PIL, results files
written by a tiny `xfer run` and metrics files made with h5py. Run from the repository root:
    /usr/bin/python3 tests/fuzz/make_corpus.py BUILD_DIR
The seeds are committed; rerunning is only needed to change them."""
import gzip, io, os, shutil, struct, subprocess, sys, tempfile

import h5py
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
FMNIST = "/usr/share/datasets/fashion-mnist"


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def config():
    for f in ["configs/demo.yaml", "configs/paper.yaml"]:
        out("config", os.path.basename(f), open(os.path.join(ROOT, f), "rb").read())
    out("config", "tiny.yaml", open(os.path.join(ROOT, "tests/faults/tiny.yaml"), "rb").read())
    for f in ["from_cycle.yaml", "duplicate_nested_key.yaml", "non_utf8.yaml",
              "anchor_alias_wrong_type.yaml", "syntax_bad_indent.yaml"]:
        out("config", "bad_" + f, open(os.path.join(ROOT, "tests/config/bad", f), "rb").read())


def fasttext(tmp):
    rng = np.random.default_rng(0)
    words = ["the", "cat", "dog", "coat", "shirt", "bag", "boot", "sandal", "café", "a"]
    with open(f"{tmp}/c.txt", "w", encoding="utf-8") as f:
        for _ in range(200):
            f.write(" ".join(rng.choice(words, 8)) + "\n")
    subprocess.run(["fasttext", "skipgram", "-input", f"{tmp}/c.txt", "-output", f"{tmp}/m",
                    "-dim", "4", "-minn", "2", "-maxn", "3", "-bucket", "40", "-epoch", "1",
                    "-minCount", "1", "-thread", "1", "-verbose", "0"], check=True)
    out("fasttext_bin", "skipgram.bin", open(f"{tmp}/m.bin", "rb").read())
    vec = open(f"{tmp}/m.vec", "rb").read()
    out("fasttext_vec", "skipgram.vec", vec)
    lines = vec.split(b"\n")
    out("fasttext_vec", "wrong_dim.vec", b"\n".join(lines[:3] + [lines[3].rsplit(b" ", 2)[0]]))
    out("fasttext_vec", "no_header.vec", b"\n".join(lines[1:4]) + b"\n")
    sup = [f"__label__{i % 2} " + " ".join(rng.choice(words, 6)) for i in range(100)]
    open(f"{tmp}/s.txt", "w").write("\n".join(sup) + "\n")
    subprocess.run(["fasttext", "supervised", "-input", f"{tmp}/s.txt", "-output", f"{tmp}/s",
                    "-dim", "4", "-minn", "2", "-maxn", "3", "-bucket", "40", "-epoch", "1",
                    "-verbose", "0"], check=True)
    out("fasttext_bin", "supervised.bin", open(f"{tmp}/s.bin", "rb").read())
    b = bytearray(open(f"{tmp}/m.bin", "rb").read())
    b[4:8] = struct.pack("<i", 13)
    out("fasttext_bin", "version13.bin", bytes(b))


def idx():
    with gzip.open(f"{FMNIST}/t10k-images-idx3-ubyte.gz") as f:
        img = f.read(16 + 6 * 784)
    with gzip.open(f"{FMNIST}/t10k-labels-idx1-ubyte.gz") as f:
        lab = f.read(8 + 6)
    img = img[:4] + struct.pack(">I", 6) + img[8:]
    lab = lab[:4] + struct.pack(">I", 6) + lab[8:]
    for name, a, b in [("plain", img, lab), ("gz", gzip.compress(img, 9, mtime=0),
                                             gzip.compress(lab, 9, mtime=0)),
                       ("count_mismatch", img, lab[:4] + struct.pack(">I", 5) + lab[8:13]),
                       ("truncated", img[:900], lab)]:
        out("idx", name, struct.pack("<H", len(a)) + a + b)
    small = img[:4] + struct.pack(">III", 4, 2, 2) + bytes(range(16))
    out("idx", "small", struct.pack("<H", len(small)) + small + lab[:4] + struct.pack(">I", 4) +
        bytes([0, 1, 3, 1]))


def image():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8), "RGB")
    def save(img, name, **kw):
        b = io.BytesIO()
        img.save(b, **kw)
        out("image", name, b.getvalue())
        return b.getvalue()
    j = save(rgb, "rgb.jpg", format="JPEG", quality=80)
    save(rgb.convert("L"), "gray.jpg", format="JPEG")
    save(rgb.convert("CMYK"), "cmyk.jpg", format="JPEG")
    save(rgb.resize((40, 24)), "progressive.jpg", format="JPEG", progressive=True)
    p = save(rgb, "rgb.png", format="PNG")
    save(rgb.convert("L"), "gray.png", format="PNG")
    save(rgb.convert("LA"), "la.png", format="PNG")
    save(rgb.convert("RGBA"), "rgba.png", format="PNG")
    save(rgb.convert("P"), "palette.png", format="PNG")
    save(rgb.convert("1"), "bilevel.png", format="PNG")
    save(Image.fromarray((rng.integers(0, 65535, (5, 7))).astype(np.uint16)), "gray16.png",
         format="PNG")
    out("image", "truncated.jpg", j[: len(j) // 2])
    lie = bytearray(p)
    lie[16:24] = struct.pack(">II", 20000, 20000)  # IHDR says 20000x20000 (bad CRC too)
    out("image", "lying_header.png", bytes(lie))


def results(tmp):
    for f in ["tiny.yaml", "classes.txt"]:
        shutil.copy(os.path.join(ROOT, "tests/faults", f), tmp)
    subprocess.run([os.path.join(BUILD, "xfer"), "run", "--no-plots", "--quiet", "tiny.yaml"],
                   cwd=tmp, check=True, capture_output=True, env=dict(os.environ, XFER_SOURCE_DIR=ROOT))
    res = f"{tmp}/out/results.h5"
    out("results_raw", "tiny_run.h5", open(res, "rb").read())
    with h5py.File(res, "a") as f:  # a foreign-typed attribute and a short curve column
        f.attrs["complete"] = "yes"
        src = next(iter(f["sources"].values()))
        del src["curve/test_acc"]
        src["curve"].create_dataset("test_acc", data=np.zeros(1))
    out("results_raw", "malformed_types.h5", open(res, "rb").read())
    with h5py.File(f"{tmp}/empty.h5", "w") as f:
        f.attrs["xfer_version"] = "0.1.0"
    out("results_raw", "no_groups.h5", open(f"{tmp}/empty.h5", "rb").read())


def metrics(tmp):
    rng = np.random.default_rng(2)
    n, d, cs, ct = 12, 3, 4, 3
    def write(name, **kw):
        with h5py.File(f"{tmp}/{name}", "w") as f:
            for k, v in kw.items():
                f.create_dataset(k, data=v)
        out("metrics_raw", name, open(f"{tmp}/{name}", "rb").read())
    feats = rng.normal(size=(n, d)).astype(np.float32)
    logits = rng.normal(size=(n, cs))
    labels = np.arange(n) % ct
    dist = rng.random((cs, ct))
    write("full.h5", features=feats, logits=logits, labels=labels, ground_distance=dist,
          source_classes=np.array([b"a", b"b", b"c", b"d"]),
          target_classes=np.array(["x", "y", "z"], dtype=h5py.string_dtype()))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    write("probs.h5", features=feats.astype(np.float64), probs=probs, labels=labels.astype(np.int8))
    write("shape_mismatch.h5", features=feats[:5], probs=probs, labels=labels)
    write("nan.h5", features=np.full((n, d), np.nan), probs=probs, labels=labels)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        config(); fasttext(tmp); idx(); image(); results(tmp); metrics(tmp)
    print("corpus written to", CORPUS)
