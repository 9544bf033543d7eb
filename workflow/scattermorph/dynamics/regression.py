"""Sparse regression: sequentially thresholded least squares and the block bootstrap.

STLSQ (Brunton, Proctor & Kutz, PNAS 113, 3932 (2016)): solve least squares,
set to zero every coefficient whose share of the fit is below a threshold,
refit on the remaining terms, repeat until the support is stable. The
threshold acts on the column-normalised coefficient ``|c_j| ||Theta_j|| /
||b||`` (the share of the target the term explains), so it does not depend
on the units of the terms.

Uncertainty: the rows of a SINDy system are not independent (neighbouring
times share the same field), so an ordinary bootstrap over rows understates
the spread. The block bootstrap (Kuensch, Ann. Stat. 17, 1217 (1989)) resamples
whole blocks, here the rows of one time window, with replacement and reruns
the whole regression (support selection included) on each resample.
"""

from __future__ import annotations

import numpy as np

from scattermorph.errors import ParameterError

__all__ = ["stlsq", "block_bootstrap"]


def stlsq(theta, b, *, threshold: float = 0.01, max_iter: int = 20):
    """Sequentially thresholded least squares.

    Parameters
    ----------
    theta : (R, J) ndarray of float
        Library matrix (one column per term).
    b : (R,) ndarray of float
        Target.
    threshold : float
        Smallest share ``|c_j| ||Theta_j|| / ||b||`` a kept term may have, >= 0
        (0: plain least squares).
    max_iter : int
        Most thresholding rounds.

    Returns
    -------
    (J,) ndarray
        Coefficients, exactly 0 for the dropped terms.
    """
    theta = np.asarray(theta, dtype=float)
    b = np.asarray(b, dtype=float)
    if theta.ndim != 2 or b.shape != theta.shape[:1]:
        raise ParameterError(f"theta {theta.shape} and b {b.shape} do not match: need (R, J) and (R,)")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ParameterError(f"threshold={threshold!r} must be >= 0")
    norms = np.linalg.norm(theta, axis=0)
    bnorm = np.linalg.norm(b)
    keep = norms > 0
    coef = np.zeros(theta.shape[1])
    for _ in range(max_iter):
        coef[:] = 0.0
        if not keep.any():
            return coef
        sol, *_ = np.linalg.lstsq(theta[:, keep] / norms[keep], b, rcond=None)
        coef[keep] = sol / norms[keep]
        share = np.abs(coef) * norms / (bnorm if bnorm > 0 else 1.0)
        new = keep & (share >= threshold)
        if np.array_equal(new, keep):
            break
        keep = new
    return coef


def block_bootstrap(theta, b, blocks, *, rng: np.random.Generator, n_boot: int = 100,
                    threshold: float = 0.01):
    """Coefficients refitted on resamples of whole blocks of rows.

    Parameters
    ----------
    theta : (R, J) ndarray
    b : (R,) ndarray
    blocks : (R,) ndarray of int
        Block (time window) of each row.
    rng : numpy.random.Generator
    n_boot : int
        Resamples, >= 2.
    threshold : float
        As in :func:`stlsq`.

    Returns
    -------
    (n_boot, J) ndarray
        One refitted coefficient vector per resample.
    """
    blocks = np.asarray(blocks)
    ids = np.unique(blocks)
    if ids.size < 2:
        raise ParameterError(f"the block bootstrap needs >= 2 blocks (time windows); got {ids.size}")
    if int(n_boot) < 2:
        raise ParameterError(f"n_boot={n_boot!r} must be >= 2")
    rows = [np.flatnonzero(blocks == i) for i in ids]
    out = np.empty((int(n_boot), theta.shape[1]))
    for r in range(int(n_boot)):
        pick = np.concatenate([rows[i] for i in rng.integers(0, ids.size, ids.size)])
        out[r] = stlsq(theta[pick], b[pick], threshold=threshold)
    return out
