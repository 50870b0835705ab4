"""scripts/slurm: submit.sh queues the array and an afterok merge (checked with a stand-in sbatch);
sweep.sbatch runs `xfer run CONFIG --shard I/N --output ...` per task (a stand-in xfer that writes
the shard through results_tool) and maps exit 4 to 0; merge.sbatch merges with the real xfer, and
the result equals the unsharded file."""
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
        log = os.path.join(tmp, "calls.log")
        fake_xfer = os.path.join(tmp, "xfer")
        script(fake_xfer, """#!/bin/bash
echo "xfer $*" >> "%s"
if [ "$1" = run ]; then
    shard= out=
    while [ $# -gt 0 ]; do
        case $1 in --shard) shard=$2; shift;; --output) out=$2; shift;; esac; shift
    done
    "%s" write "$out" --shard "$shard" || exit 1
    [ "${shard%%/*}" = 1 ] && exit 4   # shard 1: some sources failed
    exit 0
fi
exec "%s" "$@"
""" % (log, TOOL, XFER))
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        script(os.path.join(bindir, "sbatch"), """#!/bin/bash
echo "sbatch $*" >> "%s"
n=$(grep -c '^sbatch' "%s")
echo "$((1000 + n));cluster"
""" % (log, log))
        config = os.path.join(tmp, "exp.yaml")
        with open(config, "w") as f:
            f.write("target: fake\n")
        out = os.path.join(tmp, "out")
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])

        r = subprocess.run(["bash", os.path.join(SLURM, "submit.sh"), config, "3", out, "--",
                            "--partition=gpu"], capture_output=True, text=True, env=env)
        check(r.returncode == 0, "submit.sh exit 0: " + r.stderr)
        calls = open(log).read().splitlines()
        check(len(calls) == 2, "two sbatch calls: %s" % calls)
        if len(calls) == 2:
            check("--array=0-2" in calls[0] and "--partition=gpu" in calls[0] and
                  calls[0].endswith("sweep.sbatch"), "array submission: " + calls[0])
            check("--dependency=afterok:1001" in calls[1] and calls[1].endswith("merge.sbatch"),
                  "merge depends on the array (job id without ;cluster): " + calls[1])
        check("merge job 1002" in r.stdout, "ids printed: " + r.stdout)
        r = subprocess.run(["bash", os.path.join(SLURM, "submit.sh"), config, "zero"],
                           capture_output=True, text=True, env=env)
        check(r.returncode == 2, "bad N refused")

        # the array tasks, as Slurm would run them (array 1-3 to check the index shift)
        os.remove(log)
        base = dict(os.environ, XFER_CONFIG=config, XFER_OUT=out, XFER_BIN=fake_xfer,
                    SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_COUNT="3")
        for task in (1, 2, 3):
            r = subprocess.run(["bash", os.path.join(SLURM, "sweep.sbatch")], capture_output=True,
                               text=True, env=dict(base, SLURM_ARRAY_TASK_ID=str(task)))
            check(r.returncode == 0, "task %d exit 0 (exit 4 mapped): %s" % (task, r.stderr))
        calls = open(log).read().splitlines()
        want = ["xfer run %s --shard %d/3 --output %s/shard-%d-of-3.h5" % (config, i, out, i)
                for i in range(3)]
        check(calls == want, "xfer run calls: %s" % calls)
        r = subprocess.run(["bash", os.path.join(SLURM, "merge.sbatch")], capture_output=True,
                           text=True, env=dict(base, XFER_SHARDS="3", XFER_BIN=XFER,
                                               XFER_SCRIPTS=os.path.join(SRC, "scripts")))
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
        check(os.path.isfile(os.path.join(out, "plots", "scatter_emd.png")), "plots written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
