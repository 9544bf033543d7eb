"""The grid the posteriors live on: the parameters, the cell centres over the
prior box, and the CDF of a piecewise-constant marginal (one module, so that
:mod:`scattermorph.infer.posterior` and :mod:`scattermorph.infer.checks` share it)."""

from __future__ import annotations

import numpy as np

from scattermorph.errors import ParameterError

__all__ = ["PARAMS", "PARAM_LABELS", "grid_axes", "cell_cdf"]

#: the calibrated parameters: volume fraction, quench depth chi/chi_s, log10 of the age t/tau
PARAMS = ("phi0", "quench", "log10_t")
PARAM_LABELS = {"phi0": "phi0", "quench": "chi/chi_s", "log10_t": "log10 t/tau"}


def grid_axes(lo, hi, n=40):
    """Cell centres of ``n`` equal cells per parameter over [lo, hi] (list of 3 arrays)."""
    n = int(n)
    if n < 2:
        raise ParameterError(f"the grid needs at least 2 cells per parameter, got {n}")
    return [lo_ + (np.arange(n) + 0.5) * (hi_ - lo_) / n for lo_, hi_ in zip(lo, hi)]


def cell_cdf(mass, lo, hi, x):
    """CDF at x of a piecewise-constant density with cell masses ``mass`` over [lo, hi]
    (a point mass at lo when hi == lo: a parameter with one value in the study)."""
    if hi <= lo:
        return 1.0 if x >= lo else 0.0
    n = mass.size
    u = np.clip((x - lo) / (hi - lo) * n, 0, n)
    i = min(int(u), n - 1)
    return float(mass[:i].sum() + (u - i) * mass[i])
