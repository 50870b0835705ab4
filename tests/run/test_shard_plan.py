"""`--shard I/N` planning (src/run/shard_plan.c, estimate.c) through `xfer validate --shards N` and
`xfer run --shard`: every source in exactly one shard, a chain with its parent, shares that follow
the documented cost model (here: sources differing only in width cost width^2 each), the
least-loaded placement where round-robin would be lopsided; and xfer's default thread count from
the CPU affinity mask and SLURM_CPUS_PER_TASK (xfer info)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
from xfertest import XFER, check, finish, xfer  # noqa: E402

HEAD = """experiment: plan
seed: 1
device: cpu
datasets:
  shapes:
    kind: synthetic
    synthetic: {classes: 3, per_class: 8, size: 24, seed: 1}
    image_size: 24
    cache_size: 24
target:
  dataset: shapes
  finetune: {epochs: 1, batch_size: 8}
scores: [leep]
sources:
"""


def plan(path, n, *extra):
    rc, so, se = xfer("validate", path, "--shards", str(n), *extra)
    shards = {}
    for m in re.finditer(r"^shard (\d+)/(\d+): \d+ sources? \(([^)]*)\), estimated cost (\d+)%", so, re.M):
        shards[int(m.group(1))] = (m.group(3).split(", ") if m.group(3) else [], int(m.group(4)))
    return rc, so + se, shards


tmp = tempfile.mkdtemp(prefix="xfer-plan-")
try:
    # widths 2,1,2,1,1,1 cost 4,1,4,1,1,1: round-robin over 2 shards gives 9 vs 3 (75%/25%);
    # largest first onto the least loaded gives 6 vs 6, the two wide sources apart
    widths = [0.5, 0.25, 0.5, 0.25, 0.25, 0.25]
    cfg = os.path.join(tmp, "w.yaml")
    with open(cfg, "w") as f:
        f.write(HEAD + "".join(f"  - {{name: s{i}, arch: resnet18, width: {w}, weights: random}}\n"
                               for i, w in enumerate(widths)))
    rc, out, shards = plan(cfg, 2)
    check(rc == 0 and sorted(shards) == [0, 1], f"validate --shards 2: {rc} {out}")
    if sorted(shards) == [0, 1]:
        names = sorted(shards[0][0] + shards[1][0])
        check(names == [f"s{i}" for i in range(6)], f"every source in one shard: {names}")
        check([shards[0][1], shards[1][1]] == [50, 50], f"balanced 50/50: {out}")
        check(("s0" in shards[0][0]) != ("s2" in shards[0][0]), f"the wide sources apart: {out}")
    # 3 shards: costs 4,4,1,1,1,1 -> 4 | 4 | 1+1+1+1 = 33% each; percentages from the model
    rc, out, shards = plan(cfg, 3)
    check(rc == 0 and [shards.get(i, (0, -1))[1] for i in range(3)] == [33, 33, 33],
          f"3 shards 4|4|4: {out}")
    # more shards than sources: the extra shards are empty, and xfer run says so
    rc, out, shards = plan(cfg, 8)
    check(rc == 0 and sum(len(s[0]) for s in shards.values()) == 6
          and sum(1 for s in shards.values() if not s[0]) == 2, f"8 shards, 6 sources: {out}")

    # a chain (c2 from c1 from c0) and two sources built from one parent (d1, d2 from d0) each stay
    # in one shard, whatever N
    def built(name, parent):
        return (f"  - name: {name}\n    arch: resnet18\n    width: 0.25\n"
                f"    train: {{from: {parent}, dataset: shapes, epochs: 1, batch_size: 8}}\n")

    def rand(name):
        return f"  - {{name: {name}, arch: resnet18, width: 0.25, weights: random}}\n"

    chain = (HEAD + built("c0", "random") + built("c1", "c0") + rand("r0") + built("c2", "c1") +
             built("d0", "random") + rand("r1") + built("d1", "d0") + built("d2", "d0"))
    cfgc = os.path.join(tmp, "chain.yaml")
    with open(cfgc, "w") as f:
        f.write(chain)
    for n in (2, 3, 4):
        rc, out, shards = plan(cfgc, n)
        where = {s: k for k, (names, _) in shards.items() for s in names}
        check(rc == 0 and len(where) == 8, f"{n} shards: all 8 sources placed: {out}")
        check(len({where.get(s) for s in ("c0", "c1", "c2")}) == 1, f"{n} shards: chain together: {out}")
        check(len({where.get(s) for s in ("d0", "d1", "d2")}) == 1, f"{n} shards: siblings together: {out}")

    # xfer run --shard prints its share and runs exactly the planned sources
    rc, out, shards = plan(cfgc, 3)
    k = next((k for k, (names, _) in shards.items() if "r0" in names), None)
    res = os.path.join(tmp, "out", "shard.h5")
    rc, so, se = xfer("run", cfgc, "--shard", f"{k}/3", "--output", res, "--no-plots")
    check(rc == 0, f"run --shard {k}/3: {rc} {se[-1500:]}")
    check(re.search(rf"xfer: shard {k}/3: .*estimated cost \d+% of the experiment", se) is not None,
          f"run --shard prints its share: {se[:600]}")
    with h5py.File(res, "r") as f:
        ran = sorted(f["sources"])
    check(ran == sorted(shards[k][0]), f"shard {k} ran its planned sources {shards[k][0]}: {ran}")
    check(os.path.exists(os.path.join(tmp, "out", "shard.report.md"))
          and not os.path.exists(os.path.join(tmp, "out", "report.md")),
          "a shard's report is <stem>.report.md, report.md is left to the merge")

    # default threads: the affinity mask, capped by SLURM_CPUS_PER_TASK; OMP_NUM_THREADS wins
    def default_threads(env, pre=()):
        e = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK")}
        e.update(env)
        r = subprocess.run([*pre, XFER, "info"], capture_output=True, text=True, env=e)
        m = re.search(r"^default threads: (\d+)", r.stdout, re.M)
        return int(m.group(1)) if m else None
    ncpu = len(os.sched_getaffinity(0))
    check(default_threads({}) == ncpu, f"default = CPUs in the affinity mask ({ncpu})")
    check(default_threads({"SLURM_CPUS_PER_TASK": "1"}) == 1, "SLURM_CPUS_PER_TASK=1 caps it")
    check(default_threads({"SLURM_CPUS_PER_TASK": "999"}) == ncpu, "never above the mask")
    check(default_threads({"OMP_NUM_THREADS": "3"}) == 0, "OMP_NUM_THREADS: OpenMP decides")
    if shutil.which("taskset") and ncpu > 1:
        check(default_threads({}, ("taskset", "-c", "0")) == 1, "taskset -c 0: 1 thread")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
