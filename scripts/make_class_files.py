#!/usr/bin/python3
"""Writes xfer's class-name files (one display name per line) in configs/classes/.

  make_class_files.py [--meta PATH] [--places365 FILE] [--out DIR]

imagenet1k.txt: torchvision's _IMAGENET_CATEGORIES (Debian python3-torchvision,
  torchvision/models/_meta.py), read without importing torch; index order = the model's outputs.
places365.txt: CSAILVision/places365's categories_places365.txt ("/a/airfield 0") or its
  categories_hybrid1365.txt (Places365 lines are those starting with "/", index minus 1000).
  Each category "/b/bakery/shop" becomes "bakery/shop": the "/<letter>/" prefix and the index are
  dropped and "_" becomes a space; the "/" before a qualifier is kept (xfer splits words on it,
  and the WordNet mapping tries the part before it); lines are written in index order.
"""
import argparse
import ast
import glob
import os
import sys


def imagenet_names(meta):
    with open(meta, encoding="utf-8") as f:
        tree = ast.parse(f.read(), meta)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_IMAGENET_CATEGORIES" for t in node.targets):
            names = ast.literal_eval(node.value)
            if len(names) != 1000:
                sys.exit(f"{meta}: _IMAGENET_CATEGORIES has {len(names)} names, expected 1000")
            return names
    sys.exit(f"{meta}: no _IMAGENET_CATEGORIES")


def places_names(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("/"):
                continue
            cat, idx = line.rsplit(" ", 1)
            idx = int(idx)
            if idx >= 1000:  # the hybrid file numbers Places365 after ImageNet's 1000 classes
                idx -= 1000
            parts = cat.split("/")[2:]  # "", letter, name[, sub]
            rows.append((idx, "/".join(p.replace("_", " ") for p in parts)))
    rows.sort()
    if [i for i, _ in rows] != list(range(365)):
        sys.exit(f"{path}: expected Places365 indices 0..364")
    return [n for _, n in rows]


def write(path, names):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path} ({len(names)} names)")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    metas = glob.glob("/usr/lib/python3/dist-packages/torchvision/models/_meta.py")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meta", default=metas[0] if metas else None,
                    help="torchvision/models/_meta.py")
    ap.add_argument("--places365", help="categories_places365.txt or categories_hybrid1365.txt")
    ap.add_argument("--out", default=os.path.join(here, "..", "configs", "classes"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.meta:
        write(os.path.join(args.out, "imagenet1k.txt"), imagenet_names(args.meta))
    else:
        print("no torchvision _meta.py found: imagenet1k.txt not written", file=sys.stderr)
    if args.places365:
        write(os.path.join(args.out, "places365.txt"), places_names(args.places365))


if __name__ == "__main__":
    main()
