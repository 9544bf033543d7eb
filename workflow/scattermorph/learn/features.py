"""Learning inputs and targets: log S(q) and scale-free features of a scattering curve, and the dimensionless (scale-free) functional densities."""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from scattermorph.errors import ParameterError


# --------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------
def _as_curves(q, s_q):
    q = np.asarray(q, dtype=float)
    s_q = np.asarray(s_q, dtype=float)
    if q.ndim != 1 or q.size < 2:
        raise ParameterError(f"q must be a 1-D grid of at least 2 bins, got shape {q.shape}")
    if s_q.ndim == 1:
        s_q = s_q[None, :]
    if s_q.ndim != 2 or s_q.shape[1] != q.size:
        raise ParameterError(
            f"s_q must have shape (rows, {q.size}) to match q, got {s_q.shape}: "
            "pass one S(q) curve per row on the common q grid"
        )
    if s_q.shape[0] == 0:
        raise ParameterError("s_q has no rows: nothing to build features from")
    if not np.all(np.isfinite(q)) or np.any(q <= 0):
        raise ParameterError("q must be finite and positive in every bin")
    return q, s_q


def features_log_sq(q, s_q, counts=None):
    """log10 S(q) on the q grid, without the bins that are empty in any row.

    As in Jones & Clarke, Soft Matter 17, 9689 (2021), the input of the
    regressor is the logarithm of the structure factor on the common q grid;
    a bin that holds no Fourier modes in some snapshot (NaN in ``s_q``, or a
    zero in ``counts``) is dropped for *all* rows so every row has the same
    features.

    Parameters
    ----------
    q : array_like, shape (B,)
        Bin centres.
    s_q : array_like, shape (rows, B)
        Structure factors; NaN marks an empty bin.
    counts : array_like, shape (rows, B), optional
        Number of modes per bin; a bin with count 0 in any row is dropped.

    Returns
    -------
    X : ndarray, shape (rows, n_kept)
        log10 S(q) in the kept bins.
    mask : ndarray of bool, shape (B,)
        True for the kept bins (``q[mask]`` are the feature positions).

    Raises
    ------
    ParameterError
        Bad shapes, no bin left, or S <= 0 / inf in a kept bin.
    """
    q, s_q = _as_curves(q, s_q)
    empty = np.isnan(s_q).any(axis=0)
    if counts is not None:
        counts = np.asarray(counts)
        if counts.shape != s_q.shape:
            raise ParameterError(f"counts has shape {counts.shape}, expected {s_q.shape} like s_q")
        empty |= (counts == 0).any(axis=0)
    mask = ~empty
    if not mask.any():
        raise ParameterError("every q bin is empty in at least one row: no features left")
    kept = s_q[:, mask]
    if not np.all(np.isfinite(kept)) or np.any(kept <= 0):
        raise ParameterError(
            "S(q) must be finite and positive in every non-empty bin to take log10; "
            "check the scattering normalisation"
        )
    return np.log10(kept), mask


