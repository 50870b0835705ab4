#!/bin/sh
# Trains the demo's word vectors: Debian's fastText on a corpus made from WordNet's lemmas and
# glosses (/usr/share/wordnet/data.{noun,verb,adj,adv}), written to OUTDIR/wordnet-gloss.vec and
# OUTDIR/wordnet-gloss.bin. Skips the work when both exist. About 40 s on 2 cores.
#   scripts/make_demo_vectors.sh OUTDIR
# Environment: WORDNET_DIR (default /usr/share/wordnet), FASTTEXT (default fasttext),
# PYTHON (default /usr/bin/python3).
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
wn=${WORDNET_DIR:-/usr/share/wordnet}
ft=${FASTTEXT:-fasttext}
py=${PYTHON:-/usr/bin/python3}
name=wordnet-gloss
if [ -s "$out/$name.vec" ] && [ -s "$out/$name.bin" ]; then
    echo "$out/$name.vec and .bin exist: nothing to do"
    exit 0
fi
for f in data.noun data.verb data.adj data.adv; do
    if [ ! -r "$wn/$f" ]; then
        echo "$0: $wn/$f not found (Debian package wordnet-base)" >&2
        exit 2
    fi
done
command -v "$ft" >/dev/null 2>&1 || { echo "$0: $ft not found (Debian package fasttext)" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d "$out/.$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# One line per synset: its lemmas (underscores as spaces) then its gloss, lower-case, letters and
# digits only.
"$py" - "$wn" "$tmp/corpus.txt" <<'PY'
import re, sys
wn, out = sys.argv[1], sys.argv[2]
with open(out, "w", encoding="utf-8") as o:
    for pos in ("noun", "verb", "adj", "adv"):
        with open(f"{wn}/data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" ") or "|" not in line:
                    continue
                head, gloss = line.split("|", 1)
                fields = head.split()
                lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).replace("_", " ")
                          for i in range(int(fields[3], 16))]
                text = re.sub(r"[^a-z0-9]+", " ", (" ".join(lemmas) + " " + gloss).lower())
                o.write(" ".join(text.split()) + "\n")
PY
# -maxn 0: whole words only, which gives meaningful neighbours on this small corpus (with
# subwords the neighbours are spelling-alike); see docs/wordvec.md.
"$ft" skipgram -input "$tmp/corpus.txt" -output "$tmp/$name" -dim 50 -epoch 5 -minCount 2 \
    -thread 2 -maxn 0 -verbose 1
mv "$tmp/$name.bin" "$out/$name.bin"
mv "$tmp/$name.vec" "$out/$name.vec"
echo "wrote $out/$name.vec and $out/$name.bin"
