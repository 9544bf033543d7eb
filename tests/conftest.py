"""Shared pytest configuration for the scattermorph test suite.

* matplotlib is forced onto the non-interactive "agg" backend before anything
  can import it (the environment variable is read at import time).
* ``rng``: a seeded generator, so every stochastic test is reproducible.
* ``tiny_run``: the tiny study, run once per session for the workflow tests.
* Figures opened by a test are closed after it (only if matplotlib was
  imported at all; importing it here would slow every run down).
* Under pytest-xdist (``bin/test`` runs two workers with ``--dist loadfile``)
  ``tiny_run`` runs once per session all the same: the first worker that needs
  it runs the study in a folder the workers share, under a file lock the
  other waits on (the study is 2 cores of work for minutes; a second copy
  cost a whole tiny study of CI time). loadfile keeps the tests of one file
  on one worker, so the local SLURM tests (one module) share one SLURM.
  (``--dist loadgroup`` would keep every tiny-study test on one worker, but
  pytest-xdist 3.8 cannot set its groups under pytest 9: measured, the
  groups' tests spread over both workers.)
* The files that take minutes (``LONG_FILES``) are collected first and
  ``bin/test`` passes ``--no-loadscope-reorder``, so xdist hands them out
  first: by default it orders files by their number of tests, which put these
  few-test files last and left one worker running them alone at the end.

``np.seterr(all="raise")`` is deliberately *not* set: the solvers' numba
kernels do not honour numpy's error state, and the tests check for NaN/inf
explicitly where it matters.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys

os.environ["MPLBACKEND"] = "agg"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: Test files that take minutes on CI's 2 cores (measured serially: whole
#: tiny studies or many solver runs); they are handed out to the workers
#: before every other file (see pytest_collection_modifyitems). The SLURM
#: file second: it mostly waits on SLURM, beside the first worker making
#: ``tiny_run`` on both cores; the two other whole studies (rerun, 3D) come
#: after, one on each worker.
LONG_FILES = [
    "tests/test_workflow.py",
    "tests/cluster/test_slurm.py",
    "tests/test_workflow_rerun.py",
    "tests/test_workflow_3d.py",
    "tests/sas/test_applicability.py",
    "tests/test_cli.py",
    "tests/sim/test_steppers.py",
    "tests/predict/test_model.py",
    "tests/infer/test_stage.py",
]


def pytest_collection_modifyitems(config, items):
    """Put the tests of LONG_FILES first, in that order (a stable sort: the
    order within a file and of the other files is unchanged)."""
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    root = config.rootpath

    def key(item):
        path = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        return rank.get(path, len(LONG_FILES))

    items.sort(key=key)


def _session_folder(tmp_path_factory):
    """The folder of this test session that every xdist worker sees (each
    worker's basetemp is a subfolder popen-gwN of it); the basetemp without
    xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Run the whole tiny study (config/tiny.yaml) once per test session, for
    all xdist workers together; the workflow tests of every stage inspect its
    outputs (read-only: dry runs, reports and audits only, which Snakemake
    runs without locking the folder, so workers may do them at once)."""
    from _workflow import TINY, snakemake

    shared = _session_folder(tmp_path_factory)
    wd, outcome = shared / "tiny_shared", shared / "tiny_shared.outcome.json"
    with open(shared / "tiny_shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not outcome.exists():
            # a worker that died mid-run left no outcome: start afresh
            shutil.rmtree(wd, ignore_errors=True)
            wd.mkdir()
            try:
                # the timeout only guards against a hang: ~5 min on CI's 2
                # cores, over 10 on a shared, loaded machine
                res = snakemake("--configfile", str(TINY), "--cores", "2", cwd=wd, timeout=1800)
                result = {"returncode": res.returncode, "error": res.stderr[-3000:]}
            except subprocess.TimeoutExpired as exc:
                result = {"returncode": None, "error": f"the tiny study did not finish: {exc}"}
            outcome.write_text(json.dumps(result))
        result = json.loads(outcome.read_text())
    # a failed run fails every worker's tests with its error, without a rerun
    assert result["returncode"] == 0, result["error"]
    return wd


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Resolution-refitted models (scattermorph predict with dQ) are cached in a
    session folder, never in the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCATTERMORPH_CACHE_DIR", str(tmp_path_factory.mktemp("model_cache")))
        yield


@pytest.fixture
def rng():
    """Seeded random generator (fixed seed: reproducible failures)."""
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test left open."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
