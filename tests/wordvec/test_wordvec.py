#!/usr/bin/python3
"""Word vectors and class distances against independent oracles.

fastText's own CLI (Debian's /usr/bin/fasttext) trains a tiny model here; xfer's .bin reader must
give the vectors `fasttext print-word-vectors` prints, for in-vocabulary and made-up words (ASCII
and multi-byte UTF-8). The .vec reader, the error paths, the class distance matrix (numpy) and the
WordNet distance (a separate pure-Python walk over the same database files) are checked too.
Usage: test_wordvec.py WORDVEC_TOOL
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOOL = sys.argv[1]
FASTTEXT = shutil.which("fasttext") or "/usr/bin/fasttext"
WORDNET = "/usr/share/wordnet"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def tool(*args, stdin=None):
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True, text=True)


def parse_vectors(text):
    out = {}
    for line in text.splitlines():
        parts = line.rstrip().split(" ")
        out[parts[0]] = np.array([float(x) for x in parts[1:]], dtype=np.float64)
    return out


def make_corpus(path):
    """Glosses of the first WordNet nouns (or a fixed text without WordNet) plus UTF-8 words."""
    lines = []
    if os.path.exists(f"{WORDNET}/data.noun"):
        with open(f"{WORDNET}/data.noun", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" ") or "|" not in line:
                    continue
                g = re.sub(r"[^a-z0-9 ]", " ", line.split("|", 1)[1].lower())
                lines.append(" ".join(g.split()))
                if len(lines) >= 2000:
                    break
    else:
        lines = ["the dog chased the cat across the road near the tree"] * 200
    lines += ["café crème naïve über straße 日本語 the coffee shop with café au lait"] * 30
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def fasttext_vectors(model, words):
    r = subprocess.run([FASTTEXT, "print-word-vectors", model], input="\n".join(words) + "\n",
                       capture_output=True, text=True, check=True)
    return parse_vectors(r.stdout)


def split_name(name):
    """docs/wordvec.md: first comma-separated synonym, split on space _ - /."""
    return [w for w in re.split(r"[ \t_\-/]+", name.split(",")[0]) if w]


def name_vectors(names, lookup, mode, synonyms=None):
    synonyms = synonyms or {}
    out = []
    for name in names:
        words = split_name(synonyms.get(name, name))
        vecs = []
        for w in words:
            v = lookup(w)
            if v is None and w in synonyms:
                vecs += [lookup(s) for s in split_name(synonyms[w])]
            else:
                vecs.append(v)
        s = np.sum(vecs, axis=0)
        out.append(s / len(vecs) if mode == "mean" else s)
    return np.array(out)


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def run_matrix(kind, path, mode, src, tgt, syn, tmp):
    write_lines(f"{tmp}/src.txt", src)
    write_lines(f"{tmp}/tgt.txt", tgt)
    args = ["dist", kind, path, mode, f"{tmp}/src.txt", f"{tmp}/tgt.txt"]
    if syn:
        write_lines(f"{tmp}/syn.txt", [f"{k}\t{v}" for k, v in syn.items()])
        args.append(f"{tmp}/syn.txt")
    r = tool(*args)
    if r.returncode != 0:
        return None, r
    return np.array([[float(x) for x in l.split()] for l in r.stdout.splitlines()]), r


def test_fasttext(tmp):
    corpus = f"{tmp}/corpus.txt"
    make_corpus(corpus)
    model = f"{tmp}/tiny"
    # A low learning rate keeps |v| < 1, where fastText's 5-significant-digit printout resolves
    # 1e-5; the n-gram rows stay random, which is what tells right rows from wrong ones.
    subprocess.run([FASTTEXT, "skipgram", "-input", corpus, "-output", model, "-dim", "10",
                    "-minn", "2", "-maxn", "4", "-bucket", "10000", "-epoch", "1", "-minCount",
                    "2", "-thread", "1", "-lr", "0.02", "-verbose", "0"], check=True)
    with open(model + ".vec", encoding="utf-8") as f:
        vec_rows = [l.rstrip().split(" ") for l in f.readlines()[1:]]
    vocab = [r[0] for r in vec_rows]
    in_vocab = vocab[:40] + [w for w in ["café", "naïve", "straße", "日本語", "über"] if w in vocab]
    check(len(in_vocab) >= 44, f"UTF-8 words in the vocabulary: {in_vocab[-5:]}")
    made_up = ["zzqx", "qwertyuiop", "naïveté", "日本", "Überstraße", "x", "ab", "🙂ok", "Dog",
               "cafés"]
    check(not any(w in vocab for w in made_up), "made-up words are out of vocabulary")
    words = in_vocab + made_up
    ref = fasttext_vectors(model + ".bin", words)
    r = tool("bin", model + ".bin", stdin="\n".join(words) + "\n")
    check(r.returncode == 0, f"wordvec_tool bin: {r.stderr}")
    got = parse_vectors(r.stdout)
    worst = 0.0
    for w in words:
        if w not in got or w not in ref:
            check(False, f"no vector for {w!r}")
            continue
        worst = max(worst, float(np.max(np.abs(got[w] - ref[w]))))
    maxref = max(float(np.max(np.abs(v))) for v in ref.values())
    check(maxref < 1.0, f"reference values below 1 (max {maxref}) so 1e-5 is resolvable")
    check(worst <= 1e-5, f".bin vectors vs fasttext print-word-vectors: max abs diff {worst}")
    print(f".bin vs fasttext print-word-vectors: {len(words)} words ({len(made_up)} made up), "
          f"max abs diff {worst:.2e}")

    # .vec: same words; made-up ones are missing.
    r = tool("vec", model + ".vec", *words)
    check(r.returncode == 0, f"wordvec_tool vec: {r.stderr}")
    vec_ref = {row[0]: np.array([float(x) for x in row[1:]]) for row in vec_rows}
    worst = 0.0
    for line in r.stdout.splitlines():
        w, rest = line.split(" ", 1)
        if w in made_up:
            check(rest == "MISSING", f".vec: {w} should be missing, got {rest[:30]}")
        else:
            v = np.array([float(x) for x in rest.split()])
            worst = max(worst, float(np.max(np.abs(v - vec_ref[w]))))
            worst = max(worst, float(np.max(np.abs(v - ref[w]))))
    check(worst <= 1e-5, f".vec vectors: max abs diff {worst}")

    test_errors(tmp, model, corpus, vec_rows)
    test_matrix(tmp, model, vec_ref)


def expect_error(args, must, what, stdin=None):
    r = tool(*args, stdin=stdin)
    ok = r.returncode == 2 and all(m in r.stderr for m in must)
    check(ok, f"{what}: rc {r.returncode}, stderr {r.stderr.strip()[:300]!r}")
    return r


def test_errors(tmp, model, corpus, vec_rows):
    # A .vec row with one value too few, on line 7.
    bad = f"{tmp}/bad.vec"
    with open(model + ".vec", encoding="utf-8") as f:
        lines = f.readlines()
    parts = lines[6].rstrip().split(" ")
    lines[6] = " ".join(parts[:-1]) + " \n"
    with open(bad, "w", encoding="utf-8") as f:
        f.writelines(lines)
    expect_error(["vec", bad, "zzqx"], [bad + ":7:", f'"{parts[0]}"', "9 values", "dim 10"],
                 "wrong-dim .vec row")
    # Version 13.
    with open(model + ".bin", "rb") as f:
        data = f.read()
    check(struct.unpack("<ii", data[:8]) == (793712314, 12), "fastText magic and version 12")
    v13 = f"{tmp}/v13.bin"
    with open(v13, "wb") as f:
        f.write(data[:4] + struct.pack("<i", 13) + data[8:])
    expect_error(["bin", v13, "dog"], ["version 13", "not supported"], "version 13 .bin")
    notft = f"{tmp}/not.bin"
    with open(notft, "wb") as f:
        f.write(b"\x00" * 64)
    expect_error(["bin", notft, "dog"], ["not a fastText .bin"], "wrong magic")
    # Truncated at several places: args, dictionary, input matrix, output matrix.
    for cut in [6, 30, 100, 2000, len(data) // 2, len(data) - 5]:
        t = f"{tmp}/trunc.bin"
        with open(t, "wb") as f:
            f.write(data[:cut])
        expect_error(["bin", t, "dog"], ["truncated"], f".bin truncated at {cut} bytes")
    # A quantized model: fastText quantizes supervised models only.
    sup = f"{tmp}/sup"
    with open(corpus, encoding="utf-8") as f:
        text = [f"__label__{i % 3} {l.strip()}" for i, l in enumerate(f) if l.strip()][:400]
    write_lines(sup + ".txt", text)
    subprocess.run([FASTTEXT, "supervised", "-input", sup + ".txt", "-output", sup, "-dim", "8",
                    "-minn", "2", "-maxn", "3", "-bucket", "5000", "-epoch", "1", "-verbose",
                    "0"], check=True)
    # A supervised .bin (labels in the dictionary) reads like the others.
    ref = fasttext_vectors(sup + ".bin", ["dog", "zzqx"])
    got = parse_vectors(tool("bin", sup + ".bin", "dog", "zzqx").stdout)
    check(all(w in got and np.max(np.abs(got[w] - ref[w])) <= 1e-5 for w in ref),
          "supervised .bin vectors equal fastText's")
    subprocess.run([FASTTEXT, "quantize", "-output", sup, "-input", sup + ".txt"], check=True,
                   capture_output=True)
    expect_error(["bin", sup + ".ftz", "dog"], ["quantized", ".ftz"], "quantized .ftz")


def test_matrix(tmp, model, vec_ref):
    ref_bin = {}

    def bin_lookup(w):
        if w in vec_ref:
            return vec_ref[w].astype(np.float32).astype(np.float64)
        if w.lower() in vec_ref:
            return vec_ref[w.lower()].astype(np.float32).astype(np.float64)
        if w.lower() not in ref_bin:  # subword vector of the lower-case form
            ref_bin.update(fasttext_vectors(model + ".bin", [w.lower()]))
        return ref_bin[w.lower()]

    def vec_lookup(w):
        for k in (w, w.lower()):
            if k in vec_ref:
                return vec_ref[k].astype(np.float32).astype(np.float64)
        return None

    src = ["dog", "coffee shop", "Café au lait", "the_tree/of-life", "white water, man-eater",
           "Zzqx tree"]
    tgt = ["Dog", "naïve water", "plant-food", "Tree"]
    syn = {"Zzqx": "dog tree"}
    for mode in ("sum", "mean"):
        V = name_vectors(src + tgt, vec_lookup, mode, syn)
        want = np.linalg.norm(V[:len(src), None, :] - V[None, len(src):, :], axis=2)
        got, r = run_matrix("vec", model + ".vec", mode, src, tgt, syn, tmp)
        check(got is not None and got.shape == want.shape and
              np.allclose(got, want, rtol=1e-6, atol=1e-9),
              f".vec {mode} distance matrix vs numpy: {r.stderr.strip()[:200]}")
        # .bin with a subword vector for the made-up word instead of a synonym.
        src_b = src[:-1] + ["Zzqxy cat"]
        V = name_vectors(src_b + tgt, bin_lookup, mode)
        want = np.linalg.norm(V[:len(src_b), None, :] - V[None, len(src_b):, :], axis=2)
        got, r = run_matrix("bin", model + ".bin", mode, src_b, tgt, {}, tmp)
        check(got is not None and np.allclose(got, want, rtol=1e-4, atol=1e-4),
              f".bin {mode} distance matrix vs numpy: {r.stderr.strip()[:200]}")
    # Every missing word is listed at once, with its class.
    _, r = run_matrix("vec", model + ".vec", "sum", ["dog", "Qqqz tree"],
                      ["Wwwx", "cat Vvvq"], {}, tmp)
    check(r.returncode == 2 and all(f'"{w}"' in r.stderr for w in ["Qqqz", "Wwwx", "Vvvq"]) and
          '(class "cat Vvvq")' in r.stderr, f"missing words listed at once: {r.stderr[:300]!r}")


# ---- WordNet: an independent walk over the same files -----------------------------------------

def wordnet_reference():
    hyper = {}
    with open(f"{WORDNET}/data.noun", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(" "):
                continue
            fields = line.split("|")[0].split()
            nw = int(fields[3], 16)
            rest = fields[4 + 2 * nw:]
            np_ = int(rest[0])
            ptrs = [rest[1 + 4 * i: 5 + 4 * i] for i in range(np_)]
            hyper[fields[0]] = [p[1] for p in ptrs if p[0] in ("@", "@i") and p[2] == "n"]
    index = {}
    with open(f"{WORDNET}/index.noun", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(" "):
                continue
            fields = line.split()
            index[fields[0]] = fields[-int(fields[2]):]
    return hyper, index


def up_distances(hyper, s):
    """Shortest number of hypernym steps to each ancestor (iterative relaxation)."""
    dist = {s: 0}
    changed = True
    while changed:
        changed = False
        for node, d in list(dist.items()):
            for h in hyper[node]:
                if h not in dist or dist[h] > d + 1:
                    dist[h] = d + 1
                    changed = True
    return dist


def ref_distance(hyper, a, b):
    da, db = up_distances(hyper, a), up_distances(hyper, b)
    return min(da[c] + db[c] for c in da if c in db)


def test_wordnet(tmp):
    if not os.path.exists(f"{WORDNET}/data.noun"):
        print("WordNet checks skipped: no", WORDNET)
        return
    hyper, index = wordnet_reference()
    pairs = [("dog", "cat"), ("dog", "car"), ("dog", "dog"), ("Sandal", "Sneaker"),
             ("shirt", "coat"), ("tabby, tabby cat", "Ankle boot"), ("pullover", "trouser"),
             ("bag", "dress"), ("T-shirt/top", "shirt"), ("horse", "oak")]
    first = {"Ankle boot": "boot"}
    got = {}
    for a, b in pairs:
        r = tool("wndist", WORDNET, first.get(a, a), first.get(b, b))
        check(r.returncode == 0 and r.stdout.strip().isdigit(), f"wndist {a}/{b}: {r.stdout}")
        got[(a, b)] = int(r.stdout.strip()) if r.stdout.strip().isdigit() else -1

        def synset(name):
            name = first.get(name, name).split(",")[0].split("/")[0].strip()
            return index[name.lower().replace(" ", "_")][0]
        want = ref_distance(hyper, synset(a), synset(b))
        check(got[(a, b)] == want, f"WordNet distance {a}/{b}: xfer {got[(a, b)]}, ref {want}")
    check(got[("dog", "cat")] < got[("dog", "car")], "dog/cat closer than dog/car")
    check(got[("dog", "dog")] == 0, "dog/dog = 0")
    r = tool("wn", WORDNET, "dog", "cat", "dog.n.03", "T-shirt/top")
    offs = dict(l.split("\t") for l in r.stdout.splitlines())
    check(offs.get("dog") == "02084071" and offs.get("cat") == "02121620",
          f"first noun senses of dog and cat: {offs}")
    check(offs.get("dog.n.03") == index["dog"][2], f"explicit sense dog.n.03: {offs}")
    check(offs.get("T-shirt/top") == index["t-shirt"][0], f"T-shirt/top → t-shirt: {offs}")
    # The demo's names through the matrix, and missing names listed at once.
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    D, r = run_matrix("wordnet", WORDNET, "sum", fashion[:5], fashion[5:], first, tmp)
    check(D is not None and D.shape == (5, 5), f"Fashion-MNIST WordNet matrix: {r.stderr[:200]}")
    if D is not None:
        for i, a in enumerate(fashion[:5]):
            for j, b in enumerate(fashion[5:]):
                want = ref_distance(hyper, index[first.get(a, a).split("/")[0].lower()][0],
                                    index[first.get(b, b).lower()][0])
                check(D[i, j] == want, f"matrix {a}/{b}: {D[i, j]} vs {want}")
    _, r = run_matrix("wordnet", WORDNET, "sum", ["dog", "Blorp"], ["Ankle boot", "cat"], {}, tmp)
    check(r.returncode == 2 and '"Blorp"' in r.stderr and '"Ankle boot"' in r.stderr,
          f"missing WordNet names listed at once: {r.stderr[:300]!r}")


def main():
    if not os.path.exists(FASTTEXT):
        print("skipped: no fasttext binary")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        test_fasttext(tmp)
        test_wordnet(tmp)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
