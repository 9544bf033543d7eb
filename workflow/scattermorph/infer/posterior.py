"""Bayesian calibration of the simulation from a scattering curve, through an emulator.

Which composition ``phi0``, quench depth ``chi/chi_s`` and age ``t/tau`` of the
Cahn-Hilliard-Cook blend produce a given S(q), and how sure can we be?

Emulator of the scattering
--------------------------
The input of the study's user-facing models, the scale-free features of a
curve (log10 S q1^d / Q on a grid of x = q/q1, each curve cut to its own q1
window: :func:`scattermorph.learn.features.scale_free_windowed`), is reduced to a few
principal components (scikit-learn PCA) and each component is emulated by a
scikit-learn :class:`~sklearn.gaussian_process.GaussianProcessRegressor` as a
function of theta = (phi0, chi/chi_s, log10 t/tau), the PCA-GP emulator of
Higdon, Gattiker, Williams & Rightley, "Computer model calibration using
high-dimensional output", J. Am. Stat. Assoc. 103, 570 (2008). The scatter of
replicate runs (same sweep point, other seed) is the *feature noise*: its
pooled covariance N (k x k, in component space) is estimated directly and
given to each GP as its fixed nugget (``alpha``, which sklearn's
``return_std`` leaves out), so v(theta) is the variance of the emulated mean
curve alone. A run's deviation from the mean persists over its snapshots,
which the GP takes as independent, so v(theta) alone is too small for a new
run: each component's total variance is scaled by a factor kappa_j^2 >= 1
from leave-one-run-out predictions of the training runs (the sigma-scaling of
the study's models).

Posterior
---------
For the components z of a curve,
``p(theta | z) ~ N(z; mu(theta), diag v(theta) + N) * prior(theta)`` with a
uniform prior over the training box (Kennedy & O'Hagan, J. R. Stat. Soc. B 63,
425 (2001), without a model-discrepancy term). Three parameters allow an exact
evaluation on a grid of cell centres (default 40^3 = 64 000 cells) instead of
MCMC: marginals, quantiles (piecewise-constant density within a cell),
highest-density intervals, mean and correlations are sums over the grid.

Scale-free features remove q1, so the *absolute* length scale 2 pi / q1 (in
the curve's unit) is reported alongside, not inferred. The Minkowski
densities implied by the posterior come from a GP per functional from theta
to the scale-free density (value / q1^p, :func:`scattermorph.learn.features.scale_free_targets`)
averaged over the posterior (law of total variance) and returned in
(unit of q)^p with the curve's q1.

Calibration
-----------
:func:`calibrate` is simulation-based calibration (Talts, Betancourt,
Simpson, Vehtari & Gelman, arXiv:1804.06788, 2018): the posterior quantile
(rank) of each true parameter and the coverage of the 90 % intervals, plus an
identifiability table (posterior width against the prior width,
correlations). SBC's uniformity theorem holds for truths drawn from the
prior: the study's calibration runs
(:func:`scattermorph.sim.sweep.calibration_table`) are drawn so, uniformly over
the sweep's box in phi0, chi/chi_s and log t, whereas the sweep's own points
sit on the prior's edges, where central intervals cannot cover and ranks pile
up at 0 and 1. The snapshots of one run are correlated (they share its
deviation from the emulator), so :func:`calibration_summary` judges coverage
and rank histograms by Kish's effective sample size (:func:`effective_size`).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom, norm
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.infer.checks import (
    EDGE_BAND,
    EDGE_MASS,
    PPC_DRAWS,
    PPC_THRESHOLD,
    GridGaussian,
    edge_warnings,
    posterior_predictive_check,
    ppc_reference,
    reference_seed,
)
from scattermorph.infer.grid import PARAM_LABELS, PARAMS, grid_axes
from scattermorph.infer.grid import cell_cdf as _cdf
from scattermorph.learn.features import density_power, from_scale_free, scale_free_targets, scale_free_windowed
from scattermorph.learn.metrics import coverage_band
from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.background import subtract_background
from scattermorph.predict.modelfile import load_model
from scattermorph.predict.smearing import default_cache_dir
from scattermorph.provenance.records import sha256_file

__all__ = [
    "PARAMS",
    "PARAM_LABELS",
    "grid_axes",
    "study_features",
    "study_parameters",
    "replicate_groups",
    "pooled_covariance",
    "ScatteringEmulator",
    "FunctionalEmulator",
    "grid_posterior",
    "summarise_posterior",
    "validate_emulator",
    "calibrate",
    "calibration_summary",
    "effective_size",
    "INFER_WINDOW",
    "WINDOW_SLACK",
]

#: default feature grid of the study (config.yaml learning.feature_grid)
DEFAULT_FEATURES = {"n_points": 32, "x_range": (0.3, 3.0)}


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def study_parameters(table: pd.DataFrame) -> np.ndarray:
    """theta = (phi0, quench, log10 time_over_tau) of every row.

    Returns
    -------
    ndarray, shape (n, 3)
    """
    missing = [c for c in ("phi0", "quench", "time_over_tau") if c not in table]
    if missing:
        raise ParameterError(f"the dataset table lacks columns {missing}: regenerate it with the workflow")
    t = table["time_over_tau"].to_numpy(float)
    if np.any(~np.isfinite(t) | (t <= 0)):
        raise ParameterError("time_over_tau must be positive and finite in every row")
    return np.column_stack([table["phi0"].to_numpy(float), table["quench"].to_numpy(float), np.log10(t)])


def study_ndim(table: pd.DataFrame) -> int:
    """Spatial dimension of the study's simulations (column ``dimension``, default 2)."""
    if "dimension" not in table:
        return 2
    d = np.unique(table["dimension"].to_numpy(int))
    if d.size != 1:
        raise ParameterError(f"the dataset mixes dimensions {d.tolist()}: calibrate one dimension at a time")
    return int(d[0])


