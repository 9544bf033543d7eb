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

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
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
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from scattermorph.errors import ParameterError
from scattermorph.learn.splits import grouped_labels

__all__ = [
    "GP_KERNELS",
    "BASELINES",
    "FeatureScaler",
    "SCALINGS",
    "GroupedRBF",
    "make_gp",
    "make_paper_gp",
    "make_baseline",
    "grouped_labels",
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
        log S then outweigh the few informative low-q bins).
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
        (the earlier default: it lost 2-14x in accuracy to the plain
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
    _check_gp_args(kernel, ard=ard, n_features=n_features, restarts=restarts, scaling=scaling, groups=groups)
    k = ConstantKernel(1.0, _AMPLITUDE_BOUNDS) * _base_kernel(kernel, ard=ard, n_features=n_features, groups=groups)
    if noise:
        k = k + WhiteKernel(1e-2, _NOISE_BOUNDS)
    gp = GaussianProcessRegressor(
        kernel=k, normalize_y=True, n_restarts_optimizer=int(restarts),
        random_state=int(random_state),
    )
    return Pipeline([("scale", FeatureScaler(scaling)), ("gp", gp)])


def _check_gp_args(kernel, *, ard, n_features, restarts, scaling, groups) -> None:
    """Refuse a combination of :func:`make_gp` arguments it cannot build."""
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


def _base_kernel(kernel, *, ard, n_features, groups):
    """The correlation kernel of :func:`make_gp` (unit amplitude, length scales starting at 1)."""
    length = np.ones(int(n_features)) if ard else 1.0
    if groups is not None:
        groups = tuple(int(g) for g in groups)
        return GroupedRBF(groups, np.ones(max(groups) + 1), _LENGTH_BOUNDS)
    if kernel == "squared_exponential":
        return RBF(length, _LENGTH_BOUNDS)
    if kernel == "rational_quadratic":
        return RationalQuadratic(1.0, 1.0, length_scale_bounds=_LENGTH_BOUNDS, alpha_bounds=(1e-3, 1e3))
    if kernel == "matern52":
        return Matern(length, _LENGTH_BOUNDS, nu=2.5)
    return Matern(length, _LENGTH_BOUNDS, nu=0.5)


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


