"""A real, single-node SLURM on this machine, for the cluster integration test.

``LocalSlurm`` installs Debian's SLURM packages if they are missing, writes a
single-node configuration for localhost into ``/etc/slurm/slurm.conf`` (the
standard path: snakemake-executor-plugin-slurm strips ``SLURM_*`` variables
such as ``SLURM_CONF`` from the jobs it submits, so a configuration elsewhere
would not be found inside a job), starts munged, slurmctld and slurmd as
foreground child processes (no systemd), waits until ``sinfo`` shows the node
idle, and on exit cancels the remaining jobs, stops every daemon it started by
its pid and restores any ``slurm.conf`` it replaced.

Needs root and Debian (apt); ``why_not_here()`` says why not otherwise.

    with LocalSlurm() as slurm:
        subprocess.run(["sbatch", "--wrap", "hostname"])
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")

# Finished jobs stay visible to squeue for this long. The executor plugin polls
# with squeue (no accounting database here) and falls back to sacct, which
# cannot answer without slurmdbd, if MinJobAge < 3 x its first polling
# interval; its polling interval grows up to 180 s, so 600 s keeps every
# finished job visible until Snakemake has seen it.
MIN_JOB_AGE = 600
# Memory left to the operating system and the Snakemake main process (MB).
MEMORY_MARGIN_MB = 1024


def why_not_here():
    """None if a local SLURM can be set up here, else the reason why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (installs packages, writes /etc/slurm/slurm.conf, starts daemons)"
    if not Path("/etc/debian_version").exists():
        return "needs Debian (installs SLURM with apt-get)"
    if not all(shutil.which(b) for b in BINARIES) and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is not available"
    return None


def ensure_packages(log=print):
    """Install Debian's SLURM and munge packages if any daemon or client is missing.

    Returns the seconds spent installing (0 if nothing was missing)."""
    missing = [b for b in BINARIES if not shutil.which(b)]
    if not missing:
        return 0.0
    log(f"installing {' '.join(PACKAGES)} (missing: {' '.join(missing)})")
    t0 = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    still = [b for b in BINARIES if not shutil.which(b)]
    if still:
        raise RuntimeError(f"after installing {PACKAGES}, still missing: {still}")
    return time.monotonic() - t0


def node_resources():
    """(cpus, real_memory_mb) of this machine for the node line of slurm.conf:
    every CPU the process may use, and MemTotal less a margin for the system."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    meminfo = Path("/proc/meminfo").read_text()
    total_mb = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M).group(1)) // 1024
    return cpus, max(512, total_mb - MEMORY_MARGIN_MB)


def slurm_conf(state_dir, *, cpus, memory_mb, controller):
    """Text of a single-node slurm.conf: one node "localhost" (127.0.0.1) with
    ``cpus`` CPUs and ``memory_mb`` MB, one default partition "debug", no
    accounting database (job status from squeue), no cgroups (linuxproc
    process tracking, memory limits enforced by the accounting poller)."""
    s = Path(state_dir)
    return f"""\
