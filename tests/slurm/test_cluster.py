"""scripts/slurm against a real Slurm cluster (munged, slurmctld, slurmd started here, tests/slurm/
cluster.py) on a tiny experiment with a chain:
  - what cannot run is refused before anything is queued (a relative file missing from the jobs'
    working directory, more CPUs or memory than the node has, a GPU on a node without gres);
  - a 3-shard sweep through submit.sh merges equal to an unsharded run (everything but timings),
    with the chain and its parent in one shard, no plots from the shards, the merge's plots, and
    every log in the output directory;
  - in a second sweep one shard is cancelled during a fine-tune: the merge still runs, names the
    shard and the resume command in its log; `submit.sh --shards K` resumes that shard (finished
    sources skipped, the fine-tune continued) and its merge equals the unsharded run.
The daemons listen on all addresses of their network namespace, so the test runs in a private one
(unshare --net: loopback only) and stops them by their PIDs, also when it fails. Skips (77) where
Slurm is not installed or no network namespace can be made."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cluster  # noqa: E402

sys.path.insert(0, os.path.join(os.environ["XFER_SOURCE_DIR"], "tests", "common"))
import xfertest  # noqa: E402
from xfertest import check  # noqa: E402

XFER = os.environ["XFER"]
SRC = os.environ["XFER_SOURCE_DIR"]
SUBMIT = os.path.join(SRC, "scripts", "slurm", "submit.sh")
T0 = time.monotonic()

CONFIG = """experiment: tiny
seed: 3
device: cpu
output: out/results.h5
datasets:
  shapes:
    kind: synthetic
    synthetic: {classes: 4, per_class: 50, size: 32, seed: 1}
    image_size: 32
    cache_size: 32
  other:
    kind: synthetic
    synthetic: {classes: 3, per_class: 30, size: 32, seed: 9}
    image_size: 32
    cache_size: 32
sources:
  - {name: untrained, arch: resnet18, width: 0.25, weights: random, classes: classes.txt}
  - {name: untrained_b, arch: resnet18, width: 0.25, weights: random, init_seed: 11}
  - name: built
    arch: resnet18
    width: 0.25
    train: {from: random, dataset: other, epochs: 2, batch_size: 16,
            optimizer: {sgd: {lr: 0.05, momentum: 0.9}}}
  - name: chained
    arch: resnet18
    width: 0.25
    train: {from: built, dataset: shapes, epochs: 1, batch_size: 16,
            optimizer: {sgd: {lr: 0.01, momentum: 0.9}}}
  - name: other_built
    arch: resnet18
    width: 0.25
    train: {from: random, dataset: shapes, epochs: 1, batch_size: 16,
            optimizer: {sgd: {lr: 0.05, momentum: 0.9}}}
target:
  dataset: shapes
  finetune:
    epochs: 6
    batch_size: 16
    optimizer: {sgd: {lr: 0.01, momentum: 0.9}}
    schedule: {step: {step_size: 2, gamma: 0.1}}
