"""Datasets and the cache: Fashion-MNIST IDX counts and pixels against a numpy parse of the .gz;
a folder exported from Fashion-MNIST as PNG and JPEG reads back with the right classes and labels;
one test per bad-input class (warning + skip, or exit 2 with on_bad_image: error, and never a cache
left behind on error); `xfer prepare` reuse and stale rebuild."""
import glob
import os
import shutil
import subprocess
import tempfile

import h5py
import numpy as np
from PIL import Image

import datatest as T

FM = "/usr/share/datasets/fashion-mnist"
tmp = tempfile.mkdtemp()
if not os.path.exists(FM + "/t10k-images-idx3-ubyte.gz"):
    print("skipped: Fashion-MNIST not installed")
    raise SystemExit(77)
IMG, LAB = FM + "/t10k-images-idx3-ubyte.gz", FM + "/t10k-labels-idx1-ubyte.gz"
NAMES = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
imgs, labs = T.read_idx_gz(IMG), T.read_idx_gz(LAB)

# ---- IDX: counts and pixels (cache size 28 = no resampling: the cache holds the raw pixels)
cache = os.path.join(tmp, "fm.h5")
rc, out, err = T.tool("prepare", "kind=idx", "images=" + IMG, "labels=" + LAB, "names=" + NAMES,
                      "size=28", "cache=" + cache)
T.check(rc == 0, "idx prepare: %s" % err)
with h5py.File(cache) as f:
    ci, cl = f["images"][:], f["labels"][:]
    T.check(ci.shape == (10000, 28, 28, 3), "idx shape %s" % (ci.shape,))
    T.check(np.array_equal(np.bincount(cl, minlength=10), np.bincount(labs, minlength=10)),
            "idx per-class counts")
    order = np.argsort(labs, kind="stable")  # the cache is ordered by class, then file position
    T.check(np.array_equal(cl, labs[order]), "idx labels in class order")
    T.check(np.array_equal(ci[..., 0], imgs[order]) and np.array_equal(ci[..., 2], imgs[order]),
            "idx pixels equal the numpy parse")
    T.check(int(ci.astype(np.int64).sum()) == 3 * int(imgs.astype(np.int64).sum()),
            "idx pixel checksum")
    T.check([s.decode() for s in f["class_names"][:]] == NAMES.split(","), "idx class names")
    T.check(f["paths"][0].decode() == "%s#%d" % (IMG, order[0]), "idx path names the row")
# include + max_per_class; 32x32 resize against PIL
cache2 = os.path.join(tmp, "fm2.h5")
rc, out, err = T.tool("prepare", "kind=idx", "images=" + IMG, "labels=" + LAB, "names=" + NAMES,
                      "size=32", "cache=" + cache2, "include=Sandal,Bag", "max=50")
with h5py.File(cache2) as f:
    cl, ci = f["labels"][:], f["images"][:]
    T.check(rc == 0 and len(cl) == 100 and list(np.bincount(cl)) == [50, 50],
            "include + max_per_class: %s" % err)
    first_bag = np.nonzero(labs == 8)[0][0]
    ref = np.asarray(Image.fromarray(imgs[first_bag]).resize((32, 32), Image.BILINEAR))
    T.check(np.abs(ci[50, ..., 0].astype(int) - ref).mean() <= 0.5, "idx 28->32 resize vs PIL")
# IDX count mismatch: train images with t10k labels
bad = os.path.join(tmp, "mismatch.h5")
rc, out, err = T.tool("prepare", "kind=idx", "images=" + FM + "/train-images-idx3-ubyte.gz",
                      "labels=" + LAB, "cache=" + bad)
T.check(rc == 2 and "60000" in err and "10000" in err and not os.path.exists(bad),
        "idx count mismatch: exit 2, no cache: %d %s" % (rc, err))
# IDX bad magic: the labels file given as images
rc, out, err = T.tool("prepare", "kind=idx", "images=" + LAB, "labels=" + LAB, "cache=" + bad)
T.check(rc == 2 and "magic" in err and not os.path.exists(bad), "idx bad magic: %s" % err)

# ---- a folder exported from Fashion-MNIST (grayscale PNG and JPEG), Caltech-style names
root = os.path.join(tmp, "fm_folder")
folders = ["001.Trouser", "002.Sandal-101", "003.Bag", "BACKGROUND_Google"]
src_class = [1, 5, 8, 0]
per = 12
for fo, c in zip(folders, src_class):
    os.makedirs(os.path.join(root, fo))
    for i, k in enumerate(np.nonzero(labs == c)[0][:per]):
        ext = ".png" if i % 2 == 0 else ".JPG"
        Image.fromarray(imgs[k]).save(os.path.join(root, fo, "img_%03d%s" % (i, ext)), quality=95)
