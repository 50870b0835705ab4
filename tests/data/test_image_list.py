"""The image_list dataset kind (docs/config.md): PNG images written with PIL, listed in shuffled
order in a CSV with names (paths relative to the list's folder) and in a list with a `root`, a
class-names file, index and name labels and a split column. Checked with h5py against an
image_folder cache of the same files (same pixels, labels, class names: the decoding path is
shared), the item order (by class, then list line), the split column reaching the run (`xfer score`
writes the list's train/test files into /target), cache reuse and rebuild when the list changes;
every bad input exits 2 naming LIST:LINE (or the file) and leaves no cache."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish  # noqa: E402

CLASSES = ["bird", "cat", "dog"]  # folder order (sorted)
PER = 6


def run(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([XFER, *args], capture_output=True, text=True, timeout=300, env=env)


def strs(ds):
    return [s.decode() if isinstance(s, bytes) else s for s in ds[()]]


def config(path, datasets, target="t", extra=""):
    with open(path, "w") as f:
        f.write(f"experiment: lists\nseed: 1\ndevice: cpu\noutput: {os.path.dirname(path)}/out/results.h5\n")
        f.write("datasets:\n" + datasets)
        f.write("sources:\n  - {name: untrained, arch: resnet18, width: 0.125, weights: random}\n")
        f.write(f"target: {{dataset: {target}, finetune: {{epochs: 1}}}}\nscores: [logme]\n{extra}")
    return path


tmp = tempfile.mkdtemp(prefix="xfer-list-")
try:
    rng = np.random.default_rng(7)
    imgs = os.path.join(tmp, "imgs")
    files = []  # (relative path, class)
    for c in CLASSES:
        os.makedirs(os.path.join(imgs, c))
        for i in range(PER):
            arr = rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8)  # not square
            Image.fromarray(arr).save(os.path.join(imgs, c, f"{i}.png"))
            files.append((f"{c}/{i}.png", c))
    order = [files[k] for k in rng.permutation(len(files))]

    # ---- names, paths relative to the list's folder, no split column ---------------------------
    lst = os.path.join(tmp, "b.csv")
    with open(lst, "w") as f:
        f.write("# a comment\npath,label\n\n")
        f.write("".join(f"imgs/{p}, {c}\n" for p, c in order))
    common = "    cache_size: 24\n    image_size: 20\n"
    cfg = config(os.path.join(tmp, "b.yaml"),
                 f"  t:\n    kind: image_list\n    list: {lst}\n    cache: {tmp}/b.h5\n{common}"
                 f"  f:\n    kind: image_folder\n    root: {imgs}\n    cache: {tmp}/f.h5\n{common}")
    r = run("validate", "--strict", cfg)
    check(r.returncode == 0, "validate: " + r.stderr)
    r = run("prepare", cfg)
    check(r.returncode == 0, "prepare: " + r.stderr)
    with h5py.File(f"{tmp}/b.h5") as b, h5py.File(f"{tmp}/f.h5") as fo:
        check(strs(b["class_names"]) == CLASSES == strs(fo["class_names"]),
              f"class names sorted: {strs(b['class_names'])}")
        bp, fp = strs(b["paths"]), strs(fo["paths"])
        want = [os.path.join(tmp, "imgs", p) for c in CLASSES for p, cc in order if cc == c]
        check(bp == want, "items by class, then in list order")
        check(sorted(bp) == sorted(fp), "the same files as the folder")
        fidx = {p: i for i, p in enumerate(fp)}
        bl, fl, bi, fi = b["labels"][()], fo["labels"][()], b["images"][()], fo["images"][()]
        check(all(bl[i] == fl[fidx[p]] for i, p in enumerate(bp)), "labels as the folder's")
        check(all(np.array_equal(bi[i], fi[fidx[p]]) for i, p in enumerate(bp)),
              "pixels equal the image_folder cache's (one decoding path)")
        check("split" not in b, "no split column: no /split")
        check(b.attrs["kind"] in ("image_list", b"image_list"), "cache kind")
    r = run("prepare", cfg)
    check(r.returncode == 0 and "reusing cache" in r.stderr, "second prepare reuses: " + r.stderr)

    # ---- root, class-names file, index and name labels, a split column ------------------------
    names = os.path.join(tmp, "names.txt")
    given = ["dog", "bird", "cat"]  # the file's order is the class order
    with open(names, "w") as f:
        f.write("\n".join(given) + "\n")
    lst2 = os.path.join(tmp, "lists", "c.txt")
    os.makedirs(os.path.dirname(lst2))
    split_of = {}
    with open(lst2, "w") as f:
        for k, (p, c) in enumerate(order):
            s = "test" if int(p.split("/")[1][0]) % 3 == 0 else "train"
            split_of[os.path.join(imgs, p)] = s
            label = str(given.index(c)) if k % 2 else c
            f.write(f"{p},{label},{s}\n")
    ds2 = (f"  t:\n    kind: image_list\n    list: {lst2}\n    root: {imgs}\n"
           f"    class_names: {names}\n    cache: {tmp}/c.h5\n{common}")
    cfg2 = config(os.path.join(tmp, "c.yaml"), ds2)
    r = run("score", cfg2)
    check(r.returncode == 0, "score with a split column: " + r.stderr[-2000:])
    with h5py.File(f"{tmp}/c.h5") as c:
        check(strs(c["class_names"]) == given, "class names in the file's order")
        cp, cl, sp = strs(c["paths"]), c["labels"][()], c["split"][()]
        check(all(given[cl[i]] == p.split("/")[-2] for i, p in enumerate(cp)),
              "index and name labels both map to the class")
        check(all(sp[i] == (split_of[p] == "test") for i, p in enumerate(cp)), "/split as listed")
    with h5py.File(os.path.join(tmp, "out", "results.h5")) as res:
        tr, te = strs(res["target"]["train_files"]), strs(res["target"]["test_files"])
        check(sorted(tr) == sorted(p for p, s in split_of.items() if s == "train") and
              sorted(te) == sorted(p for p, s in split_of.items() if s == "test"),
              f"the run uses the list's split ({len(tr)} train, {len(te)} test)")
    # the list changes: the cache is rebuilt
    with open(lst2) as f:
        text = f.read()
    with open(lst2, "w") as f:
        f.write(text.replace(",train\n", ",test\n", 1))
    r = run("prepare", cfg2)
    check(r.returncode == 0 and "rebuilding cache" in r.stderr, "a changed list rebuilds: " + r.stderr)

    # ---- bad input: exit 2, LIST:LINE named, no cache left -------------------------------------
    good = [f"{p},{c}" for p, c in order]

    def bad(lines, *needles, what, extra_ds="", listpath=None):
        lp = listpath or os.path.join(tmp, "bad.csv")
        if listpath is None:
            with open(lp, "w") as f:
                f.write("".join(l + "\n" for l in lines))
        cache = os.path.join(tmp, "bad.h5")
        if os.path.exists(cache):
            os.unlink(cache)
        cfgb = config(os.path.join(tmp, "bad.yaml"),
                      f"  t:\n    kind: image_list\n    list: {lp}\n    root: {imgs}\n"
                      f"    cache: {cache}\n{common}{extra_ds}")
        r = run("prepare", cfgb)
        check(r.returncode == 2 and all(s in r.stderr for s in needles) and
              not os.path.exists(cache), f"{what}: rc {r.returncode} {r.stderr!r}")

    blp = os.path.join(tmp, "bad.csv")
    bad(good[:3] + ["nosuch/9.png,cat"] + good[3:], blp + ":4:", "nosuch/9.png",
        "No such file", what="a listed image that does not exist")
    bad(None, "missing.csv", "cannot open", listpath=os.path.join(tmp, "missing.csv"),
        what="a missing list")
    bad(["# nothing", "path,label", ""], "lists no images", what="an empty list")
    bad([l + ",train" for l in good[:2]] + [good[2] + ",val"], blp + ":3:",
        "bad split value 'val'", what="a bad split value")
    bad([l + ",train" for l in good[:2]] + [good[2]], blp + ":3:", "split column",
        what="a split column on some lines only")
    bad(good[:5] + [good[5].split(",")[0] + ",zebra"], blp + ":6:", "unknown label 'zebra'",
        extra_ds=f"    class_names: {names}\n", what="an unknown label")
    bad(good[:1] + [good[1].split(",")[0] + ",3"], blp + ":2:", "unknown label '3'",
        extra_ds=f"    class_names: {names}\n", what="an index outside the class names")
    bad(good + [good[0]], blp + f":{len(good) + 1}:", "listed twice", what="a duplicate")
    bad([l + ",test" for l in good], "no train images", what="a split without train images")
    bad([l + ",train" for l in good[:-1]] + [good[-1] + ",test"], "split column",
        "split at", extra_ds="    split: {train_fraction: 0.5}\n",
        what="a split column and a split block")
    bad(["a,b,c,d"], blp + ":1:", "more than 3 cells", what="four cells")

    # ---- config checks (line:col) --------------------------------------------------------------
    r = run("validate", config(os.path.join(tmp, "v.yaml"), "  t: {kind: image_list}\n"))
    check(r.returncode == 2 and "v.yaml:6:" in r.stderr and "'list'" in r.stderr,
          "image_list without list: " + r.stderr)
    r = run("validate", config(os.path.join(tmp, "v.yaml"),
                               f"  t: {{kind: image_list, list: {lst}, images: x}}\n"))
    check(r.returncode == 2 and "'images' is not used by kind image_list" in r.stderr,
          "a key image_list does not use: " + r.stderr)
    r = run("validate", "--strict", config(os.path.join(tmp, "v.yaml"),
                                           "  t: {kind: image_list, list: /nonexistent.csv}\n"))
    check(r.returncode == 2 and "datasets.t.list file not found" in r.stderr,
          "validate --strict: a missing list: " + r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
