"""`xfer validate`: malformed configs fail with exit 2 and the exact LINE:COL of their first problem;
several problems are all reported in file order; the shipped configs validate; missing files are
warnings, or errors with --strict; random mutations of configs/paper.yaml never crash.

Each tests/config/bad/*.yaml starts with "# expect: LINE:COL substring" written by hand from the
file's text, or "# expect: syntax" for YAML syntax errors, whose position is then taken from
PyYAML's pure-Python parser (an independent implementation of the same YAML grammar)."""
import glob
import os
import random
import re
import subprocess
import sys
import tempfile

import yaml

XFER = os.environ["XFER"]
SRC = os.environ["XFER_SOURCE_DIR"]
HERE = os.path.join(SRC, "tests", "config")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def validate(path, *extra, cwd=SRC):
    p = subprocess.run([XFER, "validate", *extra, path], capture_output=True, cwd=cwd, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def pyyaml_syntax_mark(path):
    """LINE:COL of the first syntax error according to PyYAML's pure-Python loader."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    try:
        for _ in yaml.load_all(text, Loader=yaml.SafeLoader):  # SafeLoader: pure Python
            pass
    except yaml.MarkedYAMLError as e:
        return f"{e.problem_mark.line + 1}:{e.problem_mark.column + 1}"
    return None


# ---- malformed configs: exit 2, exact LINE:COL of the first error line, message substring ----
bad = sorted(glob.glob(os.path.join(HERE, "bad", "*.yaml")))
check(len(bad) >= 30, f"at least 30 malformed configs (found {len(bad)})")
for path in bad:
    name = os.path.basename(path)
    with open(path, "rb") as f:
        first = f.readline().decode("ascii").strip()
    m = re.match(r"# expect: (?:(\d+:\d+) (.*)|syntax)$", first)
    if not m:
        check(False, f"{name}: first line must be '# expect: LINE:COL text' or '# expect: syntax'")
        continue
    if m.group(1):
        where, text = m.group(1), m.group(2)
    else:
        where, text = pyyaml_syntax_mark(path), "YAML syntax error"
        check(where is not None, f"{name}: PyYAML finds a syntax error too")
    rc, out, err = validate(path)
    lines = [l for l in err.splitlines() if l.startswith("xfer: error: ")]
    check(rc == 2, f"{name}: exit status {rc}, expected 2; stderr: {err!r}")
    if not lines:
        check(False, f"{name}: no 'xfer: error:' line; stderr: {err!r}")
        continue
    head = f"xfer: error: {path}:{where}: "
    check(lines[0].startswith(head), f"{name}: first error line {lines[0]!r}, expected {head!r}")
    check(text in lines[0], f"{name}: {text!r} not in {lines[0]!r}")

# ---- several problems in one file: all reported, sorted by position ----
multi = """experiment: t
seed: -3
device: gpu
datasets:
  d:
    kind: image_folder
    root: x
    split: {train_fraction: 2}
    colour: red
sources:
  - name: s
    arch: vgg
    weights: random
  - name: t
    arch: resnet18
    train: {from: nowhere, dataset: d}
target:
  dataset: missing
  finetune: {epochs: 0}
scores: [leep, bogus]
"""
expected = [("2:7", "bad value for seed"), ("3:9", "device"), ("8:29", "train_fraction"),
            ("9:5", "unknown key 'colour'"), ("12:11", "arch"), ("16:19", "names no source"),
            ("18:12", "names no dataset"), ("19:22", "epochs"), ("20:16", "unknown score")]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "multi.yaml")
    with open(path, "w") as f:
        f.write(multi)
    rc, out, err = validate(path)
    lines = [l for l in err.splitlines() if l.startswith("xfer: error: ")]
    check(rc == 2, f"multi: exit {rc}")
    check(len(lines) == len(expected), f"multi: {len(lines)} error lines, expected "
          f"{len(expected)}:\n" + "\n".join(lines))
    for line, (where, text) in zip(lines, expected):
        check(line.startswith(f"xfer: error: {path}:{where}: ") and text in line,
              f"multi: {line!r} should be at {where} with {text!r}")

    # ---- missing files: warnings (exit 0), errors with --strict (exit 2) ----
    missing = os.path.join(tmp, "missing.yaml")
    with open(missing, "w") as f:
        f.write("experiment: m\n"
                "datasets:\n"
                "  d:\n"
                "    kind: image_folder\n"
                "    root: no/such/dir\n"
                "sources:\n"
                "  - name: s\n"
                "    arch: alexnet\n"
                "    weights: no/such/weights.safetensors\n"
                "  - name: r\n"
                "    arch: alexnet\n"
                "    weights: random\n"
                "target: {dataset: d}\n"
                "scores: [emd]\n"
                "word_vectors: {path: no/such/vectors.vec}\n")
    want = [f"{missing}:5:11: datasets.d.root file not found: no/such/dir",
            f"{missing}:9:14: sources.s.weights file not found: no/such/weights.safetensors",
            f"{missing}:15:22: word_vectors.path file not found: no/such/vectors.vec"]
    rc, out, err = validate(missing, cwd=tmp)
    check(rc == 0, f"missing files: exit {rc}, expected 0: {err!r}")
    for w in want:
        check("xfer: warning: " + w in err.splitlines(), f"missing files: warning {w!r} in {err!r}")
    check("random" not in err, "weights: random is not a file")
    check(out.strip() == "ok: 1 dataset, 2 sources, 1 score", f"summary line: {out!r}")
    rc, out, err = validate(missing, "--strict", cwd=tmp)
    check(rc == 2, f"--strict with missing files: exit {rc}, expected 2")
    for w in want:
        check("xfer: error: " + w in err.splitlines(), f"--strict: error {w!r} in {err!r}")
    # The same files present: no warning; relative paths resolve from the working directory.
    os.makedirs(os.path.join(tmp, "no/such/dir"))
    for p in ["no/such/weights.safetensors", "no/such/vectors.vec"]:
        open(os.path.join(tmp, p), "w").close()
    rc, out, err = validate(missing, "--strict", cwd=tmp)
    check(rc == 0 and "warning" not in err, f"files present: exit {rc}, stderr {err!r}")

    # ---- the shipped configs validate ----
    for cfg in ["configs/paper.yaml", "configs/demo.yaml"]:
        rc, out, err = validate(cfg)
        check(rc == 0, f"{cfg}: exit {rc}: {err!r}")
        check(out.startswith("ok: "), f"{cfg}: summary {out!r}")
    rc, out, err = validate("configs/paper.yaml")
    check("ok: 2 datasets, 12 sources, 12 scores" in out, f"paper.yaml summary: {out!r}")
    rc, out, err = validate(os.path.join(tmp, "does-not-exist.yaml"))
    check(rc == 2 and "cannot open" in err, f"missing config: {rc} {err!r}")

    # ---- random mutations of paper.yaml: exit 0 or 2, never a crash ----
    with open(os.path.join(SRC, "configs", "paper.yaml"), "rb") as f:
        paper = f.read()
    rng = random.Random(20261127)
    tokens = [b"\t", b":", b"- ", b"[", b"]", b"{", b"}", b"&a ", b"*a", b"!!int ", b"'", b'"',
              b"\n", b"  ", b"-1", b"0", b"1e999", b"99999999999999999999999", b"null", b"~",
              b"\xff", b"\x00", b"? ", b"---\n", b"%YAML 1.1\n", b"<<: *a\n", b"|\n", b"#"]
    n_mut = int(os.environ.get("XFER_CONFIG_MUTATIONS", "300"))
    seen = {0: 0, 2: 0}
    for i in range(n_mut):
        data = bytearray(paper)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            pos = rng.randrange(len(data))
            if op == 0:  # insert a YAML-significant token
                data[pos:pos] = rng.choice(tokens)
            elif op == 1:  # delete a span
                del data[pos:pos + rng.randint(1, 40)]
            elif op == 2:  # random byte
                data[pos] = rng.randrange(256)
            elif op == 3:  # duplicate a line
                lines = bytes(data).split(b"\n")
                k = rng.randrange(len(lines))
                lines.insert(k, lines[rng.randrange(len(lines))])
                data = bytearray(b"\n".join(lines))
            else:  # truncate
                data = data[:pos]
        path = os.path.join(tmp, "mutant.yaml")
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = validate(path)
        if rc in seen:
            seen[rc] += 1
        else:
            keep = os.path.join(tmp, f"crash{i}.yaml")
            os.rename(path, keep)
            check(False, f"mutation {i}: exit {rc} (stderr {err[-300:]!r}); input:\n{bytes(data)!r}")
        if rc == 2:
            check("xfer: error: " in err, f"mutation {i}: exit 2 without an error line")
    print(f"mutations: {seen[0]} valid, {seen[2]} rejected of {n_mut}")
    check(seen[2] > 0, "some mutations are rejected")

print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