with open(os.path.join(root, "001.Trouser", "RENAME2"), "w") as fh:
    fh.write("not an image")
cache = os.path.join(tmp, "folder.h5")
rc, out, err = T.tool("prepare", "root=" + root, "size=28", "cache=" + cache,
                      "exclude=BACKGROUND_Google")
T.check(rc == 0 and "skipped 1 files" in err and "skipped 1 " in out, "folder prepare: %s %s" % (out, err))
with h5py.File(cache) as f:
    names = [s.decode() for s in f["class_names"][:]]
    T.check(names == ["Trouser", "Sandal", "Bag"], "display names %s" % names)
    cl, ci = f["labels"][:], f["images"][:]
    paths = [p.decode() for p in f["paths"][:]]
    T.check(list(np.bincount(cl)) == [per] * 3, "folder labels %s" % np.bincount(cl))
    ok_png, diffs = True, []
    for j, p in enumerate(paths):
        c = folders.index(os.path.basename(os.path.dirname(p)))
        T.check(cl[j] == c, "label of %s" % p) if cl[j] != c else None
        i = int(os.path.basename(p)[4:7])
        orig = imgs[np.nonzero(labs == src_class[c])[0][i]].astype(int)
        d = np.abs(ci[j, ..., 0].astype(int) - orig)
        if p.endswith(".png"):
            ok_png &= d.max() == 0
        else:
            diffs.append(d.mean())
    T.check(all(cl[j] == folders.index(os.path.basename(os.path.dirname(p))) for j, p in enumerate(paths)),
            "every image has its folder's label")
    T.check(ok_png, "grayscale PNG pixels read back exactly")
    T.check(max(diffs) <= 2.0, "grayscale JPEG pixels within 2/255 of the originals: %s" % max(diffs))
    T.check(paths == sorted(paths), "images sorted by path (strcmp)")

# ---- bad images: one per class, in warn mode and in error mode
def bad_case(name, make):
    d = os.path.join(tmp, "bad_" + name.replace(" ", "_"))
    shutil.copytree(os.path.join(root, "003.Bag"), os.path.join(d, "bag"))
    target = make(os.path.join(d, "bag"))
    c = os.path.join(tmp, "cache_" + name.replace(" ", "_"), "c.h5")
    rc, out, err = T.tool("prepare", "root=" + d, "size=28", "cache=" + c)
    with h5py.File(c) if rc == 0 else open(os.devnull) as f:
        nbad = int(f.attrs["n_bad"]) if rc == 0 else -1
        n = f["labels"].shape[0] if rc == 0 else -1
    T.check(rc == 0 and "warning" in err and os.path.basename(target) in err and nbad == 1 and n == per,
            "%s: warned, skipped, counted (rc %d, n_bad %d, n %d): %s" % (name, rc, nbad, n, err.strip()))
    if rc == 0:
        with h5py.File(c) as f:
            bp = [x.decode() for x in f["bad_paths"][:]]
            bm = [x.decode() for x in f["bad_images"][:]]
        T.check(bp == [target] and len(bm) == 1 and os.path.basename(target) in bm[0],
                "%s: the cache records the skipped file and why: %s %s" % (name, bp, bm))
        # the same cache asked for under on_bad_image: error: re-checked, refused, left as it is
        before = open(c, "rb").read(), os.stat(c).st_mtime_ns
        rc3, out3, err3 = T.tool("prepare", "root=" + d, "size=28", "cache=" + c, "onbad=error")
        T.check(rc3 == 2 and os.path.basename(target) in err3 and "left as it is" in err3
                and (open(c, "rb").read(), os.stat(c).st_mtime_ns) == before
                and os.listdir(os.path.dirname(c)) == ["c.h5"],
                "%s: a warn cache that skipped it is not reused under error: exit 2 naming the "
                "file, cache untouched (%d, %s)" % (name, rc3, err3.strip()))
        rc4, out4, err4 = T.tool("prepare", "root=" + d, "size=28", "cache=" + c)
        T.check(rc4 == 0 and "reusing" in err4 and os.path.basename(target) in err4,
                "%s: reused under warn, naming the file it skipped (%d, %s)"
                % (name, rc4, err4.strip()))
    c2 = os.path.join(tmp, "cache_err_" + name.replace(" ", "_"), "c.h5")
    rc, out, err = T.tool("prepare", "root=" + d, "size=28", "cache=" + c2, "onbad=error")
    left = os.listdir(os.path.dirname(c2)) if os.path.isdir(os.path.dirname(c2)) else []
    T.check(rc == 2 and os.path.basename(target) in err and left == [],
            "%s with on_bad_image: error: exit 2 naming the file, nothing left (%d, %s, %s)"
            % (name, rc, err.strip(), left))


