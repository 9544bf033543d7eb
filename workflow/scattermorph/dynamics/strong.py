"""Plain (strong-form) SINDy: the baseline without the physics input.

The time derivative is a central finite difference of successive snapshots,
the space derivatives second-order central finite differences (5-point /
7-point Laplacian), and the library
(:data:`~scattermorph.dynamics.library.STRONG_TERMS`) holds products of powers
of ``phi`` with ``lap phi``, ``|grad phi|^2`` and ``lap^2 phi`` evaluated
pointwise, not in conservative form: the true equation lies in its span
(``lap g(phi) = g' lap phi + g'' |grad phi|^2``), but nothing makes a fitted
model conserve mass, and every derivative of the data carries the stencil's
error and amplifies noise (Brunton, Proctor & Kutz, PNAS 113, 3932 (2016);
Rudy et al., Sci. Adv. 3, e1602614 (2017)).
"""

from __future__ import annotations

import numpy as np

from scattermorph.dynamics.library import STRONG_TERMS
from scattermorph.dynamics.regression import block_bootstrap, stlsq
from scattermorph.dynamics.weak import Fit, check_series
from scattermorph.errors import ParameterError

__all__ = ["fd_laplacian", "strong_terms", "strong_system", "fit_strong"]


def fd_laplacian(f, dx: float, axes):
    """Second-order central-difference Laplacian on a periodic grid."""
    return sum(np.roll(f, 1, a) + np.roll(f, -1, a) - 2 * f for a in axes) / dx**2


def strong_terms(phi, dx: float) -> np.ndarray:
    """Every term of :data:`STRONG_TERMS` at every cell.

    Parameters
    ----------
    phi : (M, N[, P]) or (T, M, N[, P]) ndarray
        The last 2 or 3 axes are space (pass ``spatial_ndim`` fields).
    dx : float

    Returns
    -------
    (J, *phi.shape) ndarray
    """
    axes = tuple(range(phi.ndim - (3 if phi.ndim == 4 else 2), phi.ndim))
    lap = fd_laplacian(phi, dx, axes)
    grad2 = sum(((np.roll(phi, -1, a) - np.roll(phi, 1, a)) / (2 * dx)) ** 2 for a in axes)
    cols = [np.ones_like(phi), phi, phi**2, phi**3, lap, phi * lap, phi**2 * lap, grad2,
            phi * grad2, fd_laplacian(lap, dx, axes)]
    return np.array(cols)


def strong_system(phi, times, dx, *, n_points: int, rng: np.random.Generator, n_blocks: int = 10):
    """Rows at ``n_points`` random interior (time, cell) points.

    Returns
    -------
    theta : (n_points, J) ndarray
    b : (n_points,) ndarray
        Central difference ``(phi[i+1] - phi[i-1]) / (t[i+1] - t[i-1])``.
    blocks : (n_points,) ndarray of int
        Contiguous time blocks (``n_blocks`` of them) for the block bootstrap.
    """
    phi, times, dx = check_series(phi, times, dx)
    if int(n_points) < len(STRONG_TERMS):
        raise ParameterError(f"n_points={n_points} must be >= the {len(STRONG_TERMS)} terms")
    T = times.size
    ti = rng.integers(1, T - 1, int(n_points))
    cells = rng.integers(0, np.prod(phi.shape[1:]), int(n_points))
    theta = np.empty((int(n_points), len(STRONG_TERMS)))
    b = np.empty(int(n_points))
    for i in np.unique(ti):
        sel = ti == i
        terms = strong_terms(phi[i], dx).reshape(len(STRONG_TERMS), -1)
        theta[sel] = terms[:, cells[sel]].T
        b[sel] = ((phi[i + 1] - phi[i - 1]).reshape(-1)[cells[sel]]) / (times[i + 1] - times[i - 1])
    blocks = np.minimum((ti - 1) * int(n_blocks) // max(T - 2, 1), int(n_blocks) - 1)
    return theta, b, blocks


def fit_strong(phi, times, dx, *, threshold: float = 0.01, n_points: int = 20000,
               n_boot: int = 0, rng: np.random.Generator) -> Fit:
    """Discover ``d_t phi`` in the unconstrained library by strong-form SINDy.

    Parameters
    ----------
    phi, times, dx
        The series, as :func:`~scattermorph.dynamics.weak.weak_system`.
    threshold : float
        STLSQ threshold.
    n_points : int
        Random space-time points sampled.
    n_boot : int
        Block-bootstrap resamples over contiguous time blocks.
    rng : numpy.random.Generator

    Returns
    -------
    Fit
        ``terms`` are the names of :data:`STRONG_TERMS`.
    """
    theta, b, blocks = strong_system(phi, times, dx, n_points=n_points, rng=rng)
    coef = stlsq(theta, b, threshold=threshold)
    boot = np.empty((0, 0))
    if n_boot:
        boot = block_bootstrap(theta, b, blocks, rng=rng, n_boot=n_boot, threshold=threshold)
    return Fit(STRONG_TERMS, coef, boot, "strong")
