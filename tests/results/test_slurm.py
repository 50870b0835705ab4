"""scripts/slurm with stand-ins for what a real cluster cannot show (tests/slurm/test_cluster.py runs
the real one): submit.sh's sbatch options (resources on the array and the merge, --gres=none, logs
in the output directory, afterany, --shards), its refusals before queueing (checked against a
stand-in sinfo: a GPU where the partition has none, more CPUs or memory than a node has, a bad
--shards), the array cancelled when the merge is refused; sweep.sbatch's exit-code mapping (4 -> 0,
other failures kept), index checks and thread count (a stand-in xfer that writes the shard through
results_tool); merge.sbatch with the real xfer: the merge equals the unsharded file, and an
unfinished or missing shard is named with the command that resumes it."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import h5py
import numpy as np

TOOL = sys.argv[1]
XFER = os.environ["XFER"]
SRC = os.environ["XFER_SOURCE_DIR"]
SLURM = os.path.join(SRC, "scripts", "slurm")
PASSED = FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


def script(path, body):
    with open(path, "w") as f:
        f.write(body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


def main():
    if not shutil.which("bash"):
        print("skipped: no bash")
        return 77
    tmp = tempfile.mkdtemp(prefix="xfer_slurm_")
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    log = os.path.join(tmp, "calls.log")
    fake_xfer = os.path.join(tmp, "xfer")
    script(fake_xfer, """#!/bin/bash
echo "xfer $*" >> "%s"
if [ "$1" = validate ]; then
    echo "shard 0/3: 1 source (a), estimated cost 40%% of the experiment (1.0 GMAC)"
    echo "estimate: memory_mb=300 device=${FAKE_DEVICE:-cpu}"
    echo "ok: 1 dataset, 3 sources, 1 score"
    exit 0