def features_dimensionless(q, s_q, L1, ndim, *, n_points=32, x_range=(0.3, 5.0), outside="raise"):
    """Scale-free features: log10(S q1^d) on a fixed grid of q/q1, plus log10 q1.

    With the characteristic wavenumber ``q1 = 2 pi / L1`` (``L1`` the first
    moment length), dynamic scaling S(q, t) = L^d f(q L) makes S q1^d a
    function of q/q1 alone; interpolating it (linearly in log q) onto a fixed
    grid of q/q1 removes the coarsening time from the shape features, which
    then describe morphology only. The scale itself is kept as the last column
    (log10 q1), so no information is lost.

    Parameters
    ----------
    q : array_like, shape (B,)
        Bin centres.
    s_q : array_like, shape (rows, B)
        Structure factors; NaN bins are skipped row by row.
    L1 : array_like, shape (rows,)
        Characteristic length of each row (positive).
    ndim : {2, 3}
        Spatial dimension d.
    n_points : int
        Number of grid points, log-spaced over ``x_range``.
    x_range : (float, float)
        Range of q/q1 covered by the grid (0 < lo < hi).
    outside : {"raise", "edge"}
        What to do when a row's finite bins do not cover the grid: raise a
        ParameterError, or hold the end value (constant extrapolation).

    Returns
    -------
    X : ndarray, shape (rows, n_points + 1)
        log10(S q1^d) at the grid points, then log10(q1).
    x_grid : ndarray, shape (n_points,)
        The q/q1 grid.

    Raises
    ------
    ParameterError
        Bad shapes, non-positive S or L1, or (``outside="raise"``) a grid
        not covered by the data.
    """
    q, s_q = _as_curves(q, s_q)
    L1 = np.atleast_1d(np.asarray(L1, dtype=float))
    if L1.shape != (s_q.shape[0],):
        raise ParameterError(f"L1 must have shape ({s_q.shape[0]},), one length per row, got {L1.shape}")
    if not np.all(np.isfinite(L1)) or np.any(L1 <= 0):
        raise ParameterError("L1 must be finite and positive in every row")
    if ndim not in (2, 3):
        raise ParameterError(f"ndim must be 2 or 3, got {ndim!r}")
    if outside not in ("raise", "edge"):
        raise ParameterError(f"outside must be 'raise' or 'edge', got {outside!r}")
    lo, hi = (float(v) for v in x_range)
    if not (0 < lo < hi) or int(n_points) < 2:
        raise ParameterError(f"need 0 < x_range[0] < x_range[1] and n_points >= 2, got {x_range}, {n_points}")
    x_grid = np.logspace(np.log10(lo), np.log10(hi), int(n_points))
    finite = np.isfinite(s_q)
    if np.any(s_q[finite] <= 0) or np.any(np.isinf(s_q)):
        raise ParameterError("S(q) must be positive and finite in every non-empty bin to take log10")
    q1 = 2 * np.pi / L1
    X = np.empty((s_q.shape[0], x_grid.size + 1))
    lg = np.log10(x_grid)
    for i in range(s_q.shape[0]):
        ok = finite[i]
        if ok.sum() < 2:
            raise ParameterError(f"row {i} has fewer than 2 non-empty bins")
        lx = np.log10(q[ok] / q1[i])
        if outside == "raise" and (lx[0] > lg[0] + 1e-12 or lx[-1] < lg[-1] - 1e-12):
            raise ParameterError(
                f"row {i}: data cover q/q1 in [{10 ** lx[0]:.3g}, {10 ** lx[-1]:.3g}] but the grid "
                f"needs [{lo:.3g}, {hi:.3g}]: narrow x_range or pass outside='edge'"
            )
        ly = np.log10(s_q[i, ok] * q1[i] ** ndim)
        X[i, :-1] = np.interp(lg, lx, ly)
    X[:, -1] = np.log10(q1)
    return X, x_grid