def study_features(q, s_q, ndim, *, n_points=32, x_range=(0.3, 3.0)):
    """Scale-free features of curves (the study's ``scale_free`` input).

    A thin wrapper of :func:`scattermorph.learn.features.scale_free_windowed` (the
    exact definition the saved models and ``predict`` use).

    Parameters
    ----------
    q : array_like, shape (B,)
        Bin centres (any inverse-length unit).
    s_q : array_like, shape (n, B)
        Intensities (any scale; NaN = empty bin).
    ndim : {2, 3}

    Returns
    -------
    X : ndarray, shape (n, n_points)
        log10(S q1^d / Q) on the x = q/q1 grid.
    q1 : ndarray, shape (n,)
        Windowed first-moment wavenumber (units of q).
    """

    return scale_free_windowed(q, np.atleast_2d(s_q), ndim, n_points=n_points, x_range=tuple(x_range))


def replicate_groups(table: pd.DataFrame) -> np.ndarray:
    """Label of the sweep point and snapshot time of every row: replicates share it.

    Rows with the same (phi0, quench, time_over_tau to 4 significant digits
    in log) are replicate runs of one sweep point at one age.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    theta = study_parameters(table)
    key = np.round(theta, 4)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    return inv.ravel()


def pooled_covariance(Z, groups) -> tuple[np.ndarray, int]:
    """Pooled within-group covariance of rows of Z (replicate scatter).

    ``sum_g sum_{i in g} (z_i - zbar_g)(z_i - zbar_g)^T / (n - G)`` over
    groups with at least 2 members.

    Parameters
    ----------
    Z : array_like, shape (n, k)
    groups : array_like, shape (n,)

    Returns
    -------
    cov : ndarray, shape (k, k)
    dof : int
        Degrees of freedom n - G of the estimate.
    """
    Z = np.atleast_2d(np.asarray(Z, float))
    groups = np.asarray(groups)
    S = np.zeros((Z.shape[1], Z.shape[1]))
    dof = 0
    for g in np.unique(groups):
        rows = Z[groups == g]
        if rows.shape[0] < 2:
            continue
        d = rows - rows.mean(axis=0)
        S += d.T @ d
        dof += rows.shape[0] - 1
    if dof == 0:
        raise ParameterError(
            "no replicate runs (two runs at the same phi0, quench and time): the feature noise cannot be "
            "estimated; give noise_cov explicitly or run the study with replicates >= 2")
    return S / dof, dof


# --------------------------------------------------------------------------
# emulators
# --------------------------------------------------------------------------
class _QuietGP(GaussianProcessRegressor):
    """A GaussianProcessRegressor whose fit does not warn when a hyper-parameter
    reaches a bound (expected here: a component that does not depend on a
    parameter gets the longest length scale)."""

    def fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(X, y)


def _gp(n_inputs, nugget, *, white=False, restarts=1, seed=0):
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(n_inputs, 0.5), (1e-2, 1e2))
    if white:
        kernel = kernel + WhiteKernel(1e-2, (1e-8, 1e1))
    return _QuietGP(kernel, alpha=nugget, normalize_y=True, n_restarts_optimizer=restarts,
                                    random_state=seed)


class _Box:
    """Affine map of the parameter box onto [0, 1]^3 (the GP input scaling)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        span = self.hi - self.lo
        self.span = np.where(span > 0, span, 1.0)

    def __call__(self, theta):
        return (np.atleast_2d(theta) - self.lo) / self.span