fi
if [ "$1" = run ]; then
    shard= out=
    while [ $# -gt 0 ]; do
        case $1 in --shard) shard=$2; shift;; --output) out=$2; shift;; esac; shift
    done
    i=${shard%%/*}
    inc=; [ "$i" = "${FAKE_INCOMPLETE:-x}" ] && inc=--incomplete
    "%s" write "$out" --shard "$shard" $inc || exit 1
    [ "$i" = 1 ] && exit 4   # shard 1: some sources failed
    [ "$i" = "${FAKE_FAIL:-x}" ] && exit 3
    exit 0
fi
exec "%s" "$@"
""" % (log, TOOL, XFER))
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir)
    script(os.path.join(bindir, "sbatch"), """#!/bin/bash
n=$(grep -c '^sbatch' "%s")
echo "sbatch $* XFER_SHARDS=$XFER_SHARDS" >> "%s"
[ -n "$FAKE_REFUSE_MERGE" ] && [ "$n" = 1 ] && { echo "sbatch: error: invalid partition" >&2; exit 1; }
echo "$((1001 + n));cluster"
""" % (log, log))
    script(os.path.join(bindir, "scancel"), """#!/bin/bash
echo "scancel $*" >> "%s"
""" % log)
    script(os.path.join(bindir, "sinfo"), """#!/bin/bash
echo "debug* 2 4000 ${FAKE_GRES:-(null)}"
echo "big 64 256000 gpu:4"
""")
    config = os.path.join(tmp, "exp.yaml")
    with open(config, "w") as f:
        f.write("target: fake\n")
    out = os.path.join(tmp, "out")
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], XFER_BIN=fake_xfer)

    def submit(*args, **extra_env):
        if os.path.exists(log):
            os.remove(log)
        r = subprocess.run(["bash", os.path.join(SLURM, "submit.sh"), config, "3", out, *args],
                           capture_output=True, text=True, env=dict(env, **extra_env), cwd=tmp)
        calls = open(log).read().splitlines() if os.path.exists(log) else []
        return r, [c for c in calls if not c.startswith("xfer ")], calls

    r, calls, allc = submit("--account", "lab", "--", "--qos=high")
    check(r.returncode == 0, "submit.sh exit 0: " + r.stderr)
    check(any(c.startswith("xfer validate --strict --shards 3 " + config) for c in allc),
          "validated before queueing, absolute config path: %s" % allc)
    check(len(calls) == 2, "two sbatch calls: %s" % calls)
    if len(calls) == 2:
        a, m = calls
        for opt in ("--array=0-2", "--cpus-per-task=2", "--mem=512M", "--gres=none",
                    "--account=lab", "--qos=high", "--chdir=" + tmp,
                    "--output=%s/logs/sweep-%%A_%%a.log" % out, "XFER_SHARDS=3"):
            check(opt in a.split(), "array has %s: %s" % (opt, a))
        check(a.split()[-2].endswith("sweep.sbatch"), "array runs sweep.sbatch: " + a)
        for opt in ("--dependency=afterany:1001", "--cpus-per-task=1", "--gres=none",
                    "--account=lab", "--qos=high", "--output=%s/logs/merge-%%j.log" % out):
            check(opt in m.split(), "merge has %s: %s" % (opt, m))
        check(m.split()[-2].endswith("merge.sbatch"), "merge runs merge.sbatch: " + m)
    check("merge job 1002" in r.stdout and "array job 1001" in r.stdout, "ids printed: " + r.stdout)
    check(os.path.isfile(os.path.join(out, "logs", "submit-1001.txt")), "submission record")

    # device auto on a partition with gpu gres: one GPU by default; --gpus 0 -> --gres=none
    r, calls, _ = submit(FAKE_DEVICE="auto", FAKE_GRES="gpu:2")
    check(r.returncode == 0 and calls and "--gres=gpu:1" in calls[0].split(), "auto + gpu gres: %s" % calls)
    r, calls, _ = submit("--gpus", "0", "--cpus", "1", "--mem", "2G", "--time", "01:00:00",
                         FAKE_DEVICE="cuda", FAKE_GRES="gpu:2")
    check(r.returncode == 0 and calls and all(o in calls[0].split() for o in (
        "--gres=none", "--cpus-per-task=1", "--mem=2G", "--time=01:00:00")), "explicit: %s" % calls)
    r, calls, _ = submit("--partition", "big", "--cpus", "16", FAKE_DEVICE="cuda")
    check(r.returncode == 0 and calls and all("--partition=big" in c.split() for c in calls)
          and "--gres=gpu:1" in calls[0].split(), "partition on both jobs: %s" % calls)

    # refused before anything is queued
    for args, env_extra, word in ((["--gpus", "1"], {}, "no GPU gres"),
                                  (["--cpus", "8"], {}, "has 2 CPUs"),
                                  (["--mem", "8G"], {}, "4000 MB"),
                                  (["--shards", "3"], {}, "not a shard"),
                                  (["--shards", "1,1"], {}, "repeats"),
                                  (["--partition", "nope"], {}, "no partition"),
                                  (["--bogus"], {}, "unknown option"),
                                  ([], {"FAKE_DEVICE": "cuda"}, "no GPU gres")):
        r, calls, _ = submit(*args, **env_extra)
        check(r.returncode == 2 and word in r.stderr and not calls,
              "%s %s refused (%s): rc %d %s %s" % (args, env_extra, word, r.returncode, r.stderr, calls))
    r = subprocess.run(["bash", os.path.join(SLURM, "submit.sh"), config, "zero"],
                       capture_output=True, text=True, env=env)
    check(r.returncode == 2, "bad N refused")

    # the merge refused: the array is cancelled, nothing is left to run without its merge
    r, calls, allc = submit("--", "--partition=bad", FAKE_REFUSE_MERGE="1")
    check(r.returncode != 0 and "scancel 1001" in allc and "cancelled" in r.stderr,
          "merge refused -> array cancelled: %s %s" % (allc, r.stderr))

    # --shards: the array's indices are the shard indices of the N-way split
    r, calls, _ = submit("--shards", "0,2")
    check(r.returncode == 0 and calls and "--array=0,2" in calls[0].split()
          and "XFER_SHARDS=3" in calls[0].split(), "--shards 0,2: %s" % calls)
    check("shard 1 has no file" in r.stderr, "warns about a shard neither present nor re-run: " + r.stderr)

    # ---- the array tasks, as Slurm runs them ----------------------------------------------
    os.remove(log)
    base = dict(os.environ, XFER_CONFIG=config, XFER_OUT=out, XFER_BIN=fake_xfer, XFER_SHARDS="3",
                SLURM_CPUS_PER_TASK="2")

    def task(i, **e):
        return subprocess.run(["bash", os.path.join(SLURM, "sweep.sbatch")], capture_output=True,
                              text=True, env=dict(base, SLURM_ARRAY_TASK_ID=str(i), **e))
    for i in (0, 1, 2):
        r = task(i)
        check(r.returncode == 0, "task %d exit 0 (exit 4 mapped to 0): %s" % (i, r.stderr))
    calls = open(log).read().splitlines()
    want = ["xfer run %s --shard %d/3 --output %s/shard-%d-of-3.h5 --threads 2" % (config, i, out, i)
            for i in range(3)]
    check(calls == want, "xfer run calls (threads from SLURM_CPUS_PER_TASK): %s" % calls)
    r = task(2, FAKE_FAIL="2")
    check(r.returncode == 3, "a failing xfer run (exit 3) fails the task: %d" % r.returncode)
    r = task(3)
    check(r.returncode == 2 and "not a shard" in r.stderr, "index 3 of 3 refused: " + r.stderr)
    r = subprocess.run(["bash", os.path.join(SLURM, "sweep.sbatch")], capture_output=True,
                       text=True, env=dict(base, SLURM_ARRAY_TASK_ID="0", XFER_SHARDS=""))
    check(r.returncode != 0 and "XFER_SHARDS" in r.stderr, "XFER_SHARDS required: " + r.stderr)

    # ---- the merge, with the real xfer --------------------------------------------------------
    # the fixture has one source left `scored` (in shard 0): merge it anyway to compare
    menv = dict(base, XFER_BIN=XFER, XFER_SCRIPTS=os.path.join(SRC, "scripts"),
                XFER_RESUME="submit.sh exp.yaml 3 out")
    r = subprocess.run(["bash", os.path.join(SLURM, "merge.sbatch")], capture_output=True,
                       text=True, env=dict(menv, XFER_MERGE_UNFINISHED="1"))
    check(r.returncode == 0, "merge.sbatch exit 0: " + r.stderr[-1500:])
    full = os.path.join(tmp, "full.h5")
    subprocess.run([TOOL, "write", full], check=True)
    merged = os.path.join(out, "results.h5")
    with h5py.File(full, "r") as a, h5py.File(merged, "r") as b:
        check(sorted(a["sources"]) == sorted(b["sources"]), "all sources merged")
        for m in a["correlations"]:
            for k in ("kendall", "weighted_tau", "pearson"):
                check(np.float64(a["correlations"][m].attrs[k]) ==
                      np.float64(b["correlations"][m].attrs[k]), "corr %s %s" % (m, k))
    check(os.path.getsize(os.path.join(out, "report.md")) > 0, "report.md written")
    check(os.path.isfile(os.path.join(out, "scatter_emd.png")), "plots next to results.h5")

    # an unfinished shard (sources left pending), then a missing one: named, with the resume command
    os.remove(merged)
    r = task(2, FAKE_INCOMPLETE="2")
    check(r.returncode == 0, "incomplete shard written")
    r = subprocess.run(["bash", os.path.join(SLURM, "merge.sbatch")], capture_output=True,
                       text=True, env=menv)
    check(r.returncode == 2 and "shard(s) 0 2 did not finish" in r.stderr
          and "submit.sh exp.yaml 3 out --shards 0,2" in r.stderr and not os.path.exists(merged),
          "unfinished shards 0 (scored) and 2 (pending) named: %d %s" % (r.returncode, r.stderr))
    os.remove(os.path.join(out, "shard-0-of-3.h5"))
    r = subprocess.run(["bash", os.path.join(SLURM, "merge.sbatch")], capture_output=True,
                       text=True, env=menv)
    check(r.returncode == 2 and "no file for shard(s) 0" in r.stderr and "--shards 0" in r.stderr,
          "missing shard 0 named: %s" % r.stderr)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
