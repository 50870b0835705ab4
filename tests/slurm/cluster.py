"""A single-node Slurm cluster in a temporary directory, for tests: munged, slurmctld and slurmd
run in the foreground as children of this process (their PIDs are the Popen PIDs), with their own
munge key and socket, ports on 127.0.0.1, no accounting, no cgroups (proctrack/linuxproc,
task/affinity, select/cons_tres with CR_Core). `with Cluster(tmp) as c:` starts it and always
stops the daemons by their PIDs, also when the body raises. c.env is the environment for sbatch,
squeue and the scripts (SLURM_CONF)."""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies (even by SIGKILL)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed():
    return all(shutil.which(p) or os.path.exists(os.path.join("/usr/sbin", p))
               for p in ("munged", "slurmctld", "slurmd", "sbatch"))


def sbin(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


class Cluster:
    def __init__(self, root, cpus=None, mem_mb=None):
        self.root = root
        self.cpus = cpus or len(os.sched_getaffinity(0))
        self.mem_mb = mem_mb
        self.procs = {}  # name -> Popen, started in this order, stopped in reverse
        self.env = None

    def path(self, *p):
        return os.path.join(self.root, *p)

    def _start(self, name, argv):
        log = open(self.path(name + ".out"), "w")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env,
                                            preexec_fn=_die_with_parent)
        log.close()

    def log(self, name):
        for f in (name + ".log", name + ".out"):
            p = self.path(f)
            if os.path.exists(p):
                with open(p, errors="replace") as fh:
                    yield f, fh.read()

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        # munged checks that every parent of its socket is reachable (o+x) and its key private.
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        for d in ("munge", "state", "spool"):
            os.makedirs(self.path(d), mode=0o755, exist_ok=True)
        key = self.path("munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        sock = self.path("munge", "munge.socket")
        host = socket.gethostname().split(".")[0]
        if self.mem_mb is None:
            with open("/proc/meminfo") as f:
                total_kb = int(f.readline().split()[1])
            self.mem_mb = total_kb // 1024 // 2
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        conf = self.path("slurm.conf")
        with open(conf, "w") as f:
            f.write(f"""ClusterName=xfertest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
StateSaveLocation={self.path("state")}
SlurmdSpoolDir={self.path("spool")}
SlurmctldPidFile={self.path("slurmctld.pid")}
SlurmdPidFile={self.path("slurmd.pid")}
SlurmctldLogFile={self.path("slurmctld.log")}
SlurmdLogFile={self.path("slurmd.log")}
SlurmctldDebug=info
SlurmdDebug=info
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self.env = dict(os.environ, SLURM_CONF=conf)
        for k in list(self.env):  # a surrounding allocation must not leak into the test's jobs
            if k.startswith(("SLURM_", "SBATCH_", "SQUEUE_")) and k != "SLURM_CONF":
                del self.env[k]
        self._start("munged", [sbin("munged"), "-F", "-f", f"--socket={sock}", f"--key-file={key}",
                               f"--pid-file={self.path('munge', 'munged.pid')}",
                               f"--log-file={self.path('munged.log')}",
                               f"--seed-file={self.path('munge', 'munged.seed')}"])
        self._wait(lambda: os.path.exists(sock), "munged", 20)
        self._start("slurmctld", [sbin("slurmctld"), "-D", "-i", "-f", conf])
        self._wait(lambda: self.run("sinfo", "-h", check=False).returncode == 0, "slurmctld", 30)
        self._start("slurmd", [sbin("slurmd"), "-D", "-f", conf])
        self._wait(lambda: self.run("sinfo", "-h", "-o", "%t", check=False).stdout.strip()
                   in ("idle", "mix", "alloc"), "slurmd", 30)

    def _wait(self, ready, name, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for n, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{n} exited with {p.returncode} while starting {name}:\n"
                                       + "\n".join(t[-3000:] for _, t in self.log(n)))
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout} s:\n"
                           + "\n".join(t[-3000:] for _, t in self.log(name)))

    def run(self, *argv, check=True, timeout=60):
        r = subprocess.run(list(argv), capture_output=True, text=True, env=self.env,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr}")
        return r

    def stop(self):
        """Cancels this cluster's jobs (their processes are slurmstepd's children, which would
        outlive slurmd), then SIGTERMs each daemon by its PID (slurmd first), SIGKILL after 15 s."""
        if self.env and "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                jobs = self.run("squeue", "-h", "-o", "%A", check=False, timeout=20).stdout.split()
                if jobs:
                    self.run("scancel", *jobs, check=False, timeout=20)
                    end = time.monotonic() + 20
                    while time.monotonic() < end and self.run(
                            "squeue", "-h", check=False, timeout=20).stdout.strip():
                        time.sleep(0.5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = {}
