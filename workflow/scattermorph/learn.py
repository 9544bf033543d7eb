"""Learn Minkowski functionals from the scattering curve S(q).

Feature builders, Gaussian-process regressors and baselines, data splits and
metrics for the question of the study: can a regressor recover the Minkowski
functionals (area/volume, perimeter/surface, Euler characteristic densities)
of a phase-separated blend from its structure factor S(q) alone?

The protocol follows Jones & Clarke, "Machine learning of the morphology of
phase-separated polymer blends from scattering", Soft Matter 17, 9689 (2021):
Gaussian-process regression (GPR) on log10 S(q), with bins that are empty in
any curve removed, trained on random subsets of the snapshots of one time
series (:func:`paper_splits`). Because snapshots of one simulation are strongly
correlated, the study also provides a harder, honest protocol that holds out
whole simulations (:func:`grouped_split`, :func:`evaluate_grouped`).

Gaussian processes are scikit-learn's :class:`GaussianProcessRegressor`
(Rasmussen & Williams, *Gaussian Processes for Machine Learning*, MIT Press,
2006, ch. 2 and 5: exact GP posterior, hyper-parameters by maximising the log
marginal likelihood); nothing here re-implements the GP algebra.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Hyperparameter,
    Kernel,
    Matern,
    NormalizedKernelMixin,
    RationalQuadratic,
    StationaryKernelMixin,
    WhiteKernel,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from scattermorph.errors import ParameterError

__all__ = [
    "GP_KERNELS",
    "BASELINES",
    "features_log_sq",
    "features_dimensionless",
    "curve_moments",
    "features_scale_free",
    "scale_free_targets",
    "from_scale_free",
    "density_power",
    "FeatureScaler",
    "SCALINGS",
    "GroupedRBF",
    "make_gp",
    "make_paper_gp",
    "make_baseline",
    "grouped_split",
    "paper_splits",
    "regression_metrics",
    "grouped_labels",
    "evaluate_grouped",
]

#: Kernel names accepted by :func:`make_gp`.
GP_KERNELS = ("squared_exponential", "rational_quadratic", "matern52", "exponential")
#: Baseline names accepted by :func:`make_baseline`.
BASELINES = ("ridge", "kernel_ridge", "random_forest")

# Hyper-parameter bounds. Inputs are centred and scaled to a unit typical
# spread by the pipeline and normalize_y=True standardises the target, so O(1)
# is the natural scale of length scales, signal variance and noise alike.
_LENGTH_BOUNDS = (1e-2, 1e3)
_AMPLITUDE_BOUNDS = (1e-5, 1e5)
_NOISE_BOUNDS = (1e-8, 1e1)


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
# models
# --------------------------------------------------------------------------
class FeatureScaler(BaseEstimator, TransformerMixin):
    """Centre the inputs and divide them by one scale or one scale per column.

    Parameters
    ----------
    mode : {"global", "feature", "none"}
        ``"global"``: subtract each column's mean and divide *every* column by
        one common scale, the root-mean-square of the column standard
        deviations, so Euclidean distances (and an isotropic kernel) weigh the
        features as the raw inputs do, only in units of a typical spread.
        ``"feature"``: scikit-learn's StandardScaler (each column to unit
        variance: with an isotropic kernel, ~100 flat, noisy high-q bins of
        log S then outweigh the few informative low-q bins, issue 15).
        ``"none"``: the identity (mean 0, scale 1), the paper's raw inputs.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (p,)
        ``transform(X) = (X - mean_) / scale_``.
    """

    def __init__(self, mode="global"):
        self.mode = mode

    def fit(self, X, y=None):
        if self.mode not in SCALINGS:
            raise ParameterError(f"unknown input scaling {self.mode!r}: choose one of {SCALINGS}")
        X = np.asarray(X, dtype=float)
        if self.mode == "none":
            self.mean_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
            return self
        sc = StandardScaler().fit(X)
        self.mean_ = sc.mean_
        if self.mode == "feature":
            self.scale_ = sc.scale_
        else:
            rms = float(np.sqrt(np.mean(sc.var_)))
            self.scale_ = np.full(X.shape[1], rms if rms > 0 else 1.0)
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=float) - self.mean_) / self.scale_


class GroupedRBF(StationaryKernelMixin, NormalizedKernelMixin, Kernel):
    """Squared exponential with one length scale per *group* of input columns.

    ``k(x, x') = exp(-1/2 sum_g |x_g - x'_g|^2 / l_g^2)``, where ``x_g`` are
    the columns of group ``g``: the anisotropic RBF of Rasmussen & Williams
    (2006, eq. 5.2) with the length scales tied within each group. It lets
    the shape bins of a curve share one length scale while an input of
    another kind (log10 of the absolute invariant, which carries the volume
    fraction by Babinet's principle) gets its own, fitted by the marginal
    likelihood like the others, without one length scale per bin (full ARD).
    scikit-learn has no "active dimensions", hence this kernel.

    Parameters
    ----------
    groups : tuple of int
        Group index (0 .. G-1, each used) of every input column.
    length_scale : float or array_like, shape (G,)
    length_scale_bounds : (float, float) or "fixed"
    """

    def __init__(self, groups, length_scale=1.0, length_scale_bounds=(1e-5, 1e5)):
        self.groups = groups
        self.length_scale = length_scale
        self.length_scale_bounds = length_scale_bounds

    @property
    def n_groups(self):
        return int(np.max(self.groups)) + 1

    @property
    def hyperparameter_length_scale(self):
        return Hyperparameter("length_scale", "numeric", self.length_scale_bounds, self.n_groups)

    def _check(self, X):
        g = np.asarray(self.groups, dtype=int)
        if g.ndim != 1 or g.size != X.shape[1] or g.min() < 0 or set(g.tolist()) != set(range(self.n_groups)):
            raise ParameterError(
                f"GroupedRBF: groups must give a group 0..G-1 (each used) for each of the {X.shape[1]} "
                f"input columns, got {self.groups!r}"
            )
        ls = np.broadcast_to(np.asarray(self.length_scale, dtype=float).ravel(), (self.n_groups,))
        return g, ls

    def __call__(self, X, Y=None, eval_gradient=False):
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if eval_gradient and Y is not None:
            raise ValueError("gradient can only be evaluated when Y is None")
        g, ls = self._check(X)
        Y = X if Y is None else np.atleast_2d(np.asarray(Y, dtype=float))
        parts = []
        for k in range(self.n_groups):
            a, b = X[:, g == k] / ls[k], Y[:, g == k] / ls[k]
            parts.append(np.maximum((a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None, :], 0.0))
        K = np.exp(-0.5 * np.sum(parts, axis=0))
        if not eval_gradient:
            return K
        if self.hyperparameter_length_scale.fixed:
            return K, np.empty((X.shape[0], X.shape[0], 0))
        # d K / d log l_g = K * |x_g - x'_g|^2 / l_g^2
        return K, np.stack([K * d for d in parts], axis=-1)

    def __repr__(self):
        ls = np.broadcast_to(np.asarray(self.length_scale, dtype=float).ravel(), (self.n_groups,))
        return f"GroupedRBF(length_scale=[{', '.join(f'{v:.3g}' for v in ls)}], groups={self.n_groups})"


#: input scalings of :func:`make_gp` (see :class:`FeatureScaler`)
SCALINGS = ("global", "feature", "none")


def make_gp(kernel="squared_exponential", *, ard=False, n_features=None, noise=True, restarts=3,
            random_state=0, scaling="global", groups=None):
    """Gaussian-process regressor: input scaling then GPR with normalised y.

    The covariance is ``ConstantKernel * k(x, x') [+ WhiteKernel]``; its
    hyper-parameters maximise the log marginal likelihood (Rasmussen &
    Williams 2006, sec. 5.4) with ``restarts`` extra optimiser starts drawn
    from ``random_state``. This is the regressor of Jones & Clarke, Soft
    Matter 17, 9689 (2021), with the inputs centred and brought to a unit
    typical spread (``scaling="global"``) so that O(1) bounds of the length
    scale fit any feature set; :func:`make_paper_gp` is their exact model.

    Parameters
    ----------
    kernel : {"squared_exponential", "rational_quadratic", "matern52", "exponential"}
        RBF, RationalQuadratic, Matern(nu=2.5) or Matern(nu=0.5).
    ard : bool
        Automatic relevance determination: one length scale per feature
        (needs ``n_features``; not available for ``rational_quadratic``,
        whose scikit-learn kernel is isotropic).
    n_features : int, optional
        Number of input features (required when ``ard``).
    noise : bool
        Add a WhiteKernel (fitted observation-noise variance).
    restarts : int
        ``n_restarts_optimizer`` of the GPR.
    random_state : int
        Seed of the optimiser restarts.
    scaling : {"global", "feature", "none"}
        Input scaling (:class:`FeatureScaler`). ``"global"`` (default) keeps
        the features' relative weights; ``"feature"`` standardises each one
        (the default before issue 15: it lost 2-14x in accuracy to the plain
        GP because the many noisy high-q bins dominated the distance).

    groups : sequence of int, optional
        A group index per input column: the squared exponential then has one
        length scale per group (:class:`GroupedRBF`; e.g. the shape bins of a
        curve and its absolute-scale columns). Only with
        ``kernel="squared_exponential"`` and ``ard=False``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` and ``gp``; ``predict(X, return_std=True)`` works.
    """
    if groups is not None and (kernel != "squared_exponential" or ard):
        raise ParameterError("grouped length scales (groups=...) need kernel='squared_exponential' and ard=False")
    if kernel not in GP_KERNELS:
        raise ParameterError(f"unknown GP kernel {kernel!r}: choose one of {GP_KERNELS}")
    if scaling not in SCALINGS:
        raise ParameterError(f"unknown input scaling {scaling!r}: choose one of {SCALINGS}")
    if int(restarts) < 0:
        raise ParameterError(f"restarts must be >= 0, got {restarts}")
    if ard:
        if kernel == "rational_quadratic":
            raise ParameterError(
                "ARD is not possible for rational_quadratic: scikit-learn's RationalQuadratic "
                "has a single (isotropic) length scale; use ard=False or another kernel"
            )
        if n_features is None or int(n_features) < 1:
            raise ParameterError("ard=True needs n_features (the number of input columns)")
        length = np.ones(int(n_features))
    else:
        length = 1.0
    if groups is not None:
        groups = tuple(int(g) for g in groups)
        base = GroupedRBF(groups, np.ones(max(groups) + 1), _LENGTH_BOUNDS)
    elif kernel == "squared_exponential":
        base = RBF(length, _LENGTH_BOUNDS)
    elif kernel == "rational_quadratic":
        base = RationalQuadratic(1.0, 1.0, length_scale_bounds=_LENGTH_BOUNDS, alpha_bounds=(1e-3, 1e3))
    elif kernel == "matern52":
        base = Matern(length, _LENGTH_BOUNDS, nu=2.5)
    else:
        base = Matern(length, _LENGTH_BOUNDS, nu=0.5)
    k = ConstantKernel(1.0, _AMPLITUDE_BOUNDS) * base
    if noise:
        k = k + WhiteKernel(1e-2, _NOISE_BOUNDS)
    gp = GaussianProcessRegressor(
        kernel=k, normalize_y=True, n_restarts_optimizer=int(restarts),
        random_state=int(random_state),
    )
    return Pipeline([("scale", FeatureScaler(scaling)), ("gp", gp)])


def make_paper_gp(restarts=2, random_state=0):
    """The exact model of Jones & Clarke, Soft Matter 17, 9689 (2021): a baseline.

    scikit-learn's ``GaussianProcessRegressor(ConstantKernel() * RBF() +
    WhiteKernel(), normalize_y=True, n_restarts_optimizer=2)`` with the
    library's default starting values (all 1) and bounds (1e-5, 1e5), on the
    raw inputs (no scaling: :class:`FeatureScaler` ``"none"``, kept only so
    the model has the ``scale`` and ``gp`` steps of :func:`make_gp`).

    Parameters
    ----------
    restarts : int
        ``n_restarts_optimizer`` (the paper's 2).
    random_state : int
        Seed of the optimiser restarts.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    if int(restarts) < 0:
        raise ParameterError(f"restarts must be >= 0, got {restarts}")
    gp = GaussianProcessRegressor(kernel=ConstantKernel() * RBF() + WhiteKernel(), normalize_y=True,
                                  n_restarts_optimizer=int(restarts), random_state=int(random_state))
    return Pipeline([("scale", FeatureScaler("none")), ("gp", gp)])


def make_baseline(name, random_state=0):
    """A non-GP baseline regressor (point predictions only).

    Parameters
    ----------
    name : {"ridge", "kernel_ridge", "random_forest"}
        ``ridge``: StandardScaler + RidgeCV over alpha in 10^[-4, 4] (33
        log-spaced values, efficient leave-one-out CV). ``kernel_ridge``:
        StandardScaler + KernelRidge(rbf) tuned by shuffled 5-fold
        GridSearchCV over alpha in {1e-3, 1e-2, 1e-1, 1} and gamma in
        {1e-4, ..., 1} (decades; inputs are standardised, so gamma ~ 1/p is
        inside the grid for p up to 10^4 features). ``random_forest``: RandomForestRegressor with
        200 trees.
    random_state : int
        Seed (CV shuffling, forest bootstrap); unused by ridge.

    Returns
    -------
    sklearn estimator
    """
    if name == "ridge":
        return Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(alphas=np.logspace(-4, 4, 33)))])
    if name == "kernel_ridge":
        pipe = Pipeline([("scale", StandardScaler()), ("kr", KernelRidge(kernel="rbf"))])
        grid = {"kr__alpha": [1e-3, 1e-2, 1e-1, 1.0], "kr__gamma": [1e-4, 1e-3, 1e-2, 1e-1, 1.0]}
        cv = KFold(5, shuffle=True, random_state=int(random_state))
        return GridSearchCV(pipe, grid, cv=cv)
    if name == "random_forest":
        return RandomForestRegressor(n_estimators=200, random_state=int(random_state))
    raise ParameterError(f"unknown baseline {name!r}: choose one of {BASELINES}")


# --------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------
def grouped_split(groups, test_fraction=0.2, rng=0, strata=None):
    """Train/test masks that never share a group (simulation).

    Groups are taken in a random order (from ``rng``) and added to the test
    set until the cumulative size first reaches ``test_fraction * n``; of the
    sets just before and just after that group, the one closer to the target
    is kept, so the test size is within one group's size of the target (only
    the requirement that both sides get at least one group can override this
    for extreme fractions).

    With ``strata`` (e.g. the sweep point (phi0, quench) of every sample) the
    split is stratified: each stratum of ``m`` groups sends ``floor(f m)`` of
    them, chosen at random, to the test set, and the remaining groups needed
    to reach ``round(f M)`` test groups of ``M`` come one each from strata
    with a fractional remainder (largest remainder first, random among
    ties). With two replicates per sweep point and f = 1/2, every point then
    has one run on each side: the test measures interpolation between the
    training runs, never extrapolation to a sweep point the model has not
    seen (an unstratified draw held out both runs of a corner point of the
    3D sweep, phi0 0.5 at quench 1.15, and scored the extrapolation).

    Parameters
    ----------
    groups : array_like, shape (n,)
        Group label of every sample (e.g. ``sim_id``); at least two groups.
    test_fraction : float
        Target fraction of samples in the test set, 0 < f < 1.
    rng : int or numpy.random.Generator
        Seed or generator; the same seed gives the same split.
    strata : array_like, shape (n,), optional
        Stratum of every sample, constant within a group.

    Returns
    -------
    train, test : ndarray of bool, shape (n,)
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise ParameterError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction}")
    uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if uniq.size < 2:
        raise ParameterError("grouped_split needs at least 2 distinct groups")
    if strata is not None:
        test_groups = _stratified_groups(inverse, uniq.size, np.asarray(strata), test_fraction, rng)
        test = np.isin(inverse, test_groups)
        return ~test, test
    order = np.random.default_rng(rng).permutation(uniq.size)
    cum = np.cumsum(sizes[order])
    target = test_fraction * groups.size
    k = int(np.searchsorted(cum, target))  # first position with cum >= target
    n_take = k + 1
    if k > 0 and abs(cum[k - 1] - target) <= abs(cum[k] - target):
        n_take = k
    n_take = min(max(n_take, 1), uniq.size - 1)
    test = np.isin(inverse, order[:n_take])
    return ~test, test


def _stratified_groups(inverse, n_groups, strata, test_fraction, rng) -> np.ndarray:
    """Indices of the test groups of a stratified grouped split (see
    :func:`grouped_split`)."""
    if strata.shape != inverse.shape:
        raise ParameterError(f"strata has shape {strata.shape}, expected {inverse.shape} like groups")
    first = np.zeros(n_groups, dtype=int)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]  # first sample of every group
    g_stratum = strata[first]
    if np.any(strata != g_stratum[inverse]):
        raise ParameterError("a group spans several strata: give one stratum per group")
    gen = np.random.default_rng(rng)
    labels, s_of_g = np.unique(g_stratum, return_inverse=True)
    target = min(max(int(round(test_fraction * n_groups)), 1), n_groups - 1)
    counts = np.bincount(s_of_g, minlength=labels.size)
    base = np.floor(test_fraction * counts).astype(int)
    rest = test_fraction * counts - base
    extra = target - base.sum()
    if extra > 0:
        tie = gen.random(labels.size)
        order = np.lexsort((tie, -rest))  # largest remainder first, random ties
        base[order[:extra]] += 1
    picked = []
    for k in range(labels.size):
        members = np.flatnonzero(s_of_g == k)
        picked.extend(gen.permutation(members)[: base[k]].tolist())
    return np.sort(np.asarray(picked, dtype=int))


def paper_splits(table, n_repeats=10, n_train=30, n_test=7, rng=0, sim_ids=None) -> Iterator:
    """Random train/test splits within one time series (Jones & Clarke 2021).

    Jones & Clarke, Soft Matter 17, 9689 (2021) trained and tested on the
    snapshots of a single simulation: a random ``n_train`` (30) of its
    snapshots for training and ``n_test`` (7) others for testing, repeated.
    Train and test snapshots come from the same coarsening run, so this
    measures interpolation in time, not generalisation to a new simulation
    (see :func:`grouped_split` for that).

    If a series has fewer than ``n_train + n_test`` snapshots, **all** of its
    snapshots are used, split in the same ratio: ``n_test' = max(1,
    round(n * n_test / (n_train + n_test)))`` and ``n_train' = n - n_test'``
    (20 snapshots give 16 train / 4 test).

    Parameters
    ----------
    table : pandas.DataFrame
        The dataset table; needs a ``sim_id`` column. Indices returned are
        positions (0 .. len(table)-1), usable on the feature matrix rows.
    n_repeats : int
        Random splits per series.
    n_train, n_test : int
        Sizes of the training and test sets.
    rng : int or numpy.random.Generator
        Seed or generator.
    sim_ids : sequence, optional
        Series to use (default: all, in sorted order).

    Yields
    ------
    (sim_id, train_idx, test_idx)
        Disjoint, sorted integer position arrays within that series.
    """
    if "sim_id" not in getattr(table, "columns", ()):
        raise ParameterError("paper_splits needs a table with a 'sim_id' column")
    if n_train < 1 or n_test < 1 or n_repeats < 1:
        raise ParameterError(f"n_train, n_test and n_repeats must be >= 1, got {n_train}, {n_test}, {n_repeats}")
    gen = np.random.default_rng(rng)
    sid = table["sim_id"].to_numpy()
    ids = np.unique(sid) if sim_ids is None else list(sim_ids)
    for s in ids:
        pos = np.flatnonzero(sid == s)
        n = pos.size
        if n < 2:
            raise ParameterError(f"series {s!r} has {n} snapshot(s): need at least 2 to split")
        if n >= n_train + n_test:
            ntr, nte = n_train, n_test
        else:
            nte = min(max(1, int(round(n * n_test / (n_train + n_test)))), n - 1)
            ntr = n - nte
        for _ in range(int(n_repeats)):
            perm = gen.permutation(pos)
            yield s, np.sort(perm[:ntr]), np.sort(perm[ntr:ntr + nte])


# --------------------------------------------------------------------------
# metrics and evaluation
# --------------------------------------------------------------------------
def regression_metrics(y_true, y_pred, y_std=None):
    """Accuracy and (with ``y_std``) calibration of predictions.

    Definitions (n points, r = y_true - y_pred):

    * ``r2`` = 1 - sum r^2 / sum (y_true - mean y_true)^2 (NaN if y_true is
      constant);
    * ``rmse`` = sqrt(mean r^2);
    * ``relative_rmse`` = rmse / std(y_true), population std (ddof=0), so
      relative_rmse = sqrt(1 - r2): 0 is perfect, 1 is no better than
      predicting the mean. Jones & Clarke (2021) report a relative RMSE; their
      exact normalisation is not reproduced here, this definition is ours;
    * ``range_rmse`` = rmse / (max - min of y_true), for comparison.

    With ``y_std`` (predictive standard deviations, positive), z = r / y_std:

    * ``coverage_68`` = fraction with |z| <= 1, ``coverage_95`` = fraction
      with |z| <= 1.96 (0.683 and 0.95 if the Gaussian predictive
      distribution is calibrated);
    * ``z_mean``, ``z_std`` (ddof=0): 0 and 1 if calibrated;
    * ``nlpd``: mean negative log predictive density of a Gaussian.

    Returns
    -------
    dict of str to float (plus ``n``: the number of points)
    """
    yt = np.asarray(y_true, dtype=float).ravel()
    yp = np.asarray(y_pred, dtype=float).ravel()
    if yt.size == 0 or yt.shape != yp.shape:
        raise ParameterError(f"y_true and y_pred must be non-empty and the same length, got {yt.size} and {yp.size}")
    if not (np.all(np.isfinite(yt)) and np.all(np.isfinite(yp))):
        raise ParameterError("y_true and y_pred must be finite")
    r = yt - yp
    ss_tot = float(np.sum((yt - yt.mean()) ** 2))
    rmse = float(np.sqrt(np.mean(r ** 2)))
    sd = float(np.std(yt))
    span = float(np.ptp(yt))
    out = {
        "n": int(yt.size),
        "r2": 1.0 - float(np.sum(r ** 2)) / ss_tot if ss_tot > 0 else np.nan,
        "rmse": rmse,
        "relative_rmse": rmse / sd if sd > 0 else np.nan,
        "range_rmse": rmse / span if span > 0 else np.nan,
    }
    if y_std is not None:
        s = np.asarray(y_std, dtype=float).ravel()
        if s.shape != yt.shape:
            raise ParameterError(f"y_std must have the length of y_true ({yt.size}), got {s.size}")
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ParameterError("y_std must be finite and positive (predictive standard deviations)")
        z = r / s
        out.update(
            coverage_68=float(np.mean(np.abs(z) <= 1.0)),
            coverage_95=float(np.mean(np.abs(z) <= 1.96)),
            z_mean=float(np.mean(z)),
            z_std=float(np.std(z)),
            nlpd=float(np.mean(0.5 * np.log(2 * np.pi * s ** 2) + 0.5 * z ** 2)),
        )
    return out


def _final_step(model):
    while True:
        if isinstance(model, Pipeline):
            model = model.steps[-1][1]
        elif hasattr(model, "best_estimator_"):
            model = model.best_estimator_
        else:
            return model


def _predict(model, X):
    final = _final_step(model)
    if "return_std" in inspect.signature(final.predict).parameters:
        mu, sd = model.predict(X, return_std=True)
        return np.asarray(mu), np.asarray(sd)
    return np.asarray(model.predict(X)), None


def grouped_labels(groups, rng=0):
    """Group labels replaced by a seeded random permutation of 0..G-1.

    GroupKFold assigns groups to folds deterministically (by size); relabelling
    the groups at random first makes the assignment random but reproducible
    from ``rng``. Returns an int array of the shape of ``groups``.
    """
    uniq, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return np.random.default_rng(rng).permutation(uniq.size)[inverse]


def evaluate_grouped(X, y, groups, model_factory: Callable | object, *, n_splits=5, random_state=0,
                     return_predictions=False):
    """Cross-validate with whole groups (simulations) held out per fold.

    GroupKFold assigns groups to folds deterministically; to randomise the
    assignment the group labels are first replaced by a random permutation of
    0..G-1 drawn from ``random_state``. Every model is fitted afresh per fold.
    Models whose final step accepts ``return_std`` (GPs) also get the
    calibration metrics of :func:`regression_metrics`.

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    groups : array_like, shape (n,)
        Group (simulation) of every row.
    model_factory : callable or estimator
        Called with no argument to build each fold's model, or an unfitted
        estimator that is cloned.
    n_splits : int
        Number of folds (at most the number of groups).
    random_state : int or numpy.random.Generator
        Seed of the group permutation.
    return_predictions : bool
        Also return the out-of-fold predictions.

    Returns
    -------
    pandas.DataFrame
        One row per fold: fold, n_train, n_test, n_test_groups, fit_seconds
        and the metrics. With ``return_predictions``, also a DataFrame with
        columns row, fold, y_true, y_pred, y_std (NaN without a std).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    groups = np.asarray(groups)
    if X.ndim != 2 or X.shape[0] != y.size or groups.shape != (y.size,):
        raise ParameterError(
            f"X must be (n, p) with y and groups of length n; got X {X.shape}, y {y.shape}, groups {groups.shape}"
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ParameterError("X and y must be finite: drop rows with missing targets or features first")
    uniq, inverse = np.unique(groups, return_inverse=True)
    if not 2 <= int(n_splits) <= uniq.size:
        raise ParameterError(f"n_splits must be in [2, number of groups = {uniq.size}], got {n_splits}")
    labels = grouped_labels(groups, random_state)
    rows, preds = [], []
    for fold, (tr, te) in enumerate(GroupKFold(int(n_splits)).split(X, y, labels)):
        model = clone(model_factory) if hasattr(model_factory, "fit") else model_factory()
        t0 = time.perf_counter()
        model.fit(X[tr], y[tr])
        fit_s = time.perf_counter() - t0
        mu, sd = _predict(model, X[te])
        if sd is not None:
            sd = np.maximum(sd, np.finfo(float).tiny)
        rows.append({"fold": fold, "n_train": tr.size, "n_test": te.size,
                     "n_test_groups": np.unique(labels[te]).size, "fit_seconds": fit_s,
                     **regression_metrics(y[te], mu, sd)})
        preds.append(pd.DataFrame({"row": te, "fold": fold, "y_true": y[te], "y_pred": mu,
                                   "y_std": np.nan if sd is None else sd}))
    result = pd.DataFrame(rows)
    if return_predictions:
        return result, pd.concat(preds, ignore_index=True).sort_values("row", ignore_index=True)
    return result