class ScatteringEmulator:
    """PCA-GP emulator of the scale-free features as a function of theta.

    Parameters
    ----------
    n_components : int or None
        Principal components kept; None: the fewest explaining ``variance``.
    variance : float
        Explained-variance target when ``n_components`` is None (at most 8 kept).
    restarts : int
        Optimiser restarts of each GP (random starts from a seeded generator).
    seed : int

    Attributes (after :meth:`fit`)
    ------------------------------
    pca : sklearn PCA
    gps : list of GaussianProcessRegressor, one per component
    noise_cov : ndarray, shape (k, k)
        Feature noise in component space (replicate scatter).
    lo, hi : ndarray, shape (3,)
        The training box = the prior's support.
    fit_seconds : float
    """

    def __init__(self, n_components=None, *, variance=0.999, restarts=0, seed=0):
        self.n_components, self.variance, self.restarts, self.seed = n_components, variance, restarts, seed

    def fit(self, theta, X, groups=None, *, noise_cov=None, hyper=None, runs=None, variance_scale=None):
        """Fit on training rows.

        Parameters
        ----------
        theta : array_like, shape (n, 3)
            (phi0, quench, log10 t/tau) of each row.
        X : array_like, shape (n, p)
            Features of each row.
        groups : array_like, shape (n,), optional
            Replicate labels (:func:`replicate_groups`) for the feature noise.
        noise_cov : array_like, shape (p, p), optional
            Feature noise covariance in feature space, instead of ``groups``.
        hyper : list of array_like, optional
            Log hyper-parameters of each component's kernel (:meth:`hyper`, from
            an earlier fit on the same data): skip the optimiser.
        runs : array_like, shape (n,), optional
            Simulation of each row: with them the variances are calibrated by
            leave-one-run-out (:attr:`variance_scale`).
        variance_scale : array_like, shape (k,), optional
            Cached kappa^2 of an earlier fit on the same data (skips leave-one-run-out).
        """
        t0 = time.perf_counter()
        theta = np.atleast_2d(np.asarray(theta, float))
        X = np.atleast_2d(np.asarray(X, float))
        if theta.shape != (X.shape[0], 3):
            raise ParameterError(f"theta must have shape ({X.shape[0]}, 3) to match X, got {theta.shape}")
        if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(X))):
            raise ParameterError("theta and X must be finite")
        self.lo, self.hi = theta.min(axis=0), theta.max(axis=0)
        self.box = _Box(self.lo, self.hi)
        kmax = min(8, X.shape[1], X.shape[0] - 1)
        full = PCA(n_components=kmax).fit(X)
        k = self.n_components or int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), self.variance) + 1)
        self.pca = PCA(n_components=min(k, kmax)).fit(X)
        Z = self.pca.transform(X)
        if noise_cov is not None:
            C = self.pca.components_
            self.noise_cov = C @ np.asarray(noise_cov, float) @ C.T
            self.noise_dof = None
        elif groups is not None:
            self.noise_cov, self.noise_dof = pooled_covariance(Z, groups)
        else:
            raise ParameterError("give replicate groups or noise_cov: the likelihood needs the feature noise")
        U = self.box(theta)
        self.gps = []
        for j in range(Z.shape[1]):
            var = Z[:, j].var()
            nugget = max(self.noise_cov[j, j], 1e-10 * var) / var  # normalize_y: in units of var(z_j)
            gp = _gp(3, nugget, restarts=self.restarts, seed=self.seed + j)
            if hyper is not None:  # cached hyper-parameters: one deterministic fit, no optimiser
                gp.kernel, gp.optimizer = gp.kernel.clone_with_theta(np.asarray(hyper[j], float)), None
            self.gps.append(gp.fit(U, Z[:, j]))
        self.variance_scale = np.ones(Z.shape[1])
        if variance_scale is not None:
            self.variance_scale = np.asarray(variance_scale, float)
        elif runs is not None and np.unique(runs).size > 2:
            self.variance_scale = self._loro_scale(U, Z, np.asarray(runs))
        self.X_train, self.theta_train = X, theta
        self.groups_train = None if groups is None else np.asarray(groups)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _loro_scale(self, U, Z, runs):
        """kappa_j^2 = mean over left-out runs of (z - m)^2 / (v + N_jj), at least 1.

        Each run is left out in turn and every component's GP refitted on the
        others with its fitted hyper-parameters (no optimiser); the mean
        squared standardised error of the left-out snapshots says by how much
        the predictive variance of a *new run* is too small (a run's deviation
        persists over its snapshots, which the GP takes as independent). The
        sigma-scaling of the study's models (:func:`scattermorph.predict.fit.sigma_scale_factors`)
        applied to the emulator.
        """
        r2 = np.empty_like(Z)
        for r in np.unique(runs):
            out = runs == r
            for j, gp in enumerate(self.gps):
                g = GaussianProcessRegressor(gp.kernel_, alpha=gp.alpha, normalize_y=True, optimizer=None)
                m, sd = g.fit(U[~out], Z[~out, j]).predict(U[out], return_std=True)
                r2[out, j] = (Z[out, j] - m) ** 2 / (sd ** 2 + self.noise_cov[j, j])
        return np.maximum(r2.mean(axis=0), 1.0)

    def hyper(self) -> list:
        """Fitted log hyper-parameters of each GP (JSON-able), for ``fit(hyper=...)``."""
        return [gp.kernel_.theta.tolist() for gp in self.gps]

    @property
    def k(self) -> int:
        return self.pca.n_components_

    def predict(self, theta):
        """Component means and the emulator's (latent) variances.

        Parameters
        ----------
        theta : array_like, shape (m, 3)

        Returns
        -------
        mean, var : ndarray, shape (m, k)
            ``var`` is the GP's latent variance v, or with a leave-one-run-out
            scale kappa^2 > 1, ``kappa^2 v + (kappa^2 - 1) N_jj``: the total
            variance v + N_jj of a new run scaled by kappa^2.
        """
        U = self.box(np.asarray(theta, float))
        mean = np.empty((U.shape[0], self.k))
        var = np.empty_like(mean)
        for j, gp in enumerate(self.gps):
            m, s = gp.predict(U, return_std=True)
            k2 = self.variance_scale[j] if hasattr(self, "variance_scale") else 1.0
            mean[:, j], var[:, j] = m, k2 * s ** 2 + (k2 - 1) * self.noise_cov[j, j]
        return mean, var

    def transform(self, X):
        """Component scores of feature rows, shape (m, k)."""
        return self.pca.transform(np.atleast_2d(np.asarray(X, float)))

    def predict_features(self, theta):
        """Emulated feature curves and their standard deviation (emulator + noise).

        Returns
        -------
        mean, std : ndarray, shape (m, p)
        """
        mean, var = self.predict(theta)
        C = self.pca.components_
        X = self.pca.inverse_transform(mean)
        cov_diag = np.einsum("ij,mi,ij->mj", C, var, C) + np.einsum("ij,ik,kj->j", C, self.noise_cov, C)[None]
        return X, np.sqrt(cov_diag)

    @property
    def residual_var(self) -> float:
        """Mean variance per feature the components leave out of the training features (PCA truncation)."""
        if getattr(self, "_residual_var", None) is None:
            r = self.X_train - self.pca.inverse_transform(self.pca.transform(self.X_train))
            self._residual_var = float(np.mean(r ** 2))
        return self._residual_var

    def covered_scores(self, x, covered):
        """Component scores from the features a curve covers only, and their extra covariance.

        Gappy principal components (Everson & Sirovich, J. Opt. Soc. Am. A 12,
        1657 (1995)): the scores are the least-squares fit of the components
        to the covered features, ``z = (C_S C_S^T)^-1 C_S (x_S - mean_S)``
        with ``C_S`` the components' columns at the covered points. The part
        of a feature vector the components leave out (variance ``s_r^2`` per
        feature, :attr:`residual_var`) enters such a fit as
        ``s_r^2 (C_S C_S^T)^-1``; over the whole window (``C C^T = I``) it is
        ``s_r^2 I``, which the full-window likelihood leaves out, so only the
        excess ``s_r^2 ((C_S C_S^T)^-1 - I)`` is added to the likelihood's
        covariance.

        Parameters
        ----------
        x : ndarray, shape (p,)
            The curve's features.
        covered : ndarray of bool, shape (p,)
            The feature points inside the q range the curve covers.

        Returns
        -------
        z : ndarray, shape (k,)
        extra_cov : ndarray, shape (k, k)
        """
        C = self.pca.components_[:, covered]
        if C.shape[1] < self.k:
            raise ParameterError(f"the curve covers {C.shape[1]} of the {covered.size} feature points, fewer than "
                                 f"the emulator's {self.k} components")
        A = C @ C.T
        z = np.linalg.solve(A, C @ (np.asarray(x, float)[covered] - self.pca.mean_[covered]))
        extra = self.residual_var * (np.linalg.inv(A) - np.eye(self.k))
        return z, 0.5 * (extra + extra.T)

    def loglike(self, z, theta, extra_cov=None):
        """Gaussian log-likelihood of component scores z at parameter rows.

        ``log N(z; mu(theta), diag v(theta) + N)``.

        Parameters
        ----------
        z : array_like, shape (k,)
        theta : array_like, shape (m, 3)
        extra_cov : ndarray, shape (k, k), optional
            Added to the feature noise (:meth:`covered_scores`).

        Returns
        -------
        ndarray, shape (m,)
        """
        mean, var = self.predict(theta)
        noise = self.noise_cov if extra_cov is None else self.noise_cov + extra_cov
        return _gauss_loglike(np.asarray(z, float), mean, var, noise)