def curve_moments(q, s_q, ndim):
    """Invariant and first-moment wavenumber of binned curves.

    Over the finite bins of each row (trapezoid rule in q):
    ``Q = int S(q) q^(d-1) dq`` (the scattering invariant up to the angular
    factor, Porod 1982) and ``q1 = int q S q^(d-1) dq / Q``. Computed from
    the *binned* curve alone, these are what a user can also compute from a
    measured curve, so training data and user data are normalised the same
    way (the characteristic length of the dataset, from the full spectrum of
    the field, is not available for measured data).

    Parameters
    ----------
    q : array_like, shape (B,)
        Bin centres (any inverse-length unit).
    s_q : array_like, shape (rows, B)
        Intensities (any scale); NaN marks an empty bin.
    ndim : {2, 3}
        Spatial dimension d of the scatterer.

    Returns
    -------
    Q : ndarray, shape (rows,)
        Invariant, units of S times q^d.
    q1 : ndarray, shape (rows,)
        First-moment wavenumber, units of q.
    """
    q, s_q = _as_curves(q, s_q)
    if ndim not in (2, 3):
        raise ParameterError(f"ndim must be 2 or 3, got {ndim!r}")
    Q = np.empty(s_q.shape[0])
    q1 = np.empty(s_q.shape[0])
    for i, row in enumerate(s_q):
        ok = np.isfinite(row)
        if ok.sum() < 2:
            raise ParameterError(f"row {i} has fewer than 2 non-empty bins")
        w = row[ok] * q[ok] ** (ndim - 1)
        Q[i] = np.trapezoid(w, q[ok])
        q1[i] = np.trapezoid(w * q[ok], q[ok]) / Q[i] if Q[i] > 0 else np.nan
    if not (np.all(np.isfinite(Q)) and np.all(Q > 0)):
        raise ParameterError("the invariant int S q^(d-1) dq must be positive: S(q) must be positive")
    return Q, q1


def features_scale_free(q, s_q, ndim, *, n_points=32, x_range=(0.3, 5.0)):
    """Features that do not depend on the units of q or the scale of I(q).

    ``log10(S(x q1) q1^d / Q)`` on a fixed log grid of ``x = q / q1``, with
    ``Q`` and ``q1`` from :func:`curve_moments` of each curve. Multiplying S
    by a constant (contrast, absolute calibration, volume normalisation)
    cancels in S / Q; changing the unit of q rescales q1 and cancels in
    q / q1 and in S q1^d / Q. Hence a model trained on simulations (q in 1/b,
    S per unit volume) applies to a measured curve in any units: it sees the
    *shape* of the curve only. Targets must then be scale-free too (see
    :func:`scale_free_targets`). A grid point outside a curve's data holds the
    curve's end value (constant extrapolation); the returned ``coverage``
    says how much of the grid each curve really covers.

    Parameters
    ----------
    q : array_like, shape (B,)
    s_q : array_like, shape (rows, B)
        NaN bins are skipped row by row.
    ndim : {2, 3}
    n_points : int
        Grid points, log-spaced over ``x_range``.
    x_range : (float, float)
        Range of q/q1.

    Returns
    -------
    X : ndarray, shape (rows, n_points)
    x_grid : ndarray, shape (n_points,)
    q1 : ndarray, shape (rows,)
        First-moment wavenumber of each curve (units of q).
    coverage : ndarray, shape (rows,)
        Fraction of the x grid inside each curve's finite q range.
    """
    q, s_q = _as_curves(q, s_q)
    lo, hi = (float(v) for v in x_range)
    if not (0 < lo < hi) or int(n_points) < 2:
        raise ParameterError(f"need 0 < x_range[0] < x_range[1] and n_points >= 2, got {x_range}, {n_points}")
    finite = np.isfinite(s_q)
    if np.any(s_q[finite] <= 0) or np.any(np.isinf(s_q)):
        raise ParameterError("S(q) must be positive and finite in every non-empty bin to take log10")
    Q, q1 = curve_moments(q, s_q, ndim)
    x_grid = np.logspace(np.log10(lo), np.log10(hi), int(n_points))
    lg = np.log10(x_grid)
    X = np.empty((s_q.shape[0], x_grid.size))
    coverage = np.empty(s_q.shape[0])
    for i in range(s_q.shape[0]):
        ok = finite[i]
        lx = np.log10(q[ok] / q1[i])
        X[i] = np.interp(lg, lx, np.log10(s_q[i, ok] * q1[i] ** ndim / Q[i]))
        coverage[i] = np.mean((lg >= lx[0] - 1e-12) & (lg <= lx[-1] + 1e-12))
    return X, x_grid, q1, coverage


#: power of the inverse length in each density (units length^-p)
DENSITY_POWER = {
    "area_density": 0, "volume_density": 0, "perimeter_density": 1, "surface_density": 1,
    "mean_curvature_density": 2, "euler_density": None,
}