def write(name, data):
    def make(d):
        p = os.path.join(d, name)
        with open(p, "wb") as fh:
            fh.write(data)
        return p
    return make


good_jpg = open(glob.glob(os.path.join(root, "003.Bag", "*.JPG"))[0], "rb").read()
bad_case("zero-byte", write("zero.jpg", b""))
bad_case("truncated jpeg", write("trunc.jpg", good_jpg[: len(good_jpg) // 2]))
bad_case("not an image", write("text.jpg", b"hello, this is text\n" * 10))
bad_case("png lying header", write("lying.png", T.png_bytes(np.zeros((4, 4), np.uint8), 0, 8, ihdr_size=(400, 400))))
bad_case("png over 100 MP", write("huge.png", T.png_bytes(np.zeros((1, 1), np.uint8), 0, 8, ihdr_size=(20000, 20000))))
# a JPEG whose SOF declares 12000 x 12000: patch the frame header of a real one
sof = good_jpg.find(b"\xff\xc0")
huge = bytearray(good_jpg)
huge[sof + 5:sof + 9] = (12000).to_bytes(2, "big") + (12000).to_bytes(2, "big")
bad_case("jpeg over 100 MP", write("huge.jpg", bytes(huge)))


def mkdir_jpg(d):
    p = os.path.join(d, "folder.jpg")
    os.mkdir(p)
    return p


bad_case("directory named .jpg", mkdir_jpg)


def unreadable(d):
    p = os.path.join(d, "unreadable.jpg")
    if os.geteuid() == 0:  # root reads anything: a dangling link is unreadable for everyone
        os.symlink(os.path.join(d, "does-not-exist"), p)
    else:
        with open(p, "wb") as fh:
            fh.write(good_jpg)
        os.chmod(p, 0)
    return p


bad_case("unreadable file", unreadable)

# ---- dataset-level errors: exit 2 naming the path, no cache
def fails(what, args, needle):
    c = os.path.join(tmp, "cache_" + what.replace(" ", "_"), "c.h5")
    rc, out, err = T.tool("prepare", "size=28", "cache=" + c, *args)
    T.check(rc == 2 and needle in err and not os.path.exists(os.path.dirname(c)),
            "%s: exit 2 naming %s, no cache (%d, %s)" % (what, needle, rc, err.strip()))


empty = os.path.join(tmp, "with_empty")
shutil.copytree(os.path.join(root, "003.Bag"), os.path.join(empty, "bag"))
os.makedirs(os.path.join(empty, "nothing"))
fails("empty class", ["root=" + empty], os.path.join(empty, "nothing"))
fails("missing root", ["root=" + tmp + "/no/such/root"], tmp + "/no/such/root")
fails("all excluded", ["root=" + root, "exclude=Trouser,Sandal,Bag,BACKGROUND_Google"], root)
fails("include unknown", ["root=" + root, "include=Zebra"], "Zebra")

# ---- xfer prepare: config, default cache path, reuse, stale rebuild
cfgp = os.path.join(tmp, "exp", "c.yaml")
os.makedirs(os.path.dirname(cfgp))
with open(cfgp, "w") as fh:
    fh.write("experiment: t\noutput: %s/exp/out/results.h5\ndatasets:\n  fm:\n    kind: image_folder\n"
             "    root: %s\n    exclude: [BACKGROUND_Google]\n    cache_size: 28\n    image_size: 28\n"
             "sources:\n  - name: r\n    arch: resnet18\n    weights: random\ntarget:\n  dataset: fm\n"
             "scores: [leep]\n" % (tmp, root))
p = subprocess.run([T.XFER, "prepare", cfgp], capture_output=True, text=True)
cpath = os.path.join(tmp, "exp", "out", "cache", "fm.h5")
T.check(p.returncode == 0 and os.path.exists(cpath) and "images/s" in p.stderr,
        "xfer prepare writes <output dir>/cache/<name>.h5 and prints images/s: %s" % p.stderr)
p = subprocess.run([T.XFER, "prepare", cfgp], capture_output=True, text=True)
T.check(p.returncode == 0 and "reusing" in p.stderr, "second prepare reuses: %s" % p.stderr)
victim = sorted(glob.glob(os.path.join(root, "002.Sandal-101", "*")))[0]
os.utime(victim, (1e9, 1e9))
p = subprocess.run([T.XFER, "prepare", cfgp], capture_output=True, text=True)
T.check(p.returncode == 0 and "rebuilding" in p.stderr and "source files changed" in p.stderr,
        "touching a source file makes the cache stale: %s" % p.stderr)
p = subprocess.run([T.XFER, "prepare", cfgp, "--only", "nope"], capture_output=True, text=True)
T.check(p.returncode == 2 and "nope" in p.stderr, "--only with an unknown dataset: exit 2")
T.finish()