def _gauss_loglike(z, mean, var, noise):
    S = noise[None] + var[:, :, None] * np.eye(var.shape[1])[None]
    r = z[None] - mean
    L = np.linalg.cholesky(S)
    a = np.linalg.solve(L, r[:, :, None])[:, :, 0]
    logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    return -0.5 * (np.sum(a ** 2, axis=1) + logdet + z.size * np.log(2 * np.pi))


class FunctionalEmulator:
    """GP per Minkowski density from theta to its scale-free value (value / q1^p).

    Parameters
    ----------
    targets : list of str
        Density columns of the dataset (e.g. volume_density, surface_density).
    ndim : {2, 3}
    """

    def __init__(self, targets, ndim, *, restarts=0, seed=0):
        self.targets, self.ndim, self.restarts, self.seed = list(targets), int(ndim), restarts, seed

    def fit(self, theta, values, q1, box, hyper=None):
        """``values`` shape (n, t) in the simulation's unit; ``q1`` shape (n,) in the same unit."""

        self.box = box
        self.values_train, self.q1_train = np.asarray(values, float), np.asarray(q1, float)
        U = box(theta)
        self.gps = []
        for j, name in enumerate(self.targets):
            y = scale_free_targets(values[:, j], q1, name, self.ndim)
            gp = _gp(3, 1e-10, white=True, restarts=self.restarts, seed=self.seed + j)
            if hyper is not None:
                gp.kernel, gp.optimizer = gp.kernel.clone_with_theta(np.asarray(hyper[j], float)), None
            self.gps.append(gp.fit(U, y))
        return self

    def predict(self, theta):
        """Scale-free mean and std (GP incl. its noise: run-to-run scatter), shape (m, t) each."""
        U = self.box(theta)
        out = [gp.predict(U, return_std=True) for gp in self.gps]
        return np.column_stack([m for m, _ in out]), np.column_stack([s for _, s in out])


# --------------------------------------------------------------------------
# posterior on a grid
# --------------------------------------------------------------------------
def grid_posterior(loglike, lo, hi, n=40):
    """Posterior with a uniform prior over the box, on the grid of cell centres.

    Parameters
    ----------
    loglike : callable
        ``loglike(theta)`` for theta of shape (m, 3) returns shape (m,).
    lo, hi : array_like, shape (3,)
        Prior box.
    n : int
        Cells per parameter.

    Returns
    -------
    dict
        ``axes`` (3 arrays of n), ``weights`` (n, n, n), summing to 1,
        ``theta`` (n^3, 3) the grid, ``lo``, ``hi``.
    """
    axes = grid_axes(lo, hi, n)
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    ll = np.asarray(loglike(mesh), float)
    if not np.any(np.isfinite(ll)):
        raise ParameterError("the likelihood is not finite anywhere on the grid")
    w = np.exp(ll - np.nanmax(ll))
    w[~np.isfinite(w)] = 0.0
    w /= w.sum()
    return {"axes": axes, "weights": w.reshape(len(axes[0]), len(axes[1]), len(axes[2])), "theta": mesh,
            "lo": np.asarray(lo, float), "hi": np.asarray(hi, float)}


def _quantile(mass, lo, hi, p):
    """p-quantile of a piecewise-constant density with cell masses ``mass`` over [lo, hi]."""
    cum = np.cumsum(mass)
    i = int(np.clip(np.searchsorted(cum, p, side="left"), 0, mass.size - 1))
    before = cum[i - 1] if i > 0 else 0.0
    frac = np.clip((p - before) / mass[i], 0, 1) if mass[i] > 0 else 0.0
    return float(lo + (i + frac) * (hi - lo) / mass.size)


def _hpd_cells(mass, level):
    """Boolean mask of the fewest cells holding ``level`` of the mass."""
    order = np.argsort(mass)[::-1]
    k = int(np.searchsorted(np.cumsum(mass[order]), level) + 1)
    keep = np.zeros(mass.size, bool)
    keep[order[:k]] = True
    return keep


def summarise_posterior(post, level=0.90, truth=None):
    """Marginal summaries of a grid posterior.

    Parameters
    ----------
    post : dict
        From :func:`grid_posterior`.
    level : float
        Credible level of the intervals.
    truth : array_like, shape (3,), optional
        True parameters: their posterior quantiles and whether the intervals cover them.

    Returns
    -------
    dict
        Per parameter: ``mean``, ``sd``, ``median``, ``central`` (lo, hi),
        ``hpd`` (hull of the highest-density cells), ``width_ratio``
        (central width / prior width), ``sd_ratio`` (sd / prior sd), and with
        a truth ``quantile``, ``covered_central``, ``covered_hpd``; plus
        ``correlation`` (3 x 3 list) and ``marginals`` (per parameter, n masses).
    """
    w = post["weights"]
    out = {"level": level, "params": {}, "marginals": {}}
    flat = w.reshape(-1)
    mean = flat @ post["theta"]
    d = post["theta"] - mean
    cov = (d * flat[:, None]).T @ d
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd).clip(1e-300)
    a = (1 - level) / 2
    for j, name in enumerate(PARAMS):
        mass = w.sum(axis=tuple(i for i in range(3) if i != j))
        lo, hi = float(post["lo"][j]), float(post["hi"][j])
        cells = _hpd_cells(mass, level)
        h = (hi - lo) / mass.size
        idx = np.flatnonzero(cells)
        rec = {"mean": float(mean[j]), "sd": float(sd[j]), "median": _quantile(mass, lo, hi, 0.5),
               "central": [_quantile(mass, lo, hi, a), _quantile(mass, lo, hi, 1 - a)],
               "hpd": [lo + idx.min() * h, lo + (idx.max() + 1) * h],
               "prior": [lo, hi]}
        rec["width_ratio"] = (rec["central"][1] - rec["central"][0]) / (hi - lo) if hi > lo else float("nan")
        rec["sd_ratio"] = sd[j] / ((hi - lo) / np.sqrt(12)) if hi > lo else float("nan")
        if truth is not None:
            t = float(truth[j])
            rec["truth"] = t
            rec["quantile"] = _cdf(mass, lo, hi, t)
            rec["covered_central"] = bool(rec["central"][0] <= t <= rec["central"][1])
            cell = int(np.clip((t - lo) / h, 0, mass.size - 1)) if h > 0 else 0
            rec["covered_hpd"] = bool(cells[cell])
        out["params"][name] = rec
        out["marginals"][name] = mass.tolist()
    out["correlation"] = corr.tolist()
    return out