def density_power(name, ndim):
    """Exponent p of a Minkowski density with units length^-p in d dims."""
    if name not in DENSITY_POWER:
        raise ParameterError(f"unknown functional {name!r}: choose one of {sorted(DENSITY_POWER)}")
    p = DENSITY_POWER[name]
    return ndim if p is None else p


def scale_free_targets(values, q1, name, ndim):
    """Minkowski densities made dimensionless with the curve's q1.

    A density with units length^-p becomes ``value / q1^p`` (area/volume
    fraction p = 0, perimeter/surface p = 1, mean curvature p = 2 (3D),
    Euler characteristic p = d); multiply a prediction by ``q1^p`` in the
    user's units to get the density back (:func:`from_scale_free`).
    """
    p = density_power(name, ndim)
    return np.asarray(values, dtype=float) / np.asarray(q1, dtype=float) ** p


def from_scale_free(values, q1, name, ndim):
    """Inverse of :func:`scale_free_targets`: densities in units of q^p."""
    p = density_power(name, ndim)
    return np.asarray(values, dtype=float) * np.asarray(q1, dtype=float) ** p


# --------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------
def _cut(q, s, lo, hi):
    """The points of one curve (finite, sorted q) inside [lo, hi], with the
    window edges added by linear interpolation in log q - log S."""
    inside = (q > lo) & (q < hi)
    lq, ls = np.log(q), np.log(s)
    qa, sa = [q[inside]], [s[inside]]
    if q[0] <= lo:
        qa.insert(0, [lo])
        sa.insert(0, [np.exp(np.interp(np.log(lo), lq, ls))])
    if q[-1] >= hi:
        qa.append([hi])
        sa.append([np.exp(np.interp(np.log(hi), lq, ls))])
    return np.concatenate(qa), np.concatenate(sa)


def window_curve(q, s, ndim, x_range):
    """Cut a curve to ``x_range[0] q1 <= q <= x_range[1] q1`` of its own q1.

    q1 is the first-moment wavenumber of :func:`scattermorph.learn.features.curve_moments`
    computed over the window itself: a root of
    ``g(q1) = M1(window(q1)) - q1`` with ``M1 = int q S q^(d-1) dq / int S q^(d-1) dq``
    over the window. The window edges are interpolated linearly in
    log q - log S, so g is continuous in q1 and does not jump when a bin
    enters the window; where the data end inside the window, the window ends
    with the data. Since the window's mean lies inside the data,
    g(q_min) >= 0 > g(q_max): a root always exists. The root nearest the
    first moment of the whole curve is taken: bracketed by steps of 2 % from
    there, then refined by Brent's method (``scipy.optimize.brentq``) to a
    relative 1e-13.

    Parameters
    ----------
    q : array_like, shape (B,)
        Increasing q.
    s : array_like, shape (B,)
        Intensities; NaN points are skipped.
    ndim : {2, 3}
    x_range : (float, float)

    Returns
    -------
    q_w, s_w : ndarray
        The windowed curve (edges included).
    q1 : float
        First-moment wavenumber over the window (units of q).

    Raises
    ------
    ParameterError
        Fewer than 2 points in a window.
    """
    q = np.asarray(q, dtype=float)
    s = np.asarray(s, dtype=float)
    ok = np.isfinite(s)
    q, s = q[ok], s[ok]
    lo, hi = (float(v) for v in x_range)

    def g(x):
        qw, sw = _cut(q, s, lo * x, hi * x)
        if qw.size < 2:
            raise ParameterError(
                f"fewer than 2 points within q/q1 in [{lo:g}, {hi:g}] (q1 = {x:.4g}); the q range "
                "of the curve is too narrow"
            )
        return float(curve_moments(qw, sw[None], ndim)[1][0]) - x

    x = float(np.clip(curve_moments(q, s[None], ndim)[1][0], q[0], q[-1]))
    gx = g(x)
    step = 1.02 if gx > 0 else 1 / 1.02
    while gx != 0:
        y = float(np.clip(x * step, q[0], q[-1]))
        gy = g(y) if y not in (q[0], q[-1]) else (1.0 if y == q[0] else -1.0)
        if (gy > 0) != (gx > 0) or gy == 0:
            x = brentq(g, min(x, y), max(x, y), xtol=1e-14 * x, rtol=1e-13)
            break
        x, gx = y, gy
    qw, sw = _cut(q, s, lo * x, hi * x)
    return qw, sw, x


