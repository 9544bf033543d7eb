"""Run the tiny study on a real local SLURM and compare it with a local run.

    sudo .venv/bin/python tests/cluster/slurm_check.py [--local DIR] [--killed-jobs] [--keep DIR] [-- SNAKEMAKE ARGS]

1. starts a single-node SLURM on this machine (tests/cluster/local_slurm.py:
   installs Debian's packages if missing, writes /etc/slurm/slurm.conf,
   starts munged, slurmctld, slurmd; stops them all by pid at the end, also
   on failure or Ctrl-C);
2. runs config/tiny.yaml with ``--workflow-profile profiles/slurm`` in a
   temporary directory, targets TARGETS below (every job submitted with
   sbatch, status from squeue);
3. runs the same config locally (``--cores 2``), or takes ``--local DIR`` (a
   finished local run of config/tiny.yaml);
4. compares every table and array of the two runs bit for bit
   (tests/cluster/compare_runs.py; figures excluded);
5. with ``--killed-jobs``: runs tests/cluster/killed_jobs.smk through the
   same profile: a job over its memory and one over its time limit are
   killed by SLURM, reported with rule and log, and retried with more.

Prints the timings (daemon start, SLURM run, local run) and exits 0 if the
outputs agree. tests/cluster/test_slurm.py runs steps 1-4 and the memory case
of step 5 under pytest.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from compare_runs import compare_runs  # noqa: E402
from local_slurm import LocalSlurm, why_not_here  # noqa: E402

TINY = ROOT / "config/tiny.yaml"
# What runs on SLURM: every output of the first stages (simulations,
# snapshots table, measurements, dataset, reference structures and their
# figures: 15 cluster jobs), not the whole tiny DAG, whose later stages
# (learning, classification, emulators) would add a few dozen jobs of ~20 s of
# SLURM and Snakemake start-up each on the 2 CPUs of CI, beyond the few
# minutes this check may take. The same profile and resource conventions
# apply to those stages.
TARGETS = [
    f"results/tiny/{f}"
    for f in (
        "snapshots.csv",
        "dataset.csv",
        "reference/structures.npz",
        *(f"figures/{n}.png" for n in (
            "morphology_gallery", "coarsening", "motivating_pair",
            "functionals_vs_time", "scaling_collapse", "euler_vs_composition",
        )),
    )
]
PROFILE = ROOT / "profiles/slurm"
# The first status check after submitting: 2 s instead of the profile's 20 s,
# so the few-second jobs of the tiny study are not waited on for long.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "2"]


def snakemake(*args, cwd, snakefile=ROOT / "Snakefile", timeout=900):
    """Run Snakemake with this checkout's library on the path; returns
    (CompletedProcess, seconds). Past ``timeout`` s (a job SLURM can never
    start stays pending and Snakemake waits for it forever) Snakemake gets
    SIGINT, on which it cancels its SLURM jobs, then SIGKILL; the result then
    has returncode -1 and says so at the end of stderr."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'workflow'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(cwd), *args]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        err += f"\n[slurm_check] snakemake timed out after {timeout} s and was stopped\n"
        code = -1
    return subprocess.CompletedProcess(cmd, code, out, err), time.monotonic() - t0


def run_tiny_on_slurm(workdir, *extra, timeout=900):
    """TARGETS of the tiny study through the SLURM profile; (CompletedProcess, seconds)."""
    return snakemake(
        "--configfile", str(TINY), "--workflow-profile", str(PROFILE), *FAST_POLLING, *extra, *TARGETS,
        cwd=workdir, timeout=timeout,
    )


def run_tiny_locally(workdir, timeout=900):
    return snakemake("--configfile", str(TINY), "--cores", "2", cwd=workdir, timeout=timeout)


def run_killed_jobs(workdir, target, *extra, timeout=600):
    """tests/cluster/killed_jobs.smk through the SLURM profile."""
    return snakemake(
        "--workflow-profile", str(PROFILE), *FAST_POLLING, *extra, target,
        cwd=workdir, snakefile=HERE / "killed_jobs.smk", timeout=timeout,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--local", type=Path, help="finished local run of config/tiny.yaml (else run it)")
    ap.add_argument("--keep", type=Path, help="run in this directory and keep it (else a temporary one)")
    ap.add_argument("--killed-jobs", action="store_true", help="also check jobs killed for memory and time")
    ap.add_argument("snakemake_args", nargs="*", help="passed on to the SLURM run (after --)")
    args = ap.parse_args(argv)
    reason = why_not_here()
    if reason:
        print(f"skipped: {reason}")
        return 0
    base = args.keep or Path(tempfile.mkdtemp(prefix="scattermorph-slurm-check-"))
    base.mkdir(parents=True, exist_ok=True)
    ok = True
    with LocalSlurm() as slurm:
        print(f"daemons started in {slurm.start_seconds:.1f} s (install {slurm.install_seconds:.0f} s)")
        res, secs = run_tiny_on_slurm(base / "slurm", *args.snakemake_args)
        print(f"tiny study on SLURM: exit {res.returncode} in {secs:.0f} s")
        (base / "slurm.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            print(res.stderr[-4000:])
            return 1
        if args.killed_jobs:
            for target in ("hog.txt", "dawdle.txt"):
                res, secs = run_killed_jobs(base / "killed", target)
                (base / f"killed-{target}.log").write_text(res.stdout + res.stderr)
                retried = "attempt 2" in res.stderr or "Trying to restart" in res.stderr
                print(f"killed job {target}: exit {res.returncode} in {secs:.0f} s, retried: {retried}")
                ok &= res.returncode == 0 and retried
    local = args.local
    if local is None:
        local = base / "local"
        res, secs = run_tiny_locally(local)
        print(f"tiny study locally (--cores 2): exit {res.returncode} in {secs:.0f} s")
        if res.returncode != 0:
            print(res.stderr[-4000:])
            return 1
    diff = compare_runs(local, base / "slurm", subset=True)
    for f, problems in diff.items():
        print(f"DIFFERS {f}: {'; '.join(problems)}")
    print("outputs identical" if not diff else f"{len(diff)} files differ")
    print(f"runs kept in {base}")
    return 0 if ok and not diff else 1


if __name__ == "__main__":
    sys.exit(main())