# --------------------------------------------------------------------------
# validation and calibration
# --------------------------------------------------------------------------
def validate_emulator(em: ScatteringEmulator, theta, X, level=0.90) -> dict:
    """Held-out check of the emulator: feature error and interval coverage.

    Parameters
    ----------
    theta : array_like, shape (m, 3)
    X : array_like, shape (m, p)
        Held-out runs (other simulations than the training ones).

    Returns
    -------
    dict
        ``median_rel_error_S``: median over rows and grid points of
        |10^(emulated - true) - 1| (relative error of S q1^d / Q);
        ``rms_log10``; ``coverage_components``: fraction of held-out
        component scores inside the emulator's ``level`` predictive interval
        (variance v + N_jj), per component and pooled; ``n``.
    """
    X = np.atleast_2d(np.asarray(X, float))
    z = em.transform(X)
    m, v = em.predict(theta)
    Xp = em.pca.inverse_transform(m)  # the emulated mean curves (predict_features' mean)
    s = np.sqrt(v + np.diag(em.noise_cov)[None])
    inside = np.abs(z - m) <= norm.ppf(0.5 + level / 2) * s
    return {"n": int(X.shape[0]), "level": level,
            "median_rel_error_S": float(np.median(np.abs(10 ** (Xp - X) - 1))),
            "rms_log10": float(np.sqrt(np.mean((Xp - X) ** 2))),
            "coverage_components": inside.mean(axis=0).tolist(),
            "coverage": float(inside.mean())}


def calibrate(em: ScatteringEmulator, theta, X, *, n_grid=40, level=0.90, runs=None) -> pd.DataFrame:
    """Simulation-based calibration on held-out rows.

    For each row, the grid posterior given its features; per parameter the
    posterior quantile of the truth (its normalised rank), whether the central
    and HPD ``level`` intervals cover it, and the width ratios.

    Parameters
    ----------
    em : ScatteringEmulator
    theta : array_like, shape (m, 3)
        True parameters of the held-out rows.
    X : array_like, shape (m, p)
        Their features.
    n_grid : int
        Cells per parameter of the grid posterior.
    level : float
        Credible level of the intervals.
    runs : array_like, shape (m,), optional
        Simulation of each row, kept as column ``run`` (the clusters of
        :func:`calibration_summary`'s effective sample size).

    Returns
    -------
    DataFrame
        One row per held-out row: ``<param>_true``, ``_quantile``, ``_covered_central``,
        ``_covered_hpd``, ``_width_ratio``, ``_sd_ratio``, ``_mean``, ``_central_lo`` and
        ``_central_hi`` (the central interval), and ``corr_<a>_<b>`` (and ``run``).
    """
    theta = np.atleast_2d(np.asarray(theta, float))
    Z = em.transform(X)
    axes = grid_axes(em.lo, em.hi, n_grid)
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    mean, var = em.predict(mesh)  # the emulator on the grid once, for every row
    rows = []
    for t, z in zip(theta, Z):
        post = grid_posterior(lambda _: _gauss_loglike(z, mean, var, em.noise_cov), em.lo, em.hi, n_grid)
        s = summarise_posterior(post, level, truth=t)
        row = {}
        for name, r in s["params"].items():
            row.update({f"{name}_true": r["truth"], f"{name}_mean": r["mean"], f"{name}_quantile": r["quantile"],
                        f"{name}_covered_central": r["covered_central"], f"{name}_covered_hpd": r["covered_hpd"],
                        f"{name}_width_ratio": r["width_ratio"], f"{name}_sd_ratio": r["sd_ratio"],
                        f"{name}_central_lo": r["central"][0], f"{name}_central_hi": r["central"][1]})
        c = s["correlation"]
        row.update(corr_phi0_quench=c[0][1], corr_phi0_log10_t=c[0][2], corr_quench_log10_t=c[1][2])
        rows.append(row)
    out = pd.DataFrame(rows)
    if runs is not None:
        out.insert(0, "run", np.asarray(runs))
    return out


def effective_size(values, clusters) -> tuple[float, float]:
    """Kish effective sample size of clustered values.

    ``n_eff = n / (1 + (m - 1) rho)`` with m the mean cluster size and rho the
    intra-cluster correlation from one-way ANOVA,
    ``(MSB - MSW) / (MSB + (m - 1) MSW)``, clipped to [0, 1] (L. Kish,
    *Survey Sampling*, Wiley 1965, sec. 5.4). The snapshots of one simulation
    share its deviation from the emulator, so their posterior ranks are
    correlated and carry less information than independent draws.

    Parameters
    ----------
    values : array_like, shape (n,)
    clusters : array_like, shape (n,)

    Returns
    -------
    n_eff, rho : float
    """
    v = np.asarray(values, float)
    c = np.asarray(clusters)
    labels, inv, sizes = np.unique(c, return_inverse=True, return_counts=True)
    n, g = v.size, labels.size
    if g < 2 or g == n:
        return float(n), 0.0
    means = np.bincount(inv, weights=v) / sizes
    msb = np.sum(sizes * (means - v.mean()) ** 2) / (g - 1)
    msw = np.sum((v - means[inv]) ** 2) / (n - g)
    m0 = (n - np.sum(sizes ** 2) / n) / (g - 1)  # ANOVA's mean cluster size for unequal sizes
    rho = float(np.clip((msb - msw) / (msb + (m0 - 1) * msw), 0.0, 1.0)) if msb + msw > 0 else 0.0
    return float(n / (1 + (sizes.mean() - 1) * rho)), rho


