"""Successive halving (target.finetune.prune, issue 16) end to end on a tiny synthetic sweep of six
sources: `method: none` leaves the results file as it was without the key; a pruned sweep's rung
decisions equal an independent recomputation from its curves (Optuna's rule: the top
max(keep_at_least, floor(n / eta)) go on; ties by the seed_by score, then config order); pruned
sources keep their curve (a bitwise prefix of the full sweep's) and resume checkpoint; the report
shows them and the epochs spent; `--compare`; a rerun with `method: none` finishes them without
training an epoch twice, to the full sweep's curves; two concurrent shards (one slowed down) decide
as the unsharded run; `scope: shard` decides per shard; changed settings are refused."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, xfer  # noqa: E402

CONFIG = """experiment: prune
seed: 3
device: cpu
output: {out}
datasets:
  tgt:
    kind: synthetic
    synthetic: {{classes: 3, per_class: 24, size: 24, seed: 7}}
    image_size: 20
    cache_size: 24
    split: {{train_per_class: 12, test_per_class: 12}}
sources:
{sources}
target:
  dataset: tgt
  finetune:
    epochs: 8
    batch_size: 12
    optimizer: {{sgd: {{lr: 0.02, momentum: 0.9}}}}
    schedule: {{step: {{step_size: 4, gamma: 0.1}}}}
{prune}
scores: [logme, leep]
"""
NAMES = ["s0", "s1", "s2", "s3", "s4", "s5"]
SOURCES = "\n".join(f"  - {{name: {n}, arch: resnet18, width: 0.125, weights: random, "
                    f"init_seed: {i + 11}}}" for i, n in enumerate(NAMES))
SH = "    prune: {method: successive_halving, eta: 2, min_epochs: 1, seed_by: logme}"
EPOCHS, ETA, MIN_EPOCHS, KEEP = 8, 2, 1, 1
TIMING = {"seconds", "created", "config"}  # differ between any two runs


def write(d, name, prune, out="results.h5"):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(CONFIG.format(out=os.path.join(d, out), sources=SOURCES, prune=prune))
    return path


def run(cfg, *extra, env=None):
    return subprocess.Popen([XFER, "run", "--no-plots", "--threads", "1", *extra, cfg],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))


def run_ok(cfg, *extra, what=""):
    p = run(cfg, *extra)
    so, se = p.communicate(timeout=600)
    check(p.returncode == 0, f"{what}: exit 0 ({p.returncode})\n{se[-3000:]}")
    return so, se


def dump(path):
    """Every group, dataset and attribute of an HDF5 file, but the timing ones."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for k, v in obj.attrs.items():
                if k not in TIMING:
                    out[f"{name}@{k}"] = np.asarray(v).tobytes() if not isinstance(v, str) else v
            if isinstance(obj, h5py.Dataset) and name.rsplit("/", 1)[-1] not in TIMING:
                v = obj[()]
                out[name] = (obj.asstr()[()].tolist() if h5py.check_string_dtype(obj.dtype)
                             else np.asarray(v).tobytes())
        for k, v in f.attrs.items():
            if k not in TIMING:
                out[f"/@{k}"] = np.asarray(v).tobytes() if not isinstance(v, str) else v
        f.visititems(visit)
    return out


def sources(path):
    with h5py.File(path, "r") as f:
        return {n: {"status": g.attrs["status"], "test_acc": g["curve/test_acc"][()],
                    "epoch": g["curve/epoch"][()],
                    "curve": {k: g["curve"][k][()].tobytes() for k in g["curve"] if k != "seconds"},
                    "logme": float(g["scores/logme"][()])} for n, g in f["sources"].items()}


def rows(path):
    with h5py.File(path, "r") as f:
        if "prune" not in f:
            return None
        p = f["prune"]
        return sorted(zip(p["rung"][()].tolist(), p["epoch"][()].tolist(),
                          p["source"].asstr()[()].tolist(), p["value"][()].tolist(),
                          p["kept"][()].tolist()))