scores: [softmax_max, leep, logme]
"""


def say(*a):
    print("[%5.1fs]" % (time.monotonic() - T0), *a, flush=True)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def flatten(path):
    """Every attribute and dataset of a results file, without what depends on time."""
    out = {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in ("seconds", "created"):
                out[name + "@" + k] = v
        if isinstance(obj, h5py.Dataset) and not name.endswith("/seconds"):
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if k != "created":
                out["@" + k] = v
        f.visititems(visit)
    return out


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and bool(np.all(a == b))


def compare(ref, got, what):
    if not check(os.path.exists(got), f"{what}: {got} written"):
        return
    a, b = flatten(ref), flatten(got)
    check(sorted(a) == sorted(b), f"{what}: same entries: {sorted(set(a) ^ set(b))}")
    diff = [k for k in a if k in b and not same(a[k], b[k])]
    check(not diff, f"{what}: equal to the unsharded run except timings; differ: {diff[:8]}")


def submit(c, workdir, *args):
    env = dict(c.env, XFER_BIN=XFER, XFER_SCRIPTS=os.path.join(SRC, "scripts"))
    r = subprocess.run(["bash", SUBMIT, *args], capture_output=True, text=True, env=env,
                       cwd=workdir, timeout=120)
    m = re.search(r"array job (\d+) .*merge job (\d+)", r.stdout)
    return r, (m.group(1), m.group(2)) if m else (None, None)


def wait_jobs(c, jobs, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        q = c.run("squeue", "-h", "-o", "%i %T", check=False).stdout.split("\n")
        live = [line for line in q if line.strip() and any(
            line.split()[0] == j or line.split()[0].startswith(j + "_") for j in jobs)]
        if not live:
            return True
        time.sleep(0.5)
    say("still queued after %d s:" % timeout, c.run("squeue", check=False).stdout)
    return False


def job_state(c, job):
    r = c.run("scontrol", "-o", "show", "job", job, check=False).stdout
    return " ".join(re.findall(r"(?:JobState|ExitCode|ArrayTaskId)=\S+", r))


def sweep(c, work, out, *extra, timeout=150):
    r, (array, merge) = submit(c, work, "tiny.yaml", "3", out, "--cpus", "1", *extra)
    if not check(r.returncode == 0 and array, f"submit.sh {' '.join(extra)} exit 0: {r.stdout}{r.stderr}"):
        return r, None, None
    say("submitted", array, merge, r.stdout.strip().splitlines()[-2])
    return r, array, merge


def inner():
    tmp = tempfile.mkdtemp(prefix="xfer_slurm_real_")
    os.chmod(tmp, 0o755)
    c = cluster.Cluster(os.path.join(tmp, "cluster"), cpus=2)
    try:
        with c:
            say("cluster up:", c.run("sinfo", "-h", "-N", "-o", "%N %c CPUs %m MB %t").stdout.strip())
            run_checks(c, tmp)
    except Exception as e:  # a daemon that would not start, a command that hung: fail clearly
        check(False, f"{type(e).__name__}: {e}")
    finally:
        if xfertest._state["failures"]:
            for name in ("slurmctld", "slurmd", "munged"):
                for f, text in c.log(name):
                    print(f"---- {f} (last lines)\n" + "\n".join(text.splitlines()[-15:]))
        shutil.rmtree(tmp, ignore_errors=True)


def run_checks(c, tmp):
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    with open(os.path.join(work, "tiny.yaml"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(work, "classes.txt"), "w") as f:
        f.write("".join(f"c{i}\n" for i in range(10)))
    env1 = dict(c.env, OMP_NUM_THREADS="1")
    ref = subprocess.Popen([XFER, "run", "tiny.yaml", "--threads", "1", "--output",
                            os.path.join(tmp, "ref", "results.h5"), "--no-plots", "--quiet"],
                           cwd=work, env=env1, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)

    # ---- refused before queueing ------------------------------------------------------------
    r, _ = submit(c, tmp, os.path.join(work, "tiny.yaml"), "3", os.path.join(tmp, "bad"))
    check(r.returncode == 2 and "classes.txt" in r.stderr and "not queued" in r.stderr,
          f"a relative file missing from the jobs' working directory: exit 2 naming it: {r.stderr}")
    for opt, word in ((["--cpus", "64"], "CPUs"), (["--mem", "100000G"], "MB"),
                      (["--gpus", "1"], "GPU")):
        r, _ = submit(c, work, "tiny.yaml", "3", os.path.join(tmp, "bad"), *opt)
        check(r.returncode == 2 and "not queued" in r.stderr and word in r.stderr,
              f"{' '.join(opt)} on a 2-CPU node without gres: refused: {r.stderr}")
    check(c.run("squeue", "-h").stdout.strip() == "", "nothing queued by the refused submissions")

    # ---- a 3-shard sweep == the unsharded run ----------------------------------------------
    out1 = os.path.join(tmp, "sweep1")
    r, array, merge = sweep(c, work, out1)
    if array:
        check(re.search(r"shard \d/3: 2 sources \(built, chained\)", r.stdout) is not None,
              f"the chain and its parent in one shard: {r.stdout}")
        check(wait_jobs(c, [array, merge], 150), "sweep 1 finished within 150 s")
        say("sweep 1 done;", job_state(c, merge))
    so, _ = ref.communicate(timeout=300)
    check(ref.returncode == 0, f"unsharded run exit 0: {so[-2000:]}")
    ref_h5 = os.path.join(tmp, "ref", "results.h5")
    if array:
        logs = os.path.join(out1, "logs")
        mlog = read(os.path.join(logs, f"merge-{merge}.log"))
        check("xfer merge: " in mlog and "results.h5, report.md" in mlog, f"merge log: {mlog[-1500:]}")
        compare(ref_h5, os.path.join(out1, "results.h5"), "sweep 1")
        for k in range(3):
            slog = read(os.path.join(logs, f"sweep-{array}_{k}.log"))
            check(f"shard {k}/3" in slog and "1 CPUs" in slog and "no plots for a shard" in slog,
                  f"shard {k} log (1 CPU, no plots): {slog[-800:]}")
        check(os.path.exists(os.path.join(logs, f"submit-{array}.txt")), "submission record")
        check(glob.glob(os.path.join(out1, "scatter_*.png")) != [], "the merge drew the plots")
        check(os.path.exists(os.path.join(out1, "report.md")), "merged report.md")
        stray = [f for f in os.listdir(work) if f.endswith((".log", ".out"))]
        check(not stray, f"no logs in the submission directory: {stray}")

    # ---- a cancelled shard, then --shards K resumes it -------------------------------------
    out2 = os.path.join(tmp, "sweep2")
    r, array, merge = sweep(c, work, out2)
    if not array:
        return
    m = re.search(r"shard (\d)/3: 2 sources \(built, chained\)", r.stdout)
    k = m.group(1) if m else "0"
    slog = os.path.join(out2, "logs", f"sweep-{array}_{k}.log")
    end, seen = time.monotonic() + 120, False
    while time.monotonic() < end and not seen:
        seen = "finetune chained  epoch 2/6" in read(slog)  # epoch 1 is checkpointed
        if not seen:
            time.sleep(0.05)
    if check(seen, f"shard {k} reached chained's fine-tune: {read(slog)[-800:]}"):
        c.run("scancel", f"{array}_{k}")
        say(f"cancelled shard {k} ({array}_{k}) after chained's second fine-tune epoch")
    check(wait_jobs(c, [array, merge], 150), "sweep 2 finished within 150 s")
    text = read(slog)
    check("CANCELLED" in text and "finetune chained  epoch 6/6" not in text,
          f"shard {k} was cancelled before it finished: {text[-600:]}")
    mlog = read(os.path.join(out2, "logs", f"merge-{merge}.log"))
    check(f"shard(s) {k} did not finish" in mlog and f"--shards {k}" in mlog
          and not os.path.exists(os.path.join(out2, "results.h5")),
          f"the merge ran, named shard {k} and the resume command, merged nothing: {mlog[-1500:]}")
    say("sweep 2's merge:", job_state(c, merge))
    r, array2, merge2 = sweep(c, work, out2, "--shards", k)
    if not array2:
        return
    check(f"shards {k} of 3" in r.stdout, f"only shard {k} queued: {r.stdout}")
    check(wait_jobs(c, [array2, merge2], 150), "the resumed shard and its merge finished")
    text = read(os.path.join(out2, "logs", f"sweep-{array2}_{k}.log"))
    check("built: already done, skipped" in text and "finetune chained: resuming after epoch" in text,
          f"shard {k} resumed (built skipped, chained continued): "
          + "\n".join(x for x in text.splitlines() if not x.startswith(("|", "#")))[-2500:])
    mlog = read(os.path.join(out2, "logs", f"merge-{merge2}.log"))
    check("results.h5, report.md" in mlog, f"merge after the resume: {mlog[-1500:]}")
    compare(ref_h5, os.path.join(out2, "results.h5"), "cancelled + resumed sweep")


def main():
    if not cluster.installed():
        print("skipped: Slurm is not installed (slurmctld, slurmd, munged, sbatch); "
              "the project's setup script installs slurm-wlm and munge")
        return 77
    if os.environ.get("XFER_SLURM_NETNS") != "1":
        probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True) \
            if shutil.which("unshare") and shutil.which("ip") else None
        if probe is None or probe.returncode != 0:
            print("skipped: cannot make a private network namespace (unshare --net, needs root); "
                  "Slurm's daemons listen on every address, so the test only runs on loopback-only "
                  "namespaces: " + (probe.stderr.strip() if probe else "no unshare/ip"))
            return 77
        env = dict(os.environ, XFER_SLURM_NETNS="1")
        return subprocess.run(["unshare", "--net", "--", "sh", "-c",
                               # a second loopback address: glibc's AI_ADDRCONFIG, which
                               # Slurm uses, finds no IPv4 address when 127.0.0.1 is the only one
                               'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && '
                               'exec "$0" "$@"', sys.executable,
                               os.path.abspath(__file__)], env=env).returncode
    inner()
    say("elapsed; load average %.2f %.2f %.2f" % os.getloadavg())
    xfertest.finish()


if __name__ == "__main__":
    sys.exit(main())
