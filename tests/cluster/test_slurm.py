"""The study on a real SLURM (issue 8): tests/cluster/slurm_check.py under pytest.

A single-node SLURM is started on this machine for the module (installed with
apt-get if missing; daemons stopped by pid afterwards, also on failure), the
tiny study is run through ``--workflow-profile profiles/slurm`` and compared
bit for bit with the local tiny run of the session (``tiny_run``), and a job
that exceeds its memory is shown to be killed, reported and retried with
more. Needs root and Debian; skipped with the reason otherwise. About 3-5 min
on 2 cores.
"""

import re
import subprocess

import pytest
from compare_runs import compare_runs, result_files
from local_slurm import LocalSlurm, ensure_packages, why_not_here
from slurm_check import run_killed_jobs, run_tiny_on_slurm

REASON = why_not_here()
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.workflow,
    pytest.mark.skipif(REASON is not None, reason=f"local SLURM test: {REASON}"),
]


@pytest.fixture(scope="module")
def slurm():
    """A running single-node SLURM for this module; stopped afterwards."""
    try:
        ensure_packages()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"local SLURM test: apt-get could not install SLURM: {exc}")
    with LocalSlurm() as s:
        yield s
    # __exit__ stopped every daemon it started and restored slurm.conf


def test_daemons_are_up(slurm):
    """The node is idle with this machine's CPUs and memory."""
    assert slurm.cpus >= 1 and slurm.memory_mb >= 512
    assert slurm.start_seconds < 60


def test_tiny_study_on_slurm_equals_local_run(slurm, request, tmp_path):
    """Every job of the tiny study goes through sbatch and the results equal
    those of the local run bit for bit (jobs are deterministic whatever the
    executor: seeds come from the config, not from the process)."""
    res, seconds = run_tiny_on_slurm(tmp_path, timeout=900)
    # the local run only now: under xdist another worker may be making it
    # meanwhile (the SLURM run mostly waits on SLURM's start-up and polling)
    tiny_run = request.getfixturevalue("tiny_run")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert len(submitted) >= 6, "the jobs did not go through sbatch"
    # one job per simulation at least, each finished through SLURM
    assert "simulate_microstructure" in out and "Finished jobid" in out
    diff = compare_runs(tiny_run, tmp_path, subset=True)
    made = {f for f in result_files(tmp_path)}
    assert {"results/tiny/dataset.csv", "results/tiny/dataset_sq.npz"} <= made
    assert not diff, diff
    print(f"tiny study on SLURM: {seconds:.0f} s, {len(submitted)} SLURM jobs")


def test_job_over_its_memory_is_killed_reported_and_retried(slurm, tmp_path):
    """A job that holds more memory than its first attempt declares is killed
    by SLURM; Snakemake names the rule and the log files, and the retry
    (profile: retries, attempt-scaled mem_mb) succeeds."""
    res, _ = run_killed_jobs(tmp_path, "hog.txt")
    err = res.stderr
    assert res.returncode == 0, err[-4000:]
    assert "Error in rule hog" in err
    assert "logs/hog.log" in err and "logs/slurm/rule_hog" in err
    assert "attempt 2" in err or "Trying to restart" in err
    assert (tmp_path / "hog.txt").read_text() == "done"


def test_killed_job_without_retries_leaves_no_output(slurm, tmp_path):
    """With retries off the run fails, naming the rule, and no output (partial
    or complete) remains."""
    res, _ = run_killed_jobs(tmp_path, "hog.txt", "--retries", "0")
    assert res.returncode != 0
    assert "Error in rule hog" in res.stderr
    assert not (tmp_path / "hog.txt").exists()
    assert not list(tmp_path.glob("hog.txt*"))