def oracle(full):
    """The rung decisions recomputed from the full sweep's curves (rows as the file stores them)."""
    alive, out, k, e = list(NAMES), [], 0, MIN_EPOCHS
    while e < EPOCHS and len(alive) > KEEP:
        val = {n: float(np.nanmax(full[n]["test_acc"][full[n]["epoch"] <= e])) for n in alive}
        ranked = sorted(alive, key=lambda n: (-val[n], -full[n]["logme"], NAMES.index(n)))
        keep = min(len(alive), max(KEEP, len(alive) // ETA))
        out += [(k, e, n, val[n], int(i < keep)) for i, n in enumerate(ranked)]
        alive = ranked[:keep]
        k, e = k + 1, e * ETA
    return sorted(out), alive


def epochs_logged(log):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return sum(1 for line in f if json.loads(line)["phase"] == "finetune")


tmp = tempfile.mkdtemp(prefix="xfer-prune-")
try:
    # ---- a full sweep without the key, and with `prune: {method: none}` -------------------------
    full_cfg = write(os.path.join(tmp, "full"), "c.yaml", "")
    none_cfg = write(os.path.join(tmp, "none"), "c.yaml", "    prune: {method: none, eta: 4}")
    run_ok(full_cfg, "--quiet", what="full sweep")
    run_ok(none_cfg, "--quiet", what="method none")
    full_h5 = os.path.join(tmp, "full", "results.h5")
    a, b = dump(full_h5), dump(os.path.join(tmp, "none", "results.h5"))
    check(len(a) > 50 and a == b, f"method none: the results file equals the one without prune "
          f"(but config/created/seconds): {len(a)} entries, differing "
          f"{sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:8]}")
    check(rows(os.path.join(tmp, "none", "results.h5")) is None, "method none: no /prune group")
    full = sources(full_h5)

    # ---- the pruned sweep ----------------------------------------------------------------------
    sh_dir = os.path.join(tmp, "sh")
    sh_cfg = write(sh_dir, "c.yaml", SH)
    sh_h5 = os.path.join(sh_dir, "results.h5")
    log = os.path.join(sh_dir, "epochs.jsonl")
    so, se = run_ok(sh_cfg, "--log-json", log, what="pruned sweep")
    got, want_rows_survivors = sources(sh_h5), oracle(full)
    want_rows, survivors = want_rows_survivors
    check(rows(sh_h5) == want_rows, f"rung decisions equal the recomputation:\n{rows(sh_h5)}\n"
          f"{want_rows}")
    pruned = {n for n in NAMES if got[n]["status"] == "pruned"}
    check(pruned == set(NAMES) - set(survivors) and pruned,
          f"statuses: pruned {sorted(pruned)}, survivors {survivors}")
    stop = {r[2]: r[1] for r in want_rows if r[4] == 0}
    for n in NAMES:
        c, f = got[n]["curve"], full[n]["curve"]
        m = len(got[n]["epoch"])
        check(m == (stop[n] if n in pruned else EPOCHS), f"{n}: {m} epochs in its curve")
        check(all(c[k] == f[k][:8 * m] for k in c),  # int64 and float64 columns
              f"{n}: its curve is a bitwise prefix of the full sweep's")
        last = os.path.join(sh_dir, "checkpoints", "results", f"{n}.last.safetensors")
        check(os.path.exists(last) == (n in pruned), f"{n}: resume checkpoint kept iff pruned")
    trained = sum(len(got[n]["epoch"]) for n in NAMES)
    check(epochs_logged(log) == trained, f"--log-json: {trained} fine-tuning epochs")
    check(f"pruned @ {stop[sorted(pruned)[0]]}" in so, "report: pruned sources with their epoch")
    check(f"Fine-tuning epochs trained: {trained} of {EPOCHS * len(NAMES)}" in so,
          "report: epochs trained vs a full sweep")
    check(f"training images processed: {trained * 36} of {EPOCHS * len(NAMES) * 36}" in so,
          "report: training images")
    check(f"use only the {len(survivors)} sources that finished" in so,
          "report: correlations on the finished sources, said so")
    rc, js, _ = xfer("report", "--format", "json", "--compare", full_h5, sh_h5)
    j = json.loads(js)
    best_full = max(NAMES, key=lambda n: (np.nanmax(full[n]["test_acc"]), -NAMES.index(n)))
    best_here = max(survivors, key=lambda n: (np.nanmax(full[n]["test_acc"]), -NAMES.index(n)))
    cmp_ = j["prune"]["compare"]
    check(rc == 0 and cmp_["best_source_full"] == best_full and
          cmp_["best_survived"] == (best_full in survivors) and
          abs(cmp_["regret"] - (np.nanmax(full[best_full]["test_acc"]) -
                                np.nanmax(full[best_here]["test_acc"]))) < 1e-12,
          f"--compare: best {best_full}, survived {best_full in survivors}: {cmp_}")
    check(j["status_counts"]["pruned"] == len(pruned), "json: status counts")
    rc, cs, _ = xfer("report", "--format", "csv", "--compare", full_h5, sh_h5)
    blocks = [list(csv.reader(io.StringIO(b))) for b in cs.strip("\n").split("\n\n")]
    check(rc == 0 and len(blocks) == 4, f"csv: sources, correlations, rungs, summary: "
          f"{len(blocks)} tables")
    if len(blocks) == 4:
        rung_rows = sorted((int(r[0]) - 1, int(r[1]), r[2], float(r[3]), int(r[4]))
                           for r in blocks[2][1:])
        check(blocks[2][0] == ["rung", "epoch", "source", "value", "kept"] and
              rung_rows == want_rows, f"csv: the rung table equals the recomputation: {rung_rows}")
        summ = dict(zip(blocks[3][0], blocks[3][1]))
        check(int(summ["epochs_trained"]) == trained and
              int(summ["epochs_full_sweep"]) == EPOCHS * len(NAMES) and
              int(summ["train_images_processed"]) == trained * 36 and
              summ["best_source_full"] == best_full and
              summ["best_survived"] == str(int(best_full in survivors)) and
              abs(float(summ["regret"]) - cmp_["regret"]) < 1e-15, f"csv: summary row {summ}")

    # ---- rerun: same settings (nothing to do), other settings (refused) ------------------------
    os.remove(log)
    run_ok(sh_cfg, "--log-json", log, what="rerun, same settings")
    check(epochs_logged(log) == 0 and rows(sh_h5) == want_rows, "rerun: no epoch, same decisions")
    other = write(sh_dir, "eta3.yaml", SH.replace("eta: 2", "eta: 3"))
    rc, _, se = xfer("run", "--no-plots", other)
    check(rc == 2 and "different config" in se, f"other pruning settings refused: {rc} {se[-300:]}")

    # ---- rerun with method none: the pruned sources finish, no epoch trained twice ------------
    fin = write(sh_dir, "none.yaml", "    prune: {method: none}")
    run_ok(fin, "--quiet", "--log-json", log, what="finish with method none")
    check(epochs_logged(log) == EPOCHS * len(NAMES) - trained,
          f"method none trains only the missing {EPOCHS * len(NAMES) - trained} epochs "
          f"({epochs_logged(log)})")
    done = sources(sh_h5)
    check(all(done[n]["status"] == "done" and done[n]["curve"] == full[n]["curve"] for n in NAMES),
          "after finishing: every source done, curves bitwise the full sweep's")

    # ---- two concurrent shards, one slowed down: the same decisions ----------------------------
    sd = os.path.join(tmp, "shards")
    # one config for both shards (merge refuses different ones); the outputs from --output
    shard_cfg = write(sd, "c.yaml", SH)
    def shard(i):
        return run(shard_cfg, "--quiet", "--shard", f"{i}/2", "--output",
                   os.path.join(sd, f"s{i}.h5"),
                   env={"XFER_TEST_EPOCH_SLEEP_MS": "150"} if i == 1 else None)

    # shard 0 alone first: it publishes its rung-1 records, then must wait for shard 1's sources
    # (the waiting rule, docs/run.md): nothing is decided while shard 1 has not run
    p0 = shard(0)
    recdir, t0, published = os.path.join(sd, "prune"), time.monotonic(), False
    while p0.poll() is None and time.monotonic() - t0 < 300 and not published:
        time.sleep(0.1)
        try:
            with h5py.File(os.path.join(sd, "s0.h5"), "r") as f:
                mine0 = set(f["sources"])
            recs0 = {n.split("-", 1)[1] for d in os.listdir(recdir)
                     for n in os.listdir(os.path.join(recdir, d)) if n.startswith("r0-")}
            published = bool(mine0) and recs0 >= mine0
        except (OSError, KeyError):
            pass
    decided_alone = []
    for _ in range(20):  # two seconds of looking: a shard that did not wait would decide now
        time.sleep(0.1)
        with h5py.File(os.path.join(sd, "s0.h5"), "r") as f:
            decided_alone.append(len(f["prune/rung"]) if "prune" in f else 0)
    check(published and p0.poll() is None and not any(decided_alone),
          f"shard 0 alone published its rung-1 records and waits undecided "
          f"({published}, running {p0.poll() is None}, rows {max(decided_alone)})")
    procs = [p0, shard(1)]  # shard 1 slowed down
    outs = [p.communicate(timeout=600) for p in procs]
    check(all(p.returncode == 0 for p in procs),
          f"shards exit 0: {[p.returncode for p in procs]} {[o[1][-1500:] for o in outs]}")
    merged = os.path.join(sd, "merged.h5")
    rc, _, se = xfer("merge", merged, os.path.join(sd, "s0.h5"), os.path.join(sd, "s1.h5"))
    check(rc == 0, f"merge exits 0: {se[-500:]}")
    check(rows(merged) == want_rows and rows(os.path.join(sd, "s0.h5")) == want_rows,
          f"shards decide as the unsharded run:\n{rows(merged)}")
    ms = sources(merged)
    check({n: ms[n]["status"] for n in NAMES} == {n: got[n]["status"] for n in NAMES} and
          all(ms[n]["curve"] == got[n]["curve"] for n in NAMES),
          "merged shards: statuses and curves of the unsharded pruned sweep")
    recs = os.listdir(os.path.join(sd, "prune"))
    check(len(recs) == 1, f"one records folder for the experiment: {recs}")

    # ---- scope: shard: each shard decides over its own sources ---------------------------------
    sc = os.path.join(tmp, "scope")
    cfg = write(sc, "c.yaml", SH.replace("}", ", scope: shard}"))
    p = run(cfg, "--quiet", "--shard", "0/2", "--output", os.path.join(sc, "s0.h5"))
    p.communicate(timeout=600)
    r0 = rows(os.path.join(sc, "s0.h5"))
    with h5py.File(os.path.join(sc, "s0.h5"), "r") as f:
        mine = set(f["sources"])
    check(p.returncode == 0 and r0 and {r[2] for r in r0} == mine and len(mine) < len(NAMES) and
          not os.path.exists(os.path.join(sc, "prune")),
          f"scope shard: decided over this shard's sources alone: {r0}")
    # ---- a source that failed before rung 1 stays out of the decided rungs --------------------
    lo = os.path.join(tmp, "late")
    weights = os.path.join(lo, "late.safetensors")
    with open(os.path.join(tmp, "classes.txt"), "w") as f:
        f.write("a\nb\nc\n")
    late = SOURCES + (f"\n  - {{name: late, arch: resnet18, width: 0.125, weights: {weights}, "
                      f"classes: {os.path.join(tmp, 'classes.txt')}}}")
    os.makedirs(lo)
    with open(weights, "wb") as f:
        f.write(b"not a safetensors file")
    lcfg = os.path.join(lo, "c.yaml")
    with open(lcfg, "w") as f:
        f.write(CONFIG.format(out=os.path.join(lo, "results.h5"), sources=late, prune=SH))
    p = run(lcfg, "--quiet")
    _, se = p.communicate(timeout=600)
    check(p.returncode == 2 and rows(os.path.join(lo, "results.h5")) == want_rows,
          f"bad weights: exit 2, the others pruned as without it: {p.returncode} {se[-300:]}")
    # the weights appear (a 3-class network of the same arch): the source scores, but every rung
    # was decided without it
    shutil.copy(os.path.join(sh_dir, "checkpoints", "results", f"{survivors[0]}.best.safetensors"),
                weights)
    p = run(lcfg, "--quiet")
    _, se = p.communicate(timeout=600)
    with h5py.File(os.path.join(lo, "results.h5"), "r") as f:
        g = f["sources/late"]
        st, er, n = g.attrs["status"], g.attrs["error"], len(g["curve/epoch"])
    check(p.returncode == 4 and st == "failed" and "decided without it" in er and n == 0 and
          rows(os.path.join(lo, "results.h5")) == want_rows,
          f"rerun: late source left out of the decided rungs ({p.returncode} {st} {er} {n})")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