def calibration_summary(cal: pd.DataFrame, level=0.90, n_bins=5) -> pd.DataFrame:
    """The identifiability / calibration table: one row per parameter.

    Columns: ``coverage_hpd``, ``coverage_central`` (fraction of held-out rows
    covered); ``band_lo``/``band_hi``, the central 95 % binomial range of the
    coverage of n independent nominal-``level`` intervals; with a ``run``
    column, ``n_eff`` and ``icc`` (:func:`effective_size` of the truth's
    posterior quantile clustered by run: snapshots of one run are correlated)
    and ``band_eff_lo``/``band_eff_hi``, the same range for n_eff draws (the
    band to judge by); ``rank_counts`` (histogram of the truth's posterior
    quantile in ``n_bins`` bins) with ``rank_band`` and ``rank_band_eff``
    (95 % range of one bin's count under uniformity, for n and for n_eff draws
    scaled to n); ``width_ratio`` and ``sd_ratio`` (medians: posterior over
    prior width), ``rms_error`` (posterior mean - truth), ``n``.
    """
    n = len(cal)
    rows = []
    for name in PARAMS:
        quant = cal[f"{name}_quantile"].clip(0, 1).to_numpy()
        counts = np.histogram(quant, bins=n_bins, range=(0, 1))[0]
        n_eff, icc = effective_size(quant, cal["run"]) if "run" in cal else (float(n), 0.0)
        k = max(int(round(n_eff)), 1)
        (band_lo, band_hi), (eff_lo, eff_hi) = coverage_band(n, level, level=0.95), coverage_band(k, level, level=0.95)
        rows.append({"parameter": name, "n": n, "n_eff": n_eff, "icc": icc,
                     "coverage_hpd": float(cal[f"{name}_covered_hpd"].mean()),
                     "coverage_central": float(cal[f"{name}_covered_central"].mean()),
                     "band_lo": band_lo, "band_hi": band_hi, "band_eff_lo": eff_lo, "band_eff_hi": eff_hi,
                     "rank_counts": " ".join(str(int(c)) for c in counts),
                     "rank_band": f"{int(binom.ppf(0.025, n, 1 / n_bins))}-{int(binom.ppf(0.975, n, 1 / n_bins))}",
                     "rank_band_eff": f"{int(binom.ppf(0.025, k, 1 / n_bins) * n / k)}-"
                                      f"{int(np.ceil(binom.ppf(0.975, k, 1 / n_bins) * n / k))}",
                     "width_ratio": float(cal[f"{name}_width_ratio"].median()),
                     "sd_ratio": float(cal[f"{name}_sd_ratio"].median()),
                     "rms_error": float(np.sqrt(np.mean((cal[f"{name}_mean"] - cal[f"{name}_true"]) ** 2)))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# a study's calibration model and one curve's inference
# --------------------------------------------------------------------------
#: a feature point this fraction beyond the q range a curve covers still counts as covered (as predict's window)
WINDOW_SLACK = 0.05
#: the windows of q/q1 ``infer`` answers on: the lower edge at most 0.7, the upper at least 2. Measured on 24
#: held-out calibration curves (one snapshot per run), posterior over covered points only: 90 % intervals of
#: (phi0, chi/chi_s, log t) covered the truth in 0.92/0.79/1.00 of them on [0.5, 2] q1 and 0.92/0.88/0.75 on
#: [0.7, 3], as on the full window (0.92/0.83/0.71); on [0.3, 1.5] in 0.62/0.62/0.58: without the side above
#: 1.5 q1 the posterior is overconfident (benchmarks/measure_infer_windows.py)
INFER_WINDOW = (0.7, 2.0)


def _check_window(span) -> None:
    """Refuse a covered window of q/q1 the posterior was not measured to be calibrated on (:data:`INFER_WINDOW`)."""
    lo, hi = span
    if lo > INFER_WINDOW[0] * (1 + WINDOW_SLACK) or hi < INFER_WINDOW[1] * (1 - WINDOW_SLACK):
        raise ParameterError(
            f"the curve covers q/q1 in [{lo:.3g}, {hi:.3g}] of its own q1; infer needs at least "
            f"[{INFER_WINDOW[0]:g}, {INFER_WINDOW[1]:g}]: on narrower windows (measured on [0.3, 1.5] q1) the 90 % "
            "intervals covered the truth in 58-62 % of held-out simulations, so the posterior would be overconfident; "
            "measure a wider q range")


class StudyCalibration:
    """Everything ``scattermorph infer`` needs, fitted from a study's dataset.

    Attributes
    ----------
    emulator : ScatteringEmulator
    functionals : FunctionalEmulator
    ndim : int
    features : dict
        ``n_points`` and ``x_range`` of the scale-free features.
    fit_seconds : float
    ppc_reference : ndarray, shape (M,), or None
        Sorted p-values of the posterior predictive check on the emulator's
        prior predictive (:func:`scattermorph.infer.checks.ppc_reference`);
        None: not computed yet (:meth:`check_reference` computes it).
    """

    def __init__(self, emulator, functionals, ndim, features, fit_seconds, source, ppc_reference=None):
        self.emulator, self.functionals, self.ndim = emulator, functionals, ndim
        self.features, self.fit_seconds, self.source = features, fit_seconds, source
        self.ppc_reference = None if ppc_reference is None else np.sort(np.asarray(ppc_reference, float))
        self._ppc_grid = None

    def hyper(self) -> dict:
        """Log hyper-parameters of every GP (JSON-able): the cache of a fit."""
        return {"scattering": self.emulator.hyper(), "variance_scale": self.emulator.variance_scale.tolist(),
                "functionals": [gp.kernel_.theta.tolist()
                                                                     for gp in self.functionals.gps]}

    def check_reference(self, seed=None, n_draws=PPC_DRAWS) -> np.ndarray:
        """The check's reference distribution, computed once (about 15 s on 2 cores for 1000 draws)."""
        if self.ppc_reference is None:
            self.ppc_reference = ppc_reference(self.emulator, seed=reference_seed(0) if seed is None else seed,
                                               n_draws=n_draws)
        return self.ppc_reference

    def fit_checks(self, z, post, *, threshold=PPC_THRESHOLD, edge_band=EDGE_BAND, edge_mass=EDGE_MASS,
                   extra_cov=None) -> dict:
        """The posterior predictive check and the edge-of-prior check of one curve.

        Parameters
        ----------
        z : array_like, shape (k,)
            The curve's component scores.
        post : dict
            Its grid posterior (:func:`grid_posterior`).
        extra_cov : ndarray, shape (k, k), optional
            The scores' extra covariance of a curve covering part of the
            window (:meth:`ScatteringEmulator.covered_scores`); the check's
            reference distribution stays the full window's.

        Returns
        -------
        dict
            ``ppc`` (:func:`scattermorph.infer.checks.posterior_predictive_check`),
            ``edges`` (:func:`scattermorph.infer.checks.edge_warnings`' masses,
            with ``band`` and ``threshold``), ``warnings`` (list of str) and
            ``fits`` (False when the check fails).
        """
        if extra_cov is not None:  # a partial window: the same check over the covered points' scores
            grid = GridGaussian(self.emulator, extra_cov=extra_cov)
        else:
            if self._ppc_grid is None:
                self._ppc_grid = GridGaussian(self.emulator)
            grid = self._ppc_grid
        ppc = posterior_predictive_check(grid, z, self.check_reference(), threshold=threshold)
        masses, lines = edge_warnings(post, band=edge_band, threshold=edge_mass)
        if not ppc["passed"]:
            lines.insert(0, f"the emulator does not fit this curve: posterior predictive p = {ppc['p_value']:.2g} "
                            f"< {threshold:g} (chi^2 {ppc['chi2_mode']:.3g} over {ppc['dof']} components at the "
                            "best fit): the curve is unlike the study's simulations, so the posterior and the "
                            "densities below describe no simulation of it")
        return {"ppc": ppc, "edges": {"band": edge_band, "threshold": edge_mass, "parameters": masses},
                "warnings": lines, "fits": ppc["passed"]}

    def covered(self, q, signal, q1) -> tuple[np.ndarray, list]:
        """The feature points a curve covers: ``(mask (p,), [lo, hi] in q/q1)``; every point within
        :data:`WINDOW_SLACK` of an edge the curve reaches counts as covered."""
        ok = np.isfinite(signal) & (signal > 0)
        lo, hi = float(np.min(q[ok]) / q1), float(np.max(q[ok]) / q1)
        grid = np.logspace(*np.log10(self.features["x_range"]), int(self.features["n_points"]))
        return (grid >= lo * (1 - WINDOW_SLACK)) & (grid <= hi * (1 + WINDOW_SLACK)), [lo, hi]

    def infer(self, q, intensity, *, n_grid=40, level=0.90, background=0.0, checks=True, window=False):
        """Posterior of one curve (q in any unit, I in any scale).

        The data model is ``I(q) = scale * S(q) + background``: the flat
        ``background`` (in the curve's intensity unit) is subtracted before
        the scale-free features are taken, which remove the scale.

        Parameters
        ----------
        q, intensity : array_like, shape (B,)
        n_grid : int
            Cells per parameter of the grid posterior.
        level : float
            Credible level of the intervals.
        background : float
            Flat background B of the curve (0: none).
        checks : bool
            Run :meth:`fit_checks` (the posterior predictive and edge checks).
        window : bool
            Use only the feature points the curve covers (:meth:`covered`,
            :meth:`ScatteringEmulator.covered_scores`), in the likelihood and
            the check, and refuse a window outside :data:`INFER_WINDOW` (False:
            every point, the missing ends held at the curve's end values, as
            the study's calibration does with its full-window curves).

        Returns
        -------
        dict
            ``posterior`` (:func:`summarise_posterior`), ``q1`` and
            ``length_2pi_over_q1`` (curve's unit and its inverse),
            ``functionals`` (name: mean, std, scale-free mean/std, power p),
            ``features`` (x grid, the curve's, posterior-predictive mean and
            5/95 % band), ``background``, ``checks`` (:meth:`fit_checks`, or
            None), ``grid`` (the raw posterior, not JSON).
        """
        if not np.isfinite(background):
            raise ParameterError(f"background {background!r}: give a finite intensity in the curve's unit")
        # points a background leaves at or below zero carry no shape: NaN, skipped by the features
        signal = subtract_background(np.asarray(intensity, float), float(background))
        X, q1 = study_features(q, signal[None], self.ndim, **self.features)
        em = self.emulator
        z, extra, win = em.transform(X)[0], None, None
        if window:
            mask, span = self.covered(np.asarray(q, float), signal, q1[0])
            win = {"x_range": span, "covered_points": int(mask.sum()), "n_points": int(mask.size),
                   "partial": not bool(mask.all())}
            _check_window(span)
            if not mask.all():
                z, extra = em.covered_scores(X[0], mask)
        post = grid_posterior(lambda th: em.loglike(z, th, extra), em.lo, em.hi, n_grid)
        out = {"posterior": summarise_posterior(post, level), "q1": float(q1[0]),
               "length_2pi_over_q1": float(2 * np.pi / q1[0]), "background": float(background), "window": win}
        w = post["weights"].reshape(-1)
        keep = w > 1e-12 * w.max()  # cells carrying mass: the averages below are over them
        th, wk = post["theta"][keep], w[keep] / w[keep].sum()
        out["functionals"] = self._functionals(th, wk, q1[0])
        # posterior predictive of the features: mixture of the emulator's Gaussians, by draws
        rng = np.random.default_rng(0)
        pick = rng.choice(th.shape[0], size=400, p=wk)
        mu, sd = em.predict_features(th[pick])
        draws = mu + sd * rng.standard_normal(mu.shape)
        grid = np.logspace(*np.log10(self.features["x_range"]), int(self.features["n_points"]))
        out["features"] = {"x": grid.tolist(), "curve": X[0].tolist(),
                           "predictive_mean": draws.mean(axis=0).tolist(),
                           "predictive_lo": np.quantile(draws, 0.05, axis=0).tolist(),
                           "predictive_hi": np.quantile(draws, 0.95, axis=0).tolist()}
        out["checks"] = self.fit_checks(z, post, extra_cov=extra) if checks else None
        out["grid"] = post
        return out

    def _functionals(self, th, wk, q1) -> dict:
        """Minkowski densities averaged over posterior cells ``th`` with weights ``wk`` (law of total variance)."""
        fm, fs = self.functionals.predict(th)
        f_mean = wk @ fm
        f_std = np.sqrt(np.maximum(wk @ (fs ** 2 + fm ** 2) - f_mean ** 2, 0))
        funcs = {}
        for j, name in enumerate(self.functionals.targets):
            funcs[name] = {"mean": float(from_scale_free(f_mean[j], q1, name, self.ndim)),
                           "std": float(from_scale_free(f_std[j], q1, name, self.ndim)),
                           "scale_free_mean": float(f_mean[j]), "scale_free_std": float(f_std[j]),
                           "power": density_power(name, self.ndim)}
        return funcs


def density_columns(table: pd.DataFrame, ndim: int) -> list[str]:
    """The Minkowski density columns of a dataset for its dimension."""
    names = (["volume_density", "surface_density", "mean_curvature_density", "euler_density"] if ndim == 3
             else ["area_density", "perimeter_density", "euler_density"])
    return [c for c in names if c in table]


def load_study(study_dir):
    """(table, arrays, feature spec) of a study folder ``results/<study>``."""
    d = Path(study_dir)
    tab, arr = d / "dataset.csv", d / "dataset_sq.npz"
    for p in (tab, arr):
        if not p.is_file():
            raise InputFileError(f"{p}: no such file; run the study first (snakemake) or give --study DIR "
                                 "holding dataset.csv and dataset_sq.npz")
    table, arrays = load_dataset(tab, arr)
    features = dict(DEFAULT_FEATURES)
    model_path = d / "models" / "scale_free_gp.npz"
    if model_path.is_file():  # the feature grid the study's scale-free model was trained on

        f = load_model(model_path).features
        features = {"n_points": int(f["n_points"]), "x_range": tuple(float(v) for v in f["x_range"])}
    return table, arrays, features


def fit_calibration(table, arrays, features=None, rows=None, *, source=None, seed=0,
                    hyper=None) -> StudyCalibration:
    """Fit the scattering and functional emulators on (a subset of) a study's dataset.

    Parameters
    ----------
    table, arrays
        From :func:`scattermorph.measure.snapshots.load_dataset`.
    features : dict, optional
        ``n_points``, ``x_range`` (default the study's 32 points over q/q1 in [0.3, 3]).
    rows : array_like of bool, shape (n,), optional
        Training rows (default all).
    hyper : dict, optional
        ``{"scattering": [...], "functionals": [...]}`` log hyper-parameters of
        an earlier fit on the same rows (:meth:`StudyCalibration.hyper`): no optimiser runs.
    """
    t0 = time.perf_counter()
    features = dict(DEFAULT_FEATURES if features is None else features)
    ndim = study_ndim(table)
    rows = np.ones(len(table), bool) if rows is None else np.asarray(rows, bool)
    X, q1 = study_features(arrays["q"], arrays["s_q"][rows], ndim, **features)
    theta = study_parameters(table)[rows]
    sub = table[rows].reset_index(drop=True)
    em = ScatteringEmulator(seed=seed).fit(theta, X, replicate_groups(sub), hyper=(hyper or {}).get("scattering"),
                                           runs=sub["sim_id"].to_numpy() if "sim_id" in sub else None,
                                           variance_scale=(hyper or {}).get("variance_scale"))
    targets = density_columns(sub, ndim)
    fe = FunctionalEmulator(targets, ndim, seed=seed).fit(theta, sub[targets].to_numpy(float), q1, em.box,
                                                          hyper=(hyper or {}).get("functionals"))
    return StudyCalibration(em, fe, ndim, features, time.perf_counter() - t0, source)


#: version of the cache records of :func:`study_calibration` (bump when the fit changes)
CACHE_VERSION = 3


def study_calibration(study_dir, *, cache_dir=None, log=None) -> StudyCalibration:
    """The calibration model of a study, trained on all its simulations.

    The GP hyper-parameters and the posterior predictive check's reference
    distribution are cached (JSON, keyed by the sha256 of the study's
    dataset files and the feature grid) in ``cache_dir`` (default
    :func:`scattermorph.predict.smearing.default_cache_dir`): a cached fit is rebuilt
    with one Cholesky factorisation per GP, no optimiser. The study folder
    itself is only read.
    """
    table, arrays, features = load_study(study_dir)
    d = Path(study_dir)
    key = hashlib.sha256(json.dumps([CACHE_VERSION, sha256_file(d / "dataset.csv"),
                                     sha256_file(d / "dataset_sq.npz"), features["n_points"],
                                     list(features["x_range"])]).encode()).hexdigest()[:24]
    cache = Path(cache_dir or default_cache_dir()) / f"inference_{key}.json"
    hyper = reference = None
    if cache.is_file():
        try:
            record = json.loads(cache.read_text())
            hyper, reference = record["hyper"], record["ppc_reference"]
        except (ValueError, KeyError, TypeError):
            hyper = reference = None  # a damaged cache is refitted and rewritten
    t0 = time.perf_counter()
    cal = fit_calibration(table, arrays, features, source=str(d), hyper=hyper)
    if hyper is None or reference is None:
        cal.check_reference()
        if log:
            log(f"fitted the emulators on {len(table)} snapshots and the fit check's reference in "
                f"{time.perf_counter() - t0:.1f} s; cached in {cache}")
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"version": CACHE_VERSION, "study": str(d), "hyper": cal.hyper(),
                               "ppc_reference": cal.ppc_reference.tolist()})
            atomic_write(cache, lambda tmp: Path(tmp).write_text(text))
        except OSError:
            pass  # an unwritable cache only costs a refit next time
    else:
        cal.ppc_reference = np.sort(np.asarray(reference, float))
    return cal
