"""Instrumental q resolution: pinhole Gaussian smearing of a binned curve.

A small-angle scattering instrument with pinhole collimation records, at the
nominal scattering vector q, the intensity averaged over a distribution of
true scattering vectors that is close to a Gaussian of standard deviation
``dQ(q)`` (the Qdev / sigmaQ column of reduced SANS files; Pedersen, Posselt
& Mortensen, J. Appl. Cryst. 23, 321 (1990); Barker & Pedersen, J. Appl.
Cryst. 28, 105 (1995)):

.. math::

    I_s(q) = \\int_0^\\infty I(q')\\, R(q', q)\\, dq', \\qquad
    R(q', q) \\propto \\exp\\!\\left(-\\frac{(q' - q)^2}{2\\, dQ(q)^2}\\right).

The integral is done as sasmodels does it (``sasmodels.resolution.
pinhole_resolution`` and ``PINHOLE_N_SIGMA``, the SasView fitting engine,
https://github.com/SasView/sasmodels): the curve is taken as constant over
each bin, so bin ``j`` of a point ``q_i`` gets the exact Gaussian mass of the
bin, ``W_ij = Phi((e_{j+1} - q_i)/dQ_i) - Phi((e_j - q_i)/dQ_i)`` (a
midpoint rule with erf weights), with the bin edges ``e`` half-way between
the centres (sasmodels' ``bin_edges``) unless given, edges below q = 0
clipped to 0; the support is limited to ``[q_i - 2.5 dQ_i, q_i + 3 dQ_i]``
(sasmodels' asymmetric ``PINHOLE_N_SIGMA = (2.5, 3.0)``: the true resolution
function is a broadened triangle, not a Gaussian to infinity, Barker &
Pedersen 1995), and every row is normalised to unit sum over the points where
the intensity is known.

**Truncation at the ends of the data.** sasmodels evaluates its *model* on a
q grid extended beyond the data (``pinhole_extend_q``), but never below
``MINIMUM_ABSOLUTE_Q`` = 0.02 q_min nor below q = 0, and renormalises each
row of the weight matrix over the points it evaluated. A simulated or
measured curve cannot be extended, so here the grid is the data's own and
the renormalisation over the available (and finite: empty bins are skipped)
points is the whole treatment: near the ends a point is the Gaussian-weighted
average of the bins that exist. A constant therefore stays constant
everywhere, ends included; the ends of any other curve are biased towards
the inner bins.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from scattermorph.errors import ParameterError

__all__ = ["PINHOLE_N_SIGMA", "bin_edges", "pinhole_weights", "smear_pinhole"]

#: support of the resolution function below and above q, in standard
#: deviations (sasmodels.resolution.PINHOLE_N_SIGMA; Barker & Pedersen 1995)
PINHOLE_N_SIGMA = (2.5, 3.0)


def bin_edges(q) -> np.ndarray:
    """Edges half-way between bin centres, the ends half a step out (sasmodels' ``bin_edges``).

    Parameters
    ----------
    q : array_like, shape (B,)
        Strictly increasing centres, B >= 2.

    Returns
    -------
    ndarray, shape (B + 1,)
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size < 2 or np.any(np.diff(q) <= 0):
        raise ParameterError("bin centres q must be a strictly increasing 1D array of at least 2 points")
    return np.concatenate([[q[0] - 0.5 * (q[1] - q[0])], 0.5 * (q[1:] + q[:-1]),
                           [q[-1] + 0.5 * (q[-1] - q[-2])]])


def pinhole_weights(q, dq, *, edges=None, nsigma=PINHOLE_N_SIGMA) -> np.ndarray:
    """Resolution matrix ``W`` (rows: smeared points, columns: bins), rows not yet normalised.

    Parameters
    ----------
    q : array_like, shape (B,)
        Bin centres (strictly increasing, > 0).
    dq : float or array_like, shape (B,)
        One standard deviation of the resolution at each q (same unit);
        0 means perfect resolution at that point (identity row).
    edges : array_like, shape (B + 1,), optional
        Bin edges (default :func:`bin_edges`).
    nsigma : (float, float)
        Support below and above q in standard deviations (``np.inf`` for a
        full Gaussian).

    Returns
    -------
    ndarray, shape (B, B)
        ``W[i, j]``: the Gaussian mass of bin j around q_i inside the support.
    """
    q = np.asarray(q, dtype=float)
    e = bin_edges(q) if edges is None else np.asarray(edges, dtype=float)
    if e.shape != (q.size + 1,) or np.any(np.diff(e) <= 0):
        raise ParameterError(f"edges must be {q.size + 1} increasing values, got shape {e.shape}")
    e = np.maximum(e, 0.0)
    dq = np.broadcast_to(np.asarray(dq, dtype=float), q.shape)
    if not np.all(np.isfinite(dq)) or np.any(dq < 0):
        raise ParameterError("the resolution dQ must be finite and >= 0")
    lo_n, hi_n = (float(v) for v in nsigma)
    W = np.zeros((q.size, q.size))
    sharp = dq == 0
    W[sharp, np.flatnonzero(sharp)] = 1.0
    i = np.flatnonzero(~sharp)
    if i.size:
        s = dq[i, None]
        lo = np.maximum(e[None, :-1], q[i, None] - lo_n * s)  # the bin cut to the support
        hi = np.minimum(e[None, 1:], q[i, None] + hi_n * s)
        W[i] = np.where(hi > lo, ndtr((hi - q[i, None]) / s) - ndtr((lo - q[i, None]) / s), 0.0)
    return W


def smear_pinhole(q, intensity, dq, *, edges=None, nsigma=PINHOLE_N_SIGMA) -> np.ndarray:
    """Curves as a pinhole instrument of resolution ``dq`` records them.

    ``I_s(q_i) = sum_j W_ij I_j / sum_j W_ij`` over the bins with a finite
    intensity (:func:`pinhole_weights`; see the module docstring for the
    truncation at the ends). Bins that are NaN stay NaN.

    Parameters
    ----------
    q : array_like, shape (B,)
    intensity : array_like, shape (B,) or (rows, B)
        NaN = empty bin.
    dq : float or array_like, shape (B,)
        Standard deviation of the resolution at each q (absolute, unit of q).
    edges, nsigma
        See :func:`pinhole_weights`.

    Returns
    -------
    ndarray, the shape of ``intensity``
    """
    I = np.asarray(intensity, dtype=float)
    one = I.ndim == 1
    I2 = np.atleast_2d(I)
    q = np.asarray(q, dtype=float)
    if I2.shape[1] != q.size:
        raise ParameterError(f"intensity has {I2.shape[1]} points per curve, q has {q.size}")
    W = pinhole_weights(q, dq, edges=edges, nsigma=nsigma)
    good = np.isfinite(I2)
    num = np.where(good, I2, 0.0) @ W.T
    den = good.astype(float) @ W.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(good & (den > 0), num / den, np.nan)
    return out[0] if one else out
