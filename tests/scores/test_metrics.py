#!/usr/bin/python3
"""`xfer metrics` against independent float64 references (refs.py, written from the published
formulas; POT for the EMD score), on random and on structured data; invariances; error cases."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refs  # noqa: E402

XFER = os.environ.get("XFER") or sys.argv[1]
passed = failed = 0
RTOL = 1e-6


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def close(a, b, what, rtol=RTOL, atol=1e-12):
    check(a is not None and abs(a - b) <= atol + rtol * abs(b), f"{what}: xfer {a!r} vs ref {b!r}")


def write(path, **arrays):
    with h5py.File(path, "w") as h:
        for k, v in arrays.items():
            if isinstance(v, list):
                h.create_dataset(k, data=np.array(v, dtype=h5py.string_dtype()))
            else:
                h.create_dataset(k, data=v)


def run(path, *args, threads=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    r = subprocess.run([XFER, "metrics", path, "--format", "json", *args], capture_output=True,
                       text=True, timeout=120, env=env)
    out = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None
    return r.returncode, out, r.stderr


def make(rng, n, d, cs, ct, sep):
    """Features: class means scaled by sep plus noise; probs: softmax of logits correlated with the
    class through a random source-to-target map."""
    y = np.arange(n) % ct
    rng.shuffle(y)
    means = rng.normal(size=(ct, d))
    f = sep * means[y] + rng.normal(size=(n, d)) + 3.0  # non-zero mean on purpose
    src_of = rng.integers(0, cs, size=ct)
    logits = rng.normal(size=(n, cs))
    logits[np.arange(n), src_of[y]] += 2.0 * sep
    D = rng.uniform(0.5, 3.0, size=(cs, ct))
    return f, logits, y, D


def references(f, p, y, ct, D):
    return {
        "softmax_max": refs.softmax_max(p),
        "emd": refs.emd(p, y, D),
        "leep": refs.leep(p, y, ct),
        "nce": refs.nce(p, y, ct),
        "hscore": refs.hscore(f, y),
        "hscore_reg": refs.hscore_reg(f, y),
        "logme": refs.logme(f, y, ct),
        "gbc": refs.gbc(f, y, ct),
        "transrate": refs.transrate(f, y, ct),
        "sfda": refs.sfda(f, y),
        "nleep": refs.nleep(f, y, ct),
        "parc": refs.parc(f, y),
    }


def main():
    rng = np.random.default_rng(5)
    tmp = tempfile.mkdtemp(prefix="xfer_metrics_")
    results = {}
    for label, n, d, cs, ct, sep in [("random", 240, 12, 9, 4, 0.0), ("structured", 300, 20, 15, 5, 1.5),
                                     ("N<D", 60, 80, 7, 3, 1.0)]:
        f, logits, y, D = make(rng, n, d, cs, ct, sep)
        p = refs.softmax(logits)
        path = os.path.join(tmp, f"{label}.h5")
        write(path, features=f.astype(np.float32), logits=logits, labels=y.astype(np.int64),
              ground_distance=D)
        f32 = f.astype(np.float32).astype(np.float64)
        rc, out, err = run(path)
        check(rc == 0, f"{label}: exit {rc}: {err}")
        if rc != 0:
            continue
        ref = references(f32, p, y, ct, D)
        results[label] = out
        for name, v in ref.items():
            if label == "N<D" and name in ("hscore",):
                continue  # the pseudo-inverse of a singular covariance depends on rounding
            close(out.get(name, {}).get("value"), v, f"{label} {name}")
            check("seconds" in out.get(name, {}), f"{label} {name}: seconds printed")
        close(out["softmax_max"]["mean"], ref["softmax_max"] / n, f"{label} softmax_max mean")
        close(out["emd"]["mean"], ref["emd"] / n, f"{label} emd mean")
        # gbc spherical, transrate eps, nleep seed through --params
        rc, o2, err = run(path, "--metrics", "gbc,transrate,nleep",
                          "--params", "gbc.covariance=spherical,transrate.eps=0.01,nleep.seed=7")
        check(rc == 0, f"{label}: params run: {err}")
        if rc == 0:
            close(o2["gbc"]["value"], refs.gbc(f32, y, ct, spherical=True), f"{label} gbc spherical")
            close(o2["transrate"]["value"], refs.transrate(f32, y, ct, eps=0.01), f"{label} transrate eps")
            close(o2["nleep"]["value"], refs.nleep(f32, y, ct, seed=7), f"{label} nleep seed 7")
        rc, o5, err = run(path, "--metrics", "gbc", "--params", "gbc.covariance=spherical_google")
        check(rc == 0, f"{label}: gbc spherical_google: {err}")
        if rc == 0:
            close(o5["gbc"]["value"], refs.gbc(f32, y, ct, google=True), f"{label} gbc google")
        # the new metrics against float64 references of their authors' code (refs.py names them)
        rc, o6, err = run(path, "--metrics", "knn,tmi,pactran")
        check(rc == 0, f"{label}: knn, tmi, pactran: {err}")
        if rc == 0:
            close(o6["pactran"]["value"], refs.pactran(p, y), f"{label} pactran", rtol=1e-9)
            close(o6["knn"]["value"], refs.knn(f32, y), f"{label} knn", rtol=1e-12)
            close(o6["tmi"]["value"], refs.tmi(f32, y), f"{label} tmi", rtol=1e-9)
        rc, o7, err = run(path, "--metrics", "knn,tmi,pactran", "--params",
                          "knn.k=3,knn.distance=cosine,tmi.k=2,tmi.norm=euclidean,tmi.min_dist=0.5,"
                          "pactran.alpha=10")
        check(rc == 0, f"{label}: knn, tmi, pactran params: {err}")
        if rc == 0:
            close(o7["pactran"]["value"], refs.pactran(p, y, alpha=10), f"{label} pactran alpha 10",
                  rtol=1e-9)
            close(o7["knn"]["value"], refs.knn(f32, y, k=3, distance="cosine"), f"{label} knn cosine",
                  rtol=1e-12)
            close(o7["tmi"]["value"], refs.tmi(f32, y, k=2, norm="euclidean", min_dist=0.5),
                  f"{label} tmi euclidean", rtol=1e-9)
        rc, o4, err = run(path, "--metrics", "transrate", "--params", "transrate.variant=tllib")
        check(rc == 0, f"{label}: transrate tllib: {err}")
        if rc == 0:
            close(o4["transrate"]["value"], refs.transrate(f32, y, ct, variant="tllib"),
                  f"{label} transrate tllib")
        if label == "structured":
            import ot
            # The paper's EMD against POT's exact solver, sample by sample.
            tot = 0.0
            for i in range(n):
                tot += ot.emd2(p[i] / p[i].sum(), np.eye(ct)[y[i]], D)
            close(out["emd"]["value"], tot, "emd vs ot.emd2 summed", rtol=1e-6)
            # Invariances: permuting source classes (LEEP, NCE, softmax_max, emd with D permuted);
            perm = rng.permutation(cs)
            path2 = os.path.join(tmp, "perm.h5")
            A = rng.normal(size=(d, d)) + 3 * np.eye(d)
            write(path2, features=(f32 @ A), probs=p[:, perm], labels=y, ground_distance=D[perm])
            rc, o3, err = run(path2, "--metrics", "leep,nce,softmax_max,emd,hscore")
            check(rc == 0, f"invariance run: {err}")
            if rc == 0:
                for name in ("leep", "nce", "softmax_max", "emd"):
                    close(o3[name]["value"], out[name]["value"], f"{name} under source permutation", rtol=1e-9)
                close(o3["hscore"]["value"], out["hscore"]["value"], "hscore under invertible linear map", rtol=1e-6)

    # knn over several of its 256-row blocks (the sets above fit in one or two): random labels on
    # random features, so that the accuracy depends on every row's exact neighbours; N not a
    # multiple of the block
    kf = rng.normal(size=(1100, 8)).astype(np.float32)
    ky = rng.integers(0, 4, size=1100)
    kpath = os.path.join(tmp, "knn_blocks.h5")
    write(kpath, features=kf, labels=ky.astype(np.int64))
    for params, kw in (("knn.k=10", {}), ("knn.k=3,knn.distance=cosine", {"k": 3, "distance": "cosine"})):
        rc, ok, err = run(kpath, "--metrics", "knn", "--params", params)
        check(rc == 0, f"knn over blocks ({params}): {err}")
        if rc == 0:
            close(ok["knn"]["value"], refs.knn(kf.astype(np.float64), ky, **kw),
                  f"knn over 5 blocks, random labels ({params})", rtol=1e-12)

    # nleep over several of its 512-row E/M blocks (the sets above fit in one): N not a multiple
    # of the block; its own generator, so the data of the checks below stay as they were
    rng3 = np.random.default_rng(23)
    ny = np.arange(1100) % 4
    nf = (1.5 * rng3.normal(size=(4, 6))[ny] + rng3.normal(size=(1100, 6))).astype(np.float32)
    npath = os.path.join(tmp, "nleep_blocks.h5")
    write(npath, features=nf, labels=ny.astype(np.int64))
    rc, on, err = run(npath, "--metrics", "nleep")
    check(rc == 0, f"nleep over blocks: {err}")
    if rc == 0:
        close(on["nleep"]["value"], refs.nleep(nf.astype(np.float64), ny, 4),
              "nleep over 3 row blocks (N = 1100)", rtol=1e-9)
    # etran's terms over its 512-row blocks (one source: the terms, not the pooled value)
    rc, oe, err = run(npath, "--metrics", "etran")
    check(rc == 0, f"etran over blocks: {err}")
    if rc == 0:
        for q, v in enumerate(refs.etran_terms(nf.astype(np.float64), ny)):
            close(oe["etran"]["terms"][q], v, f"etran term {q} over 3 row blocks (N = 1100)", rtol=1e-9)

    # Structured (separable) data scores better than random features for the feature metrics.
    if "random" in results and "structured" in results:
        rng2 = np.random.default_rng(11)
        n, d, cs, ct = 300, 20, 15, 5
        y = np.arange(n) % ct
        means = rng2.normal(size=(ct, d))
        good = 2.0 * means[y] + rng2.normal(size=(n, d))
        bad = rng2.normal(size=(n, d))
        pg = os.path.join(tmp, "good.h5")
        pb = os.path.join(tmp, "bad.h5")
        write(pg, features=good, labels=y)
        write(pb, features=bad, labels=y)
        rcg, og, _ = run(pg)
        rcb, ob, _ = run(pb)
        check(rcg == 0 and rcb == 0, "separable/random runs")
        if rcg == 0 and rcb == 0:
            for name in ("hscore", "hscore_reg", "logme", "gbc", "transrate", "sfda", "nleep", "parc"):
                check(og[name]["value"] > ob[name]["value"],
                      f"{name}: separable {og[name]['value']} > random {ob[name]['value']}")
            check("softmax_max" not in og, "default metrics: only those whose inputs are present")

    thread_count(tmp)
    pool_level(tmp, rng)
    ncti_pool_level(tmp, rng)
    emms_checks(tmp, rng)
    errors(tmp, rng)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def thread_count(tmp):
    """Every metric gives the same bits with 1, 2 and 3 threads, on an input large enough for
    several of knn's Gram tiles (256 x 1024; 15 here), xfer_gram's row chunks (1024 rows: 2 here),
    the PCA projection's and nleep's 512-row blocks; knn also against its reference."""
    rng = np.random.default_rng(31)
    n, d, ct = 2200, 300, 6
    y = np.arange(n) % ct
    f = (0.7 * rng.normal(size=(ct, d))[y] + rng.normal(size=(n, d))).astype(np.float32)
    logits = rng.normal(size=(n, 9))
    path = os.path.join(tmp, "threads.h5")
    write(path, features=f, logits=logits, labels=y.astype(np.int64),
          ground_distance=rng.uniform(0.5, 3.0, size=(9, ct)), label_embedding=rng.normal(size=(ct, 5)))
    outs = {}
    for t in (1, 2, 3):
        rc, o, err = run(path, threads=t)
        check(rc == 0, f"threads {t}: {err}")
        if rc == 0:
            outs[t] = {m: (v["value"], v.get("terms")) for m, v in o.items()}
    if 1 in outs:
        check(len(outs[1]) == 18, f"threads: every metric ran ({sorted(outs[1])})")
        close(outs[1]["knn"][0], refs.knn(f.astype(np.float64), y), "knn over 15 Gram tiles",
              rtol=1e-12)
        # the blocked paths against their references at this size: the covariance and the class
        # sums in 2 chunks of 512-row blocks (PCA for ncti, emms), xfer_gram's chunks (hscore,
        # logme), etran's and pactran's class-parallel loops, the tall QR (ncti's LDA)
        f64, pr = f.astype(np.float64), refs.softmax(logits)
        with h5py.File(path, "r") as h:
            emb = h["label_embedding"][()]
        for name, v in (("hscore", refs.hscore(f64, y)), ("logme", refs.logme(f64, y, ct)),
                        ("emms", refs.emms(f64, y, emb)), ("pactran", refs.pactran(pr, y))):
            close(outs[1][name][0], v, f"{name} at N={n}, D={d} (blocked paths)", rtol=1e-9)
        for name, v, qs in (("ncti", refs.ncti_terms(f64, y)[0], (0, 2)),
                            ("etran", refs.etran_terms(f64, y), (0, 1))):
            for q in qs:
                close(outs[1][name][1][q], v[q], f"{name} term {q} at N={n}, D={d} (blocked paths)",
                      rtol=1e-9)
        for t in (2, 3):
            if t in outs:
                differ = [m for m in outs[1] if outs[t].get(m) != outs[1][m]]
                check(not differ, f"{t} threads vs 1: {differ} differ: " +
                      ", ".join(f"{m} {outs[t].get(m)} vs {outs[1][m]}" for m in differ))


def check_pool(paths, metric, terms, pooled):
    """`xfer metrics` over several sources' files: each file's terms against the reference's
    (1e-9 relative) and the values pooled over the files against the reference's pool."""
    r = subprocess.run([XFER, "metrics", *paths, "--metrics", metric, "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{metric} over {len(paths)} inputs: {r.stderr}")
    if r.returncode != 0:
        return False
    out = json.loads(r.stdout)
    for p, t, v in zip(paths, terms, pooled):
        o = out[p][metric]
        check(len(o["terms"]) == len(t), f"{metric}: {len(o['terms'])} terms")
        for q in range(len(t)):
            close(o["terms"][q], t[q], f"{metric} term {q} of {os.path.basename(p)}", rtol=1e-9)
        close(o["value"], v, f"{metric} pooled", rtol=1e-9, atol=1e-12)
    return True


def pool_level(tmp, rng):
    """etran over several sources' files at once: the per-source terms against the reference
    of the released code, the pooled values against tw.py's combination."""
    n, ct = 400, 5
    y = np.arange(n) % ct
    rng.shuffle(y)
    paths, terms = [], []
    for s_, (d, sep) in enumerate([(16, 0.5), (24, 1.5), (12, 1.0), (20, 0.2)]):
        means = rng.normal(size=(ct, d))
        f = sep * means[y] + rng.normal(size=(n, d)) * (1 + 0.2 * s_)
        p = os.path.join(tmp, f"pool{s_}.h5")
        write(p, features=f.astype(np.float32), labels=y)
        paths.append(p)
        terms.append(refs.etran_terms(f.astype(np.float32).astype(np.float64), y))
    if not check_pool(paths, "etran", terms, refs.etran_pool(terms)):
        return
    r = subprocess.run([XFER, "metrics", paths[0], "--metrics", "etran", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    o = json.loads(r.stdout)["etran"] if r.returncode == 0 else {}
    check(o.get("value") == 0 and len(o.get("terms", [])) == 2,
          f"etran of one source: every term normalises to 0 ({o})")
    r = subprocess.run([XFER, "metrics", *paths[:2], "--metrics", "etran"], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0 and r.stdout.count("| etran |") == 2 and "@POOL" not in r.stdout,
          f"md tables of two inputs: {r.stdout!r}")


def ncti_pool_level(tmp, rng):
    """ncti over five sources' files: the per-source terms against the reference of
    BUserName/NCTI metrics.py NCTI_Score (refs.ncti_terms; both of its LDA solvers, PCA truncation
    D > 64, unequal classes), the reference itself against sklearn's LDA as the published code
    calls it, the pooled values against evaluate_metric_group1_cpu.py's combination."""
    n, ct = 300, 5
    y = np.concatenate([np.arange(n - 40) % ct, np.zeros(40, dtype=int)])
    rng.shuffle(y)
    paths, terms, solvers = [], [], set()
    for s_, (d, sep, scale) in enumerate([(16, 0.5, 0.2), (24, 1.5, 1.0), (80, 1.0, 1.5),
                                          (12, 1.0, 0.4), (20, 0.2, 3.0)]):
        means = rng.normal(size=(ct, d))
        f = (sep * means[y] + rng.normal(size=(n, d))) * scale + 1.0
        p = os.path.join(tmp, f"ncti{s_}.h5")
        write(p, features=f.astype(np.float32), labels=y)
        paths.append(p)
        f32 = f.astype(np.float32).astype(np.float64)
        t, solver = refs.ncti_terms(f32, y)
        solvers.add(solver)
        ts, _ = refs.ncti_terms(f32, y, use_sklearn=True)
        for q in range(3):
            close(t[q], ts[q], f"ncti reference vs sklearn's LDA ({solver}) term {q}", rtol=1e-9)
        terms.append(t)
    check(solvers == {"eigen", "svd"}, f"ncti test covers both LDA solvers: {solvers}")
    check_pool(paths, "ncti", terms, refs.ncti_pool(terms))
    rc, o, err = run(paths[2], "--metrics", "ncti", "--params", "ncti.pca_dim=10")
    check(rc == 0, f"ncti pca_dim 10: {err}")
    if rc == 0:
        f = h5py.File(paths[2], "r")["features"][()].astype(np.float64)
        t, _ = refs.ncti_terms(f, y, pca_dim=10)
        for q in range(3):
            close(o["ncti"]["terms"][q], t[q], f"ncti pca_dim 10 term {q}", rtol=1e-9)


def emms_checks(tmp, rng):
    """emms against the reference of OpenGVLab/Multitask-Model-Selector metrics.py EMMS (one
    label embedding: refs.emms), with label_embedding given, and with the class vectors built from
    target_classes and a .vec file; errors."""
    for n, d, ct, e, sep in [(300, 20, 5, 7, 1.0), (240, 12, 4, 30, 0.0), (500, 64, 10, 50, 0.7),
                             (60, 80, 3, 5, 1.0)]:
        y = np.concatenate([np.arange(n - 30) % ct, np.full(30, 1)])
        rng.shuffle(y)
        f = sep * rng.normal(size=(ct, d))[y] + rng.normal(size=(n, d)) + 2.0
        f[:, 3] = 0.0  # a dead feature: standardised to 0 as in the published code
        emb = rng.normal(size=(ct, e))
        p = os.path.join(tmp, "emms.h5")
        write(p, features=f.astype(np.float32), labels=y, label_embedding=emb)
        rc, o, err = run(p, "--metrics", "emms")
        check(rc == 0, f"emms N={n} D={d}: {err}")
        if rc != 0:
            continue
        ref = refs.emms(f.astype(np.float32).astype(np.float64), y, emb)
        if n > d:
            close(o["emms"]["value"], ref, f"emms N={n} D={d} E={e}", rtol=1e-9)
        else:  # the standardised features span the centred labels: 0 up to rounding
            close(o["emms"]["value"], ref, f"emms N={n} <= D={d}", rtol=0, atol=1e-9 * e * e)
    rc, o, _ = run(p)
    check(rc == 0 and "emms" in o, "emms runs by default when label_embedding is present")
    # the class vectors from the target classes' names and word vectors (sum of the words)
    words = {"cat": [1.0, 0.0, 2.0, 0.5], "dog": [0.5, 1.0, 0.0, -1.0],
             "red": [1.0, 1.0, 1.0, 0.0], "boot": [0.0, -2.0, 3.0, 1.0]}
    vec = os.path.join(tmp, "emms.vec")
    with open(vec, "w") as fh:
        fh.write(f"{len(words)} 4\n")
        for w, v in words.items():
            fh.write(w + " " + " ".join(map(str, v)) + "\n")
    tgt = ["cat", "red boot", "dog", "red cat"]
    emb = np.array([np.sum([words[w] for w in t.split()], axis=0) for t in tgt])
    n, d = 200, 10
    y = np.arange(n) % 4
    f = 0.8 * rng.normal(size=(4, d))[y] + rng.normal(size=(n, d))
    write(p, features=f, labels=y, target_classes=tgt)
    rc, o, err = run(p, "--metrics", "emms", "--word-vectors", vec)
    check(rc == 0, f"emms with --word-vectors: {err}")
    if rc == 0:
        close(o["emms"]["value"], refs.emms(f, y, emb), "emms from word vectors", rtol=1e-9)
    expect_error(p, ["--metrics", "emms"], "emms needs the target classes' word vectors",
                 "emms without vectors")
    write(p, features=f, labels=y, label_embedding=np.ones((4, 3)))
    expect_error(p, ["--metrics", "emms"], "emms: every target image has the same label vector",
                 "emms equal vectors")
    eb = rng.normal(size=(4, 3))
    eb[1, 2] = np.nan
    write(p, features=f, labels=y, label_embedding=eb)
    expect_error(p, ["--metrics", "emms"], "label_embedding[1,2] is NaN", "emms NaN vector")
    write(p, features=f, labels=y, label_embedding=eb[:3], target_classes=tgt)
    expect_error(p, [], "'label_embedding' has 3 rows but 'target_classes' has 4",
                 "emms embedding rows")


def expect_error(path, args, needle, what):
    r = subprocess.run([XFER, "metrics", path, *args], capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and needle in r.stderr,
          f"{what}: exit {r.returncode}, stderr {r.stderr.strip()!r} (want 2 and {needle!r})")


def errors(tmp, rng):
    n, d, cs, ct = 50, 6, 5, 3
    y = np.arange(n) % ct
    f = rng.normal(size=(n, d))
    p = refs.softmax(rng.normal(size=(n, cs)))
    D = rng.uniform(size=(cs, ct))
    e = os.path.join(tmp, "e.h5")
    fn = f.copy()
    fn[3, 2] = np.nan
    write(e, features=fn, labels=y)
    expect_error(e, [], "features[3,2] is NaN", "NaN features")
    pi = p.copy()
    pi[4, 1] = np.inf
    write(e, probs=pi, labels=y)
    expect_error(e, [], "probs[4,1] is infinite", "Inf probs")
    yb = y.copy()
    yb[7] = 9
    write(e, probs=p, labels=yb, ground_distance=D)
    expect_error(e, [], "labels[7] = 9 is out of range", "label out of range")
    write(e, features=f[:40], labels=y)
    expect_error(e, [], "'features' has 40 rows but 'labels' has 50", "shape mismatch")
    write(e, probs=p, labels=y, ground_distance=D[:4])
    expect_error(e, [], "'ground_distance' has 4 rows", "distance shape mismatch")
    y1 = y.copy()
    y1[:] = np.where(y == 2, 1, y)
    y1[0] = 2
    write(e, features=f, labels=y1)
    expect_error(e, ["--metrics", "gbc"], "gbc: target class 2 has 1 sample", "one-sample class")
    write(e, features=f, labels=y)
    expect_error(e, ["--metrics", "knn", "--params", "knn.k=50"], "knn: k = 50 needs more than k",
                 "knn k >= N")
    expect_error(e, ["--metrics", "tmi", "--params", "tmi.k=17"],
                 "tmi: no class has more than k = 17 samples", "tmi k too large")
    write(e, features=f, labels=np.zeros(n, dtype=np.int64))
    expect_error(e, ["--metrics", "ncti"], "ncti: needs two target classes, 1 present",
                 "ncti one class")
    write(e, features=f[:3], labels=np.arange(3))
    expect_error(e, ["--metrics", "ncti"], "ncti: needs more samples (3) than classes (3)",
                 "ncti N <= C")
    fz = f.copy()
    fz[5] = 0
    write(e, features=fz, labels=y)
    expect_error(e, ["--metrics", "knn", "--params", "knn.distance=cosine"],
                 "knn: features[5] is zero", "knn cosine zero row")
    write(e, probs=p, labels=y)
    expect_error(e, ["--metrics", "emd"], "emd needs a ground distance", "missing ground distance")
    expect_error(e, ["--metrics", "logme"], "logme needs features", "missing features")
    expect_error(e, ["--metrics", "nope"], "unknown metric 'nope'", "unknown metric")
    write(e, features=f, labels=y)
    expect_error(e, ["--params", "gbc.covariance=full"], "covariance = 'full'", "bad parameter value")
    expect_error(e, ["--params", "gbc.nope=1"], "unknown parameter 'nope'", "unknown parameter")
    expect_error(os.path.join(tmp, "missing.h5"), [], "cannot open", "missing file")
    write(e, features=f, labels=y.astype(np.float64))
    expect_error(e, [], "'labels' is not integer", "float labels")
    write(e, features=f, labels=y)
    expect_error(e, ["--metrics", "emd", "--word-vectors", "/nonexistent.vec"],
                 "needs 'source_classes' and 'target_classes'", "word vectors without class names")
    # Ground distance from class names and a fastText .vec file (sum of word vectors, L2).
    words = {"cat": [1.0, 0.0, 2.0], "dog": [0.5, 1.0, 0.0], "tabby": [0.0, 0.5, 0.5],
             "shirt": [2.0, 2.0, 0.0], "boot": [0.0, 0.0, 3.0], "red": [1.0, 1.0, 1.0]}
    vec = os.path.join(tmp, "w.vec")
    with open(vec, "w") as fh:
        fh.write(f"{len(words)} 3\n")
        for w, v in words.items():
            fh.write(w + " " + " ".join(map(str, v)) + "\n")
    src = ["tabby cat", "dog", "red shirt", "boot", "cat"]
    tgt = ["cat", "red boot", "shirt"]
    vs = np.array([np.sum([words[w] for w in n.split()], axis=0) for n in src])
    vt = np.array([np.sum([words[w] for w in n.split()], axis=0) for n in tgt])
    Dw = np.linalg.norm(vs[:, None, :] - vt[None, :, :], axis=2)
    # source names as variable-length UTF-8 strings (h5py's default), target names fixed-length
    write(e, probs=p, labels=y, source_classes=src, target_classes=np.array(tgt, dtype="S"))
    rc, o, err = run(e, "--metrics", "emd", "--word-vectors", vec)
    check(rc == 0, f"--word-vectors run: {err}")
    if rc == 0:
        close(o["emd"]["value"], refs.emd(p, y, Dw), "emd with word-vector ground distance")
    eb = os.path.join(tmp, "baselines.h5")
    # The baselines: scalar `params` / `prior` datasets are reported as they are, marked.
    write(eb, features=f, labels=y, params=np.int64(11689512), prior=np.float64(69.76))
    rc, o, err = run(eb)
    check(rc == 0 and o["params"] == {"value": 11689512, "kind": "baseline", "seconds": 0} and
          o["prior"]["value"] == 69.76 and o["prior"]["kind"] == "baseline", f"baselines: {o} {err}")
    rc, o, err = run(eb, "--metrics", "prior")
    check(rc == 0 and list(o) == ["prior"], f"--metrics prior: {o} {err}")
    write(eb, features=f, labels=y, prior=np.float64(np.nan))
    expect_error(eb, [], "dataset 'prior' is not one finite number", "NaN prior")
    write(eb, features=f, labels=y)
    expect_error(eb, ["--metrics", "params"], "the baseline params needs a scalar dataset 'params'",
                 "missing params")
    r = subprocess.run([XFER, "metrics", e, "--format", "md"], capture_output=True, text=True)
    check(r.returncode == 0 and "| leep |" in r.stdout and "| metric |" in r.stdout,
          f"md table: {r.stdout!r} {r.stderr!r}")


if __name__ == "__main__":
    sys.exit(main())