def _interp_log(q, s_q, grid):
    """log10 S interpolated (linearly in log q) onto ``grid``; coverage per row."""
    lg = np.log10(grid)
    X = np.empty((s_q.shape[0], grid.size))
    cov = np.empty(s_q.shape[0])
    for i, row in enumerate(s_q):
        ok = np.isfinite(row)
        lq = np.log10(q[ok])
        X[i] = np.interp(lg, lq, np.log10(row[ok]))
        cov[i] = np.mean((lg >= lq[0] - 1e-12) & (lg <= lq[-1] + 1e-12))
    return X, cov


def scale_free_windowed(q, s_q, ndim, *, n_points=32, x_range=(0.3, 5.0)):
    """Scale-free features of curves, each cut to its own q1 window first.

    The definition the saved models use (:func:`window_curve`, then
    :func:`scattermorph.learn.features.features_scale_free`), so the study's
    evaluation scores exactly the input that users' curves get.

    Returns
    -------
    X : ndarray, shape (rows, n_points)
    q1 : ndarray, shape (rows,)
    """
    spec = {"kind": "scale_free", "ndim": int(ndim), "x_range": tuple(x_range), "n_points": int(n_points)}
    X, q1, _, _ = _featurise(spec, None, q, s_q)
    return X, q1


#: absolute-scale columns appended to the 32 shape columns of each scale-free kind
SCALE_COLUMNS = {"scale_free": (), "scale_free_invariant": ("log10 invariant",),
                 "scale_free_absolute": ("log10 invariant", "log10 q1")}


def _featurise(features, grid, q, s_q):
    """Features of curves (see :meth:`FunctionalModel.featurise`)."""
    q = np.asarray(q, dtype=float)
    s_q = np.atleast_2d(np.asarray(s_q, dtype=float))
    if features["kind"] in SCALE_COLUMNS:
        ndim, xr, n_points = int(features["ndim"]), features["x_range"], features["n_points"]
        extra = len(SCALE_COLUMNS[features["kind"]])
        X = np.empty((s_q.shape[0], int(n_points) + extra))
        q1, cov, n_in = np.empty(s_q.shape[0]), np.empty(s_q.shape[0]), np.empty(s_q.shape[0], int)
        for i, row in enumerate(s_q):
            qw, sw, _ = window_curve(q, row, ndim, xr)
            Xi, _, q1i, ci = features_scale_free(qw, sw[None], ndim, n_points=n_points, x_range=xr)
            if extra:  # the absolute invariant over the window: carries min(phi, 1 - phi) (Babinet)
                Xi = np.append(Xi[0], np.log10(curve_moments(qw, sw[None], ndim)[0][0]))[None]
            if extra == 2:  # log10 q1 in the unit of q: the absolute length scale (coarsening stage)
                Xi = np.append(Xi[0], np.log10(q1i[0]))[None]
            X[i], q1[i], cov[i], n_in[i] = Xi[0], q1i[0], ci[0], qw.size
        return X, q1, cov, n_in
    X, cov = _interp_log(q, s_q, grid)
    inside = np.isfinite(s_q) & (q >= grid[0]) & (q <= grid[-1])
    return X, np.full(s_q.shape[0], np.nan), cov, inside.sum(axis=1)
