"""Shared pytest configuration for the scattermorph test suite.

* matplotlib is forced onto the non-interactive "agg" backend before anything
  can import it (the environment variable is read at import time).
* ``rng``: a seeded generator, so every stochastic test is reproducible.
* ``tiny_run``: the tiny study, run once per session for the workflow tests.
* Figures opened by a test are closed after it (only if matplotlib was
  imported at all; importing it here would slow every run down).
* Under pytest-xdist (``bin/test`` runs two workers with ``--dist loadfile``)
  ``tiny_run`` runs once per worker that needs it; loadfile keeps the tests of
  one file on one worker, so the local SLURM tests (one module) share one
  SLURM. (``--dist loadgroup`` would keep every tiny-study test on one worker,
  but pytest-xdist 3.8 cannot set its groups under pytest 9: measured, the
  groups' tests spread over both workers.)

``np.seterr(all="raise")`` is deliberately *not* set: the solvers' numba
kernels do not honour numpy's error state, and the tests check for NaN/inf
explicitly where it matters.
"""

import os
import sys

os.environ["MPLBACKEND"] = "agg"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Run the whole tiny study (config/tiny.yaml) once per test session; the
    workflow tests of every stage inspect its outputs (read-only)."""
    from _workflow import TINY, snakemake

    wd = tmp_path_factory.mktemp("tiny")
    res = snakemake("--configfile", str(TINY), "--cores", "2", cwd=wd)
    assert res.returncode == 0, res.stderr[-3000:]
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