# Written by tests/cluster/local_slurm.py for the scattermorph cluster test;
# removed (and any previous file restored) when the test ends.
ClusterName=scattermorph
SlurmctldHost={controller}(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={s}/ctld
SlurmdSpoolDir={s}/d
SlurmctldPidFile={s}/slurmctld.pid
SlurmdPidFile={s}/slurmd.pid
SlurmctldLogFile={s}/slurmctld.log
SlurmdLogFile={s}/slurmd.log
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
KillWait=5
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Poll each job's memory every second and kill a job over its --mem (there
# are no cgroups here): a job over its memory ends OUT_OF_MEMORY.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class LocalSlurm:
    """Context manager: a running single-node SLURM; see the module docstring.

    Attributes after entering: ``start_seconds`` (daemon start until the node
    is idle), ``install_seconds``, ``cpus``, ``memory_mb``, ``state_dir``."""

    def __init__(self, *, log=print, start_timeout=60):
        self.log = log
        self.start_timeout = start_timeout
        self.procs = {}
        self.backup = None
        self.wrote_conf = False
        self.tmp = None

    # -- set-up -----------------------------------------------------------
    def __enter__(self):
        reason = why_not_here()
        if reason:
            raise RuntimeError(f"cannot start a local SLURM: {reason}")
        # Also stop the daemons if the interpreter exits without __exit__
        # (an uncaught exception in a caller that did not use `with`).
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _start(self):
        self.install_seconds = ensure_packages(self.log)
        for b in ("slurmctld", "slurmd"):
            if _pids_of(b):
                raise RuntimeError(f"a {b} is already running here (pids {_pids_of(b)}); not touching it")
        self.tmp = Path(tempfile.mkdtemp(prefix="scattermorph-slurm-"))
        self.state_dir = self.tmp
        for sub in ("ctld", "d"):
            (self.tmp / sub).mkdir()
        self.cpus, self.memory_mb = node_resources()
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        backup = SLURM_CONF.with_name("slurm.conf.scattermorph-backup")
        if backup.exists():
            # left by a run that was killed: it holds the original file
            self.backup = backup
        elif SLURM_CONF.exists():
            self.backup = backup
            shutil.copy2(SLURM_CONF, self.backup)
        conf = slurm_conf(self.tmp, cpus=self.cpus, memory_mb=self.memory_mb, controller=socket.gethostname())
        SLURM_CONF.write_text(conf)
        self.wrote_conf = True

        t0 = time.monotonic()
        self._start_munge()
        self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait(lambda: _ok(["scontrol", "ping"]) and "UP" in _out(["scontrol", "ping"]), "slurmctld to answer")
        self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost"])
        self._wait(self._node_idle, "the node to be idle in sinfo")
        self.start_seconds = time.monotonic() - t0
        self.log(f"SLURM up in {self.start_seconds:.1f} s: node localhost, {self.cpus} CPUs, {self.memory_mb} MB")

    def _start_munge(self):
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
            shutil.chown(MUNGE_KEY, "munge", "munge")
            MUNGE_KEY.chmod(0o400)
        if MUNGE_SOCKET.exists() and _ok(["munge", "-n"]):
            self.log("munged already running: using it (not stopped afterwards)")
            return
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
        for d in ("/var/lib/munge", "/var/log/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        # As the munge user, the way the package runs it.
        self._spawn("munged", ["munged", "-F"], user="munge")
        self._wait(lambda: _ok(["munge", "-n"]), "munged to issue a credential")

    def _spawn(self, name, cmd, user=None):
        logf = open(self.tmp / f"{name}.stdout", "w")
        ids = {} if user is None else {"user": user, "group": user, "extra_groups": []}
        # Own session: a Ctrl-C of the test is not delivered to the daemons
        # directly; stop() ends them in order.
        self.procs[name] = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, **ids
        )
        logf.close()

    def _wait(self, ready, what):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {p.returncode}:\n{self.daemon_logs()}")
            if ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"timed out after {self.start_timeout} s waiting for {what}:\n{self.daemon_logs()}")

    @staticmethod
    def _node_idle():
        state = _out(["sinfo", "-h", "-N", "-n", "localhost", "-o", "%T"]).strip()
        return state.startswith("idle")

    def daemon_logs(self, tail=3000):
        """The last lines of every daemon log (for error messages)."""
        if self.tmp is None:
            return ""
        parts = []
        for f in sorted(self.tmp.glob("*.log")) + sorted(self.tmp.glob("*.stdout")):
            parts.append(f"--- {f.name}\n{f.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    # -- tear-down --------------------------------------------------------
    def stop(self):
        """Cancel remaining jobs, stop each daemon this object started (by pid,
        SIGTERM then SIGKILL), restore slurm.conf. Safe to call twice."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True, timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _out(["squeue", "-h", "-t", "PD,R,CG"]).strip():
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if self.wrote_conf:
            if self.backup is not None:
                shutil.move(self.backup, SLURM_CONF)
            else:
                SLURM_CONF.unlink(missing_ok=True)
            self.wrote_conf = False
        if self.tmp is not None and os.environ.get("SCATTERMORPH_KEEP_SLURM_STATE") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _ok(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _pids_of(name):
    """Pids of running processes whose executable is called ``name``."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == name:
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids
