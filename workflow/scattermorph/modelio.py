"""Trained models from S(q) to Minkowski densities: fit, save, load, predict.

One Gaussian process per functional (:func:`scattermorph.learn.make_gp`) on
features of the scattering curve, packaged with everything needed to apply it
to a user's curve and to say when it should not be trusted.

Features (``feature_kind``)
---------------------------
``"scale_free"`` (default)
    :func:`scattermorph.learn.features_scale_free`: log10(S q1^d / Q) on a
    fixed grid of x = q/q1, so the model sees the *shape* of the curve only
    and applies to measured curves in any q unit and intensity scale. The
    targets are the densities made dimensionless with the curve's q1
    (:func:`scattermorph.learn.scale_free_targets`) and are converted back in
    the user's q unit (:func:`scattermorph.learn.from_scale_free`): a density
    of units length^-p is reported in (unit of q)^p. Before the moments are
    taken every curve (training or user) is cut to the window
    ``x_range[0] q1 <= q <= x_range[1] q1`` of its own q1 (iterated to a fixed
    point, :func:`window_curve`), so a measurement reaching further in q than
    the training curves (or less far) gives the same q1 for the same shape:
    in 2D the first moment of a Porod tail q^-3 diverges logarithmically, so
    without the window q1 would depend on the measured q range.
``"scale_free_invariant"``
    The scale-free features plus log10 of the absolute invariant
    ``Q = int S q^(d-1) dq`` over the same window. By Babinet's principle the
    shape of S(q) is the same for the two phases, so the volume fraction enters
    S(q) only through the absolute invariant, Q ~ (contrast)^2 phi (1 - phi):
    use this input when the curves are in absolute units with the contrast
    divided out (S = I / contrast^2), as the simulations are. It identifies
    min(phi, 1 - phi) (the minority phase, the study's convention) and loses
    sensitivity near phi = 1/2.
``"log_sq"``
    The paper's input (Jones & Clarke, Soft Matter 17, 9689 (2021)): log10 S
    on the training q grid (units of the simulation, 1/b) and the densities in
    1/b^p. Only for simulation-like curves with absolute S per unit volume.

Uncertainty
-----------
The reported standard deviation combines the GP's predictive standard
deviation with the propagated measurement noise (Monte Carlo over dI, when
given). Outside the training domain (standardised Mahalanobis or
nearest-neighbour distance above the cross-validated thresholds, or a GP
standard deviation near its prior) the prediction carries a warning and its
GP standard deviation is raised to at least the prior one: far from the data
a GP knows no more than its prior (Rasmussen & Williams 2006, sec. 2.2).

File format
-----------
A single ``.npz`` read with ``allow_pickle=False`` (nothing is unpickled):
arrays ``X`` (training features), ``Y`` (training targets in model space),
``scaler_mean``/``scaler_scale``, ``grid``, ``domain_location``/
``domain_precision``, ``domain_lo``/``domain_hi``, and ``meta``: a JSON string
with the format name and version, the feature spec, targets, one kernel spec
per target (kernel name, ARD, fitted ``theta`` = log hyper-parameters and
their bounds, ``alpha``, ``normalize_y`` and the y normalisation), the
training domain, the training options and the provenance of the run, plus a
sha256 over all of it. Loading rebuilds each GaussianProcessRegressor from its
kernel spec with ``optimizer=None`` and refits it on the stored X, y: a
deterministic computation that reproduces the fitted predictions exactly.
Since format version 2 a file also keeps its training curves (``train_q``,
``train_s_q``, ``train_values`` and, when grouped, ``train_groups``; covered
by the sha256), which :func:`resolution_model` smears to refit the model for
a curve's q resolution; version 1 files, without them, are still read.

Resolution
----------
A measured curve is smeared by the instrument's q resolution. For a curve
that states its dQ (or a given relative dQ/q), :func:`resolution_model`
smears the training curves with the same relative resolution
(:mod:`scattermorph.sas.resolution`, the pinhole Gaussian of sasmodels), rebuilds
their features and refits the GPs; the refitted model is cached per
(model sha256, dQ/q rounded to :data:`RESOLUTION_STEP`).

The shipped model
-----------------
``models/default.npz`` in the repository (:func:`shipped_model_path`) is
what ``scattermorph predict`` uses without ``--model``; the study writes it
(rule ``ship_model``, only with ``learning.ship_model: true``) through
:func:`ship_model`, which checks it loads, keeps its training curves and
stays under :data:`SHIPPED_MAX_BYTES`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Matern,
    RationalQuadratic,
    WhiteKernel,
)
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from scattermorph.sas.curves import Curve, check_curve, density_unit, normalise_q_unit
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn import (
    GP_KERNELS,
    SCALINGS,
    FeatureScaler,
    GroupedRBF,
    curve_moments,
    density_power,
    features_log_sq,
    features_scale_free,
    from_scale_free,
    make_gp,
    make_paper_gp,
    scale_free_targets,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FEATURE_KINDS",
    "FunctionalModel",
    "Prediction",
    "window_curve",
    "fit_models",
    "train_model",
    "sigma_scale_factors",
    "cross_validate",
    "cv_score",
    "cv_text",
    "save_model",
    "load_model",
    "model_summary",
    "RESOLUTION_STEP",
    "round_resolution",
    "curve_resolution",
    "smeared_model",
    "resolution_model",
    "default_cache_dir",
    "SHIPPED_MODEL",
    "shipped_model_path",
    "load_shipped_model",
    "training_domain",
    "domain_text",
    "study_domain",
    "ship_model",
    "SHIPPED_MAX_BYTES",
]

FORMAT = "scattermorph-model"
#: version 2 (issue 16) adds the optional training curves (``train_*`` arrays,
#: inside the checksum); version 1 files (without them) are still read
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
FEATURE_KINDS = ("scale_free", "log_sq", "scale_free_invariant", "scale_free_absolute")
#: absolute-scale columns appended to the 32 shape columns of each scale-free kind
SCALE_COLUMNS = {"scale_free": (), "scale_free_invariant": ("log10 invariant",),
                 "scale_free_absolute": ("log10 invariant", "log10 q1")}
#: kinds whose inputs depend on the absolute intensity (S = I / contrast^2 per unit volume)
ABSOLUTE_INTENSITY = ("log_sq", "scale_free_invariant", "scale_free_absolute")
#: kinds whose inputs depend on the unit of q (the training unit is needed)
TRAINING_Q_UNIT = ("log_sq", "scale_free_absolute")
#: candidates of feature_kind="auto" (train_model, scattermorph train --features auto)
AUTO_KINDS = ("scale_free", "scale_free_absolute", "log_sq")
#: fewest curve points inside the model's window / grid range
MIN_WINDOW_POINTS = 8
#: fraction of the model grid a curve must cover (lowered to the least-covered
#: training curve's, if that is lower, but never below MIN_COVERAGE_FLOOR): with
#: less, most features would be the constant extrapolation of the curve's ends
MIN_COVERAGE = 0.75
MIN_COVERAGE_FLOOR = 0.5
#: GP std / prior std above which the GP itself says "unlike the training data"
PRIOR_RATIO_WARN = 0.9
#: quantile of the cross-validated training distances used as domain threshold
DOMAIN_QUANTILE = 0.99
_ARRAYS = ("X", "Y", "scaler_mean", "scaler_scale", "grid", "domain_location", "domain_precision",
           "domain_lo", "domain_hi")
#: optional arrays: the training curves (resolution-aware refits, :func:`resolution_model`)
_CURVE_ARRAYS = ("train_q", "train_s_q", "train_values", "train_groups")
#: resolutions dQ/q are rounded to this step before a model is refitted (and cached)
RESOLUTION_STEP = 0.005


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

    q1 is the first-moment wavenumber of :func:`scattermorph.learn.curve_moments`
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
    from scipy.optimize import brentq

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
    :func:`scattermorph.learn.features_scale_free`), so the study's
    evaluation scores exactly the input that users' curves get.

    Returns
    -------
    X : ndarray, shape (rows, n_points)
    q1 : ndarray, shape (rows,)
    """
    spec = {"kind": "scale_free", "ndim": int(ndim), "x_range": tuple(x_range), "n_points": int(n_points)}
    X, q1, _, _ = _featurise(spec, None, q, s_q)
    return X, q1


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


# --------------------------------------------------------------------------
# kernels as JSON
# --------------------------------------------------------------------------
def _kernel_spec(gp: GaussianProcessRegressor, name: str, ard: bool, noise: bool, scaling: str) -> dict:
    k = gp.kernel_
    amp = k.k1 if noise else k
    base = amp.k2
    hyp = {"constant_value": float(amp.k1.constant_value),
           "length_scale": np.atleast_1d(base.length_scale).astype(float).tolist()}
    if isinstance(base, GroupedRBF):
        hyp["groups"] = [int(g) for g in base.groups]
    if isinstance(base, RationalQuadratic):
        hyp["alpha"] = float(base.alpha)
    if noise:
        hyp["noise_level"] = float(k.k2.noise_level)
    return {
        "kernel": name, "ard": bool(ard), "noise": bool(noise), "scaling": scaling,
        **({"length_groups": [int(g) for g in base.groups]} if isinstance(base, GroupedRBF) else {}),
        "theta": k.theta.tolist(), "bounds": k.bounds.tolist(),
        "hyperparameters": hyp, "repr": repr(k),
        "alpha": float(gp.alpha), "normalize_y": bool(gp.normalize_y),
        "y_mean": float(np.asarray(gp._y_train_mean).ravel()[0]),
        "y_std": float(np.asarray(gp._y_train_std).ravel()[0]),
        "log_marginal_likelihood": float(gp.log_marginal_likelihood_value_),
    }


def _build_kernel(spec: dict, n_features: int):
    """The fitted kernel of a spec: structure from the name, theta and bounds from the file."""
    name, ard, noise = spec["kernel"], bool(spec["ard"]), bool(spec["noise"])
    if name not in GP_KERNELS:
        raise InputFileError(f"unknown kernel {name!r} (known: {', '.join(GP_KERNELS)})")
    theta = np.asarray(spec["theta"], dtype=float)
    bounds = np.exp(np.asarray(spec["bounds"], dtype=float))
    groups = spec.get("length_groups")
    if groups is not None:
        if name != "squared_exponential" or ard or len(groups) != n_features:
            raise InputFileError(f"length_groups need a squared_exponential kernel without ARD and one "
                                 f"group per feature ({n_features}), got {len(groups)} for {name!r}")
        n_len = max(groups) + 1
    else:
        n_len = n_features if ard else 1
    n_theta = 1 + n_len + (1 if name == "rational_quadratic" else 0) + (1 if noise else 0)
    if ard and name == "rational_quadratic":
        raise InputFileError("rational_quadratic has no ARD variant")
    if theta.shape != (n_theta,) or bounds.shape != (n_theta, 2):
        raise InputFileError(
            f"kernel {name!r} (ard={ard}, noise={noise}) needs {n_theta} hyper-parameters and "
            f"bounds, the file has theta of shape {theta.shape} and bounds {bounds.shape}"
        )
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(bounds)) and np.all(bounds > 0)):
        raise InputFileError(f"kernel {name!r}: hyper-parameters or bounds are not finite")
    length = np.ones(n_len) if ard else 1.0
    lb = bounds[1:1 + n_len] if ard else tuple(bounds[1])
    if groups is not None:
        try:
            base = GroupedRBF(tuple(int(g) for g in groups), np.ones(n_len), tuple(bounds[1]))
            base._check(np.zeros((1, n_features)))
        except (ParameterError, TypeError, ValueError) as exc:
            raise InputFileError(f"length_groups: {exc}") from None
    elif name == "squared_exponential":
        base = RBF(length, lb)
    elif name == "rational_quadratic":
        # scikit-learn orders a kernel's hyper-parameters by name: alpha, then length_scale
        base = RationalQuadratic(1.0, 1.0, alpha_bounds=tuple(bounds[1]),
                                 length_scale_bounds=tuple(bounds[2]))
    else:
        base = Matern(length, lb, nu=2.5 if name == "matern52" else 0.5)
    k = ConstantKernel(1.0, tuple(bounds[0])) * base
    if noise:
        k = k + WhiteKernel(1.0, tuple(bounds[-1]))
    k = k.clone_with_theta(theta)
    if not np.allclose(k.bounds, np.asarray(spec["bounds"]), rtol=0, atol=1e-12):
        raise InputFileError(f"kernel {name!r}: bounds in the file do not fit the kernel's structure")
    return k


def _refit(spec: dict, X: np.ndarray, y: np.ndarray) -> Pipeline:
    # files written before issue 15 have no "scaling": their GPs standardised every feature
    scaling = spec.get("scaling", "feature")
    if scaling not in SCALINGS:
        raise InputFileError(f"unknown input scaling {scaling!r} (known: {', '.join(SCALINGS)})")
    gp = GaussianProcessRegressor(kernel=_build_kernel(spec, X.shape[1]), alpha=float(spec["alpha"]),
                                  normalize_y=bool(spec["normalize_y"]), optimizer=None)
    return Pipeline([("scale", FeatureScaler(scaling)), ("gp", gp)]).fit(X, y)


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------
@dataclass
class Prediction:
    """Prediction for one curve.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per functional: ``functional``, ``mean``, ``std`` (total),
        ``std_model`` (GP), ``std_noise`` (propagated dI), ``unit``.
    warnings : list of str
    info : dict
        ``q1`` (curve units), ``coverage``, ``distance``/``distance_threshold``
        (Mahalanobis), ``neighbour``/``neighbour_threshold``,
        ``in_domain``, ``q_unit``, ``n_points``, ``feature_kind``.
    """

    table: pd.DataFrame
    warnings: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict: ``functionals`` {name: {mean, std, std_model, std_noise, unit}},
        ``warnings``, ``info``."""
        funcs = {r.functional: {"mean": float(r.mean), "std": float(r.std), "std_model": float(r.std_model),
                                "std_noise": float(r.std_noise), "unit": r.unit}
                 for r in self.table.itertuples()}
        return {"functionals": funcs, "warnings": list(self.warnings), "info": dict(self.info)}


class FunctionalModel:
    """Gaussian processes from a scattering curve to Minkowski densities.

    Built by :func:`fit_models` or :func:`load_model`; apply with :meth:`predict`.

    Attributes
    ----------
    features : dict
        ``kind``, ``ndim``, ``n_points``, ``x_range`` (scale_free) and the
        training ``q_unit``.
    grid : ndarray, shape (p,)
        x = q/q1 grid (scale_free) or the q grid (log_sq).
    targets : list of str
    X : ndarray, shape (n, p)
        Training features.
    Y : ndarray, shape (n, t)
        Training targets in model space (dimensionless for scale_free).
    pipelines : dict of str -> sklearn Pipeline
        Fitted scaler + GP per target.
    specs : dict of str -> dict
        Kernel spec per target (see the module docstring).
    domain : dict
        Training domain: thresholds, minimum coverage and the arrays
        ``location``, ``precision``, ``lo``, ``hi``.
    training : dict
        Options and timing of the fit.
    provenance : dict
        Written by :func:`save_model` (empty before).
    curves : dict or None
        The training curves: ``q`` (B,), ``s_q`` (n, B, NaN = empty bin) in
        the training q unit, ``values`` (n, t) the densities in that unit,
        ``groups`` (n,) integer group codes or None. Needed to refit the
        model on smeared curves (:func:`resolution_model`); None for files
        written without them.
    checksum : str or None
        The sha256 stored in the file (:func:`save_model`, :func:`load_model`).
    """

    def __init__(self, *, features, grid, targets, X, Y, pipelines, specs, domain, training,
                 provenance=None, curves=None, checksum=None):
        self.features = dict(features)
        self.grid = np.asarray(grid, dtype=float)
        self.targets = list(targets)
        self.X = np.asarray(X, dtype=float)
        self.Y = np.asarray(Y, dtype=float)
        self.pipelines = dict(pipelines)
        self.specs = dict(specs)
        self.domain = dict(domain)
        self.training = dict(training)
        self.provenance = dict(provenance or {})
        self.curves = None if curves is None else dict(curves)
        self.checksum = checksum

    # ---- properties
    @property
    def kind(self) -> str:
        return self.features["kind"]

    @property
    def ndim(self) -> int:
        return int(self.features["ndim"])

    def __repr__(self):
        return (f"FunctionalModel({self.kind}, {self.ndim}D, targets={self.targets}, "
                f"n_train={self.X.shape[0]}, kernel={self.training.get('kernel')})")

    # ---- features
    def featurise(self, q, s_q):
        """Features of curves on a common q grid.

        Parameters
        ----------
        q : array_like, shape (B,)
        s_q : array_like, shape (rows, B)
            Intensities (NaN = missing).

        Returns
        -------
        X : ndarray, shape (rows, p)
        q1 : ndarray, shape (rows,)
            First-moment wavenumber over the window (scale_free; NaN for log_sq).
        coverage : ndarray, shape (rows,)
            Fraction of the model grid inside each curve's data.
        n_inside : ndarray of int, shape (rows,)
            Points of each curve inside the window (scale_free) or grid range.
        """
        return _featurise(self.features, self.grid, q, s_q)

    # ---- prediction in model space
    def predict_features(self, X):
        """GP means, standard deviations and domain distances for feature rows.

        Parameters
        ----------
        X : array_like, shape (rows, p)

        Returns
        -------
        dict
            ``mean``, ``std`` (rows, t) in model space (GP std times the
            calibration factor, not floored), ``std_gp`` (the GP's own),
            ``prior_std`` (t,, uncalibrated), ``distance``, ``neighbour``
            (rows,), ``in_domain`` (rows,) bool.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.X.shape[1]:
            raise ParameterError(f"X has {X.shape[1]} features, the model {self.X.shape[1]}")
        mean = np.empty((X.shape[0], len(self.targets)))
        std = np.empty_like(mean)
        prior = np.empty(len(self.targets))
        for j, name in enumerate(self.targets):
            pipe = self.pipelines[name]
            mean[:, j], std[:, j] = pipe.predict(X, return_std=True)
            gp = pipe.named_steps["gp"]
            z0 = pipe.named_steps["scale"].transform(X[:1])
            prior[j] = float(np.sqrt(gp.kernel_.diag(z0)[0]) * np.ravel(gp._y_train_std)[0])
        dist, nn = self._distances(X)
        ratio = std / prior
        in_domain = ((dist <= self.domain["distance_threshold"])
                     & (nn <= self.domain["neighbour_threshold"])
                     & np.all(ratio <= PRIOR_RATIO_WARN, axis=1))
        factors = self.calibration_factors
        return {"mean": mean, "std": std * factors, "std_gp": std, "prior_std": prior,
                "distance": dist, "neighbour": nn, "in_domain": in_domain}

    @property
    def calibration_factors(self) -> np.ndarray:
        """Factor per target multiplying the GP standard deviation (1 when not recalibrated).

        Fitted by :func:`train_model` on cross-validation of the training data
        (:func:`sigma_scale_factors`) and stored in ``training["calibration"]``.
        """
        cal = self.training.get("calibration") or {}
        f = cal.get("factor", {})
        return np.array([float(f.get(t, 1.0)) for t in self.targets])

    def _distances(self, X):
        Z = (X - self.domain["scaler_mean"]) / self.domain["scaler_scale"]
        Zt = (self.X - self.domain["scaler_mean"]) / self.domain["scaler_scale"]
        return _mahalanobis(Z, self.domain["location"], self.domain["precision"]), _nearest(Z, Zt)

    # ---- prediction for a user's curve
    def predict(self, q, intensity, error=None, *, q_unit=None, n_draws=200, random_state=0,
                source="curve") -> Prediction:
        """Minkowski densities of one measured curve, with standard deviations.

        Parameters
        ----------
        q, intensity : array_like, shape (n,)
            The curve (any intensity scale for scale_free models); or pass a
            :class:`~scattermorph.sas.curves.Curve` as ``q``.
        error : array_like, shape (n,), optional
            Uncertainty dI; propagated by ``n_draws`` Monte Carlo draws of
            log-normal noise (log I +- dI/I), seeded by ``random_state``.
        q_unit : str, optional
            Unit of q (default the curve's, else the training unit). For
            scale_free models it only labels the densities (units q_unit^p);
            log_sq models need the training unit (1/b).
        n_draws : int
        random_state : int
        source : str
            Named in messages.

        Returns
        -------
        Prediction

        Raises
        ------
        InputFileError
            Malformed curve (see :func:`scattermorph.sas.curves.check_curve`),
            wrong q unit for a log_sq model, too narrow a q range.
        """
        if isinstance(q, Curve):
            curve = q
        else:
            curve = check_curve(q, intensity, error, q_unit=q_unit or self.features["q_unit"],
                                source=source)
        unit = normalise_q_unit(q_unit) if q_unit is not None else curve.q_unit
        notes = list(curve.warnings)
        train_unit = self.features["q_unit"]
        if self.kind in ABSOLUTE_INTENSITY:
            notes.append(
                f"feature kind {self.kind} reads the absolute intensity: the curve must be S = I / "
                "contrast^2 per unit volume, like the training curves; a curve in arbitrary units "
                "(or with an unknown contrast) gives wrong densities: use a --features scale_free model"
            )
        if self.kind in TRAINING_Q_UNIT and unit != train_unit:
            what = ("log10 S on its training q grid" if self.kind == "log_sq"
                    else "the absolute invariant and log10 q1")
            raise InputFileError(
                f"{curve.source}: this model reads {what} in {train_unit} (feature kind {self.kind}); "
                f"the curve is in {unit}: convert q to {train_unit} and the intensity to S = I / "
                "contrast^2 per unit volume, or retrain with --features scale_free (the shape only: "
                "any q unit and intensity scale)"
            )
        qc, ic = curve.q, curve.intensity
        try:
            X, q1, cov, n_in = self.featurise(qc, ic[None])
        except ParameterError as exc:
            raise InputFileError(f"{curve.source}: {exc}") from None
        rng_text = self._range_text(q1[0], unit)
        if n_in[0] < MIN_WINDOW_POINTS or cov[0] < self.domain["min_coverage"]:
            raise InputFileError(
                f"{curve.source}: the curve covers {100 * cov[0]:.0f}% of the model's {rng_text} "
                f"with {int(n_in[0])} points; the model needs at least "
                f"{100 * self.domain['min_coverage']:.0f}% and {MIN_WINDOW_POINTS} points: measure "
                "(or include) a wider q range; if the curve has no peak in its q range (e.g. a "
                "power law), it has no characteristic scale and is outside what the model knows"
            )
        if cov[0] < 1:
            notes.append(
                f"the curve covers {100 * cov[0]:.0f}% of the model's {rng_text}; the missing ends "
                "are held at the curve's end values (as for training curves), which makes the "
                "prediction less certain than its std says"
            )
        res = self.predict_features(X)
        mean, std_gp, prior = res["mean"][0], res["std"][0], res["prior_std"]
        info = {"q_unit": unit, "feature_kind": self.kind, "n_points": int(qc.size),
                "q1": None if self.kind == "log_sq" else float(q1[0]), "coverage": float(cov[0]),
                "distance": float(res["distance"][0]),
                "distance_threshold": float(self.domain["distance_threshold"]),
                "neighbour": float(res["neighbour"][0]),
                "neighbour_threshold": float(self.domain["neighbour_threshold"]),
                "in_domain": bool(res["in_domain"][0])}
        dom = training_domain(self, unit)
        info["training_domain"] = dom
        info["q1_in_training_range"] = None
        if dom["q1_in_unit"] is not None and info["q1"] is not None:
            lo, hi = dom["q1_in_unit"]
            info["q1_in_training_range"] = bool(lo <= info["q1"] <= hi)
            if not info["q1_in_training_range"]:
                absolute = self.kind in TRAINING_Q_UNIT
                notes.append(f"the curve's q1 = {info['q1']:.4g} {unit} is outside the training curves' q1 range "
                             f"{lo:.4g}-{hi:.4g} {unit}" + (": this model reads the absolute q, so the curve is "
                                                            "outside its training domain" if absolute else
                             " (the scale-free features do not depend on q1, but the structures' length scale "
                             "was never seen in training)"))
                if absolute:
                    info["in_domain"] = False
        if not res["in_domain"][0]:
            notes.append(
                "OUT OF TRAINING DOMAIN: the curve's shape is unlike the training curves "
                f"(Mahalanobis distance {info['distance']:.3g} vs threshold "
                f"{info['distance_threshold']:.3g}, nearest-neighbour distance "
                f"{info['neighbour']:.3g} vs {info['neighbour_threshold']:.3g}, GP std / prior std "
                f"up to {np.max(res['std_gp'][0] / prior):.2f}); the standard deviations are raised to at "
                "least the prior's: do not trust these numbers"
            )
            std_gp = np.maximum(std_gp, prior * self.calibration_factors)
        # measurement noise: Monte Carlo through the features and the GP means
        if curve.error is not None and np.any(curve.error > 0) and int(n_draws) > 1:
            rng = np.random.default_rng(int(random_state))
            sig = curve.error / ic
            draws = ic[None, :] * np.exp(sig[None, :] * rng.standard_normal((int(n_draws), ic.size)))
            Xd, q1d, _, _ = self.featurise(qc, draws)
            md = self.predict_features(Xd)["mean"]
        else:
            md, q1d = None, None
        rows = []
        for j, name in enumerate(self.targets):
            p = density_power(name, self.ndim)
            if self.kind != "log_sq":
                m = float(from_scale_free(mean[j], q1[0], name, self.ndim))
                s_model = float(from_scale_free(std_gp[j], q1[0], name, self.ndim))
                s_noise = 0.0 if md is None else float(np.std(from_scale_free(md[:, j], q1d, name, self.ndim)))
            else:
                m, s_model = float(mean[j]), float(std_gp[j])
                s_noise = 0.0 if md is None else float(np.std(md[:, j]))
            rows.append({"functional": name, "mean": m, "std": float(np.hypot(s_model, s_noise)),
                         "std_model": s_model, "std_noise": s_noise, "unit": density_unit(unit, p)})
        return Prediction(pd.DataFrame(rows), notes, info)

    def _range_text(self, q1, unit):
        lo, hi = self.features["x_range"] if self.kind != "log_sq" else (self.grid[0], self.grid[-1])
        if self.kind != "log_sq":
            return (f"q/q1 range [{lo:g}, {hi:g}] (q1 = {q1:.4g} {unit}: q from {lo * q1:.4g} to "
                    f"{hi * q1:.4g} {unit})")
        return f"q grid [{lo:.4g}, {hi:.4g}] {unit}"

    def predict_curves(self, q, s_q) -> pd.DataFrame:
        """Predictions for many curves on one q grid (no noise propagation, no flooring).

        Returns
        -------
        pandas.DataFrame
            Per row: ``<target>`` and ``<target>_std`` (densities in the
            curves' q units), ``q1``, ``coverage``, ``distance``,
            ``neighbour``, ``in_domain``.
        """
        X, q1, cov, _ = self.featurise(q, s_q)
        res = self.predict_features(X)
        out = {}
        for j, name in enumerate(self.targets):
            if self.kind != "log_sq":
                out[name] = from_scale_free(res["mean"][:, j], q1, name, self.ndim)
                out[f"{name}_std"] = from_scale_free(res["std"][:, j], q1, name, self.ndim)
            else:
                out[name], out[f"{name}_std"] = res["mean"][:, j], res["std"][:, j]
        out.update(q1=q1, coverage=cov, distance=res["distance"], neighbour=res["neighbour"],
                   in_domain=res["in_domain"])
        return pd.DataFrame(out)


def _mahalanobis(Z, location, precision):
    D = Z - location
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", D, precision, D), 0.0))


def _nearest(Z, Zt):
    """Root-mean-square distance per feature to the nearest training row."""
    d2 = (Z ** 2).sum(1)[:, None] - 2 * Z @ Zt.T + (Zt ** 2).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0) / Z.shape[1])


def _domain(X, groups, random_state):
    """Domain of the training features and cross-validated distance thresholds.

    The Mahalanobis distance uses a Ledoit-Wolf shrunk covariance of the
    standardised features (Ledoit & Wolf, J. Multivar. Anal. 88, 365 (2004));
    thresholds are the :data:`DOMAIN_QUANTILE` quantiles of the distances of
    held-out training rows to a domain fitted without them (leave one group
    out, or 10 folds), so a new curve as typical as a held-out training curve
    passes.
    """
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    lw = LedoitWolf().fit(Z)
    n = X.shape[0]
    if groups is not None:
        groups = np.asarray(groups)
        n_groups = np.unique(groups).size
        folds = GroupKFold(min(n_groups, 10)).split(Z, groups=groups) if n_groups >= 2 else None
    else:
        folds = KFold(min(n, 10), shuffle=True, random_state=int(random_state)).split(Z)
    if folds is None:
        raise ParameterError(
            f"groups must hold at least 2 distinct values, got 1 ({str(np.asarray(groups).ravel()[0])!r}): "
            "label each row with its simulation or sample, or pass groups=None (rows split at random)"
        )
    d_cv, nn_cv = np.empty(n), np.empty(n)
    for tr, te in folds:
        sc = StandardScaler().fit(X[tr])
        zt, ze = sc.transform(X[tr]), sc.transform(X[te])
        fold = LedoitWolf().fit(zt)
        d_cv[te] = _mahalanobis(ze, fold.location_, fold.precision_)
        nn_cv[te] = _nearest(ze, zt)
    return {
        "metric": "Mahalanobis distance (Ledoit-Wolf covariance of the standardised features) and "
                  "RMS nearest-neighbour distance per standardised feature",
        "threshold_rule": f"{DOMAIN_QUANTILE} quantile of cross-validated training distances",
        "distance_threshold": float(np.quantile(d_cv, DOMAIN_QUANTILE)),
        "neighbour_threshold": float(np.quantile(nn_cv, DOMAIN_QUANTILE)),
        "shrinkage": float(lw.shrinkage_),
        "scaler_mean": scaler.mean_, "scaler_scale": scaler.scale_,
        "location": lw.location_, "precision": lw.precision_,
        "lo": X.min(axis=0), "hi": X.max(axis=0),
    }


# --------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------
def fit_models(q, s_q, table, ndim, targets=None, *, kernel="squared_exponential", ard=False,
               restarts=3, random_state=0, feature_kind="scale_free", n_points=32,
               x_range=(0.3, 5.0), counts=None, groups=None, q_unit="1/b", noise=True,
               scaling="global", scale_length="own", log=None) -> FunctionalModel:
    """Fit one Gaussian process per Minkowski density.

    Parameters
    ----------
    q : array_like, shape (B,)
        Common q grid of the training curves (``q_unit``).
    s_q : array_like, shape (rows, B)
        Training curves (NaN = empty bin).
    table : pandas.DataFrame or mapping
        The densities, one column per target (``rows`` values each), in the
        length unit of q (q in 1/L, densities in L^-p).
    ndim : {2, 3}
    targets : sequence of str, optional
        Density columns to learn (default ``scattermorph.measure.snapshots.FUNCTIONALS[ndim]``).
    kernel, ard, restarts, random_state, noise, scaling
        Passed to :func:`scattermorph.learn.make_gp`. ``kernel="paper"`` is
        the exact model of Jones & Clarke (2021),
        :func:`scattermorph.learn.make_paper_gp` (``ard``, ``noise`` and
        ``scaling`` do not apply; with ``feature_kind="log_sq"`` it is their
        input too).
    feature_kind : {"scale_free", "log_sq", "scale_free_invariant", "scale_free_absolute"}
        See the module docstring (``scale_free_absolute``: the shape plus
        log10 of the absolute invariant and log10 q1, for curves in the
        training q unit and absolute intensity S = I / contrast^2).
    scale_length : {"own", "shared"}
        For the kinds with absolute-scale columns and the squared
        exponential without ARD: ``"own"`` (default) gives those columns one
        length scale of their own and the shape bins another
        (:class:`scattermorph.learn.GroupedRBF`); ``"shared"`` uses one
        isotropic length scale for all (with 32 shape columns the one or two
        scale columns then hardly count: issue 15 measured volume R^2 0.60
        vs 0.92 on held-out 3D simulations).
    n_points, x_range
        Grid of the scale_free features (32 points on q/q1 in [0.3, 5]).
    counts : array_like, shape (rows, B), optional
        Modes per bin (log_sq: a bin with a zero count in any row is dropped).
    groups : array_like, shape (rows,), optional
        Group (e.g. simulation) of every row: the domain thresholds are then
        cross-validated by group.
    q_unit : str
        Unit of q (default ``1/b``, the simulations').
    log : callable, optional
        Called with progress lines.

    Returns
    -------
    FunctionalModel
    """
    from scattermorph.measure.snapshots import FUNCTIONALS

    if ndim not in (2, 3):
        raise ParameterError(f"ndim must be 2 or 3, got {ndim!r}")
    if feature_kind not in FEATURE_KINDS:
        raise ParameterError(f"feature_kind must be one of {FEATURE_KINDS}, got {feature_kind!r}")
    if kernel not in GP_KERNELS + ("paper",):
        raise ParameterError(f"unknown GP kernel {kernel!r}: choose one of {GP_KERNELS + ('paper',)}")
    if kernel == "paper":
        ard, noise, scaling = False, True, "none"
    if scale_length not in ("own", "shared"):
        raise ParameterError(f"scale_length must be 'own' or 'shared', got {scale_length!r}")
    if scaling not in SCALINGS:
        raise ParameterError(f"unknown input scaling {scaling!r}: choose one of {SCALINGS}")
    targets = list(FUNCTIONALS[ndim] if targets is None else targets)
    if not targets:
        raise ParameterError("no targets to learn")
    q = np.asarray(q, dtype=float)
    s_q = np.atleast_2d(np.asarray(s_q, dtype=float))
    unit = normalise_q_unit(q_unit)
    for name in targets:
        density_power(name, ndim)
        if name not in FUNCTIONALS[ndim]:
            raise ParameterError(f"{name!r} is not a {ndim}D density; choose from {FUNCTIONALS[ndim]}")
        if name not in table:
            raise ParameterError(f"the table has no column {name!r}")
    values = np.column_stack([np.asarray(table[name], dtype=float) for name in targets])
    if values.shape[0] != s_q.shape[0]:
        raise ParameterError(f"{s_q.shape[0]} curves but {values.shape[0]} table rows")
    if not np.all(np.isfinite(values)):
        raise ParameterError("target values must be finite: drop rows with missing functionals first")
    if s_q.shape[0] < 5:
        raise ParameterError(f"{s_q.shape[0]} training curves: need at least 5")
    features = {"kind": feature_kind, "ndim": int(ndim), "q_unit": unit}
    if feature_kind in SCALE_COLUMNS:
        features.update(n_points=int(n_points), x_range=[float(v) for v in x_range])
        grid = np.logspace(*np.log10(features["x_range"]), features["n_points"])
        # 0 marks the log10 invariant column, -1 the log10 q1 column
        grid = np.append(grid, [0.0, -1.0][:len(SCALE_COLUMNS[feature_kind])])
        X, q1, cov, _ = _featurise(features, grid, q, s_q)
        Y = np.column_stack([scale_free_targets(values[:, j], q1, name, ndim)
                             for j, name in enumerate(targets)])
    else:
        X, mask = features_log_sq(q, s_q, counts)
        grid, cov, Y = q[mask], np.ones(s_q.shape[0]), values
    domain = _domain(X, groups, random_state)
    domain["min_coverage"] = float(max(MIN_COVERAGE_FLOOR, min(MIN_COVERAGE, cov.min())))
    pipelines, specs, caught, times = {}, {}, [], {}
    n_scale = len(SCALE_COLUMNS.get(feature_kind, ()))
    length_groups = None
    if n_scale and scale_length == "own" and kernel == "squared_exponential" and not ard:
        length_groups = (0,) * (X.shape[1] - n_scale) + (1,) * n_scale
    for j, name in enumerate(targets):
        if kernel == "paper":
            pipe = make_paper_gp(restarts, random_state)
        else:
            pipe = make_gp(kernel, ard=ard, n_features=X.shape[1], noise=noise, restarts=restarts,
                           random_state=random_state, scaling=scaling, groups=length_groups)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            pipe.fit(X, Y[:, j])
        times[name] = time.perf_counter() - t0
        caught += [f"{name}: {w.message}" for w in rec]
        spec = _kernel_spec(pipe.named_steps["gp"], "squared_exponential" if kernel == "paper" else kernel,
                            ard, noise, scaling)
        rebuilt = _build_kernel(spec, X.shape[1])
        # log(exp(theta)) may move theta by an ulp; a wrong structure moves it by O(1)
        if not np.allclose(rebuilt.theta, pipe.named_steps["gp"].kernel_.theta, rtol=0, atol=1e-12):
            raise ParameterError(f"{name}: the kernel spec does not reproduce the fitted kernel")
        pipelines[name], specs[name] = pipe, spec
        if log:
            log(f"{name}: {spec['repr']} ({times[name]:.1f} s)")
    training = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "kernel": kernel,
                "ard": bool(ard), "noise": bool(noise), "scaling": scaling, "restarts": int(restarts),
                "scale_length": scale_length if length_groups is not None else None,
                "random_state": int(random_state), "fit_seconds": times,
                "grouped": groups is not None, "warnings": sorted(set(caught))}
    codes = None if groups is None else np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    curves = {"q": q, "s_q": s_q, "values": values,
              "groups": None if codes is None else codes.astype(float)}
    return FunctionalModel(features=features, grid=grid, targets=targets, X=X, Y=Y, pipelines=pipelines,
                           specs=specs, domain=domain, training=training, curves=curves)


# --------------------------------------------------------------------------
# saving and loading
# --------------------------------------------------------------------------
def _checksum(arrays: dict, meta: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    h.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    return h.hexdigest()


def _provenance(metadata: dict | None) -> dict:
    from scattermorph import __version__
    from scattermorph.provenance import LIB_DIR, _git, _versions, sha256_file

    extra = dict(metadata or {})
    prov = {}
    if "dataset" in extra:
        paths = extra.pop("dataset")
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        prov["dataset"] = [{"path": str(p), "sha256": sha256_file(p)} for p in paths]
    if "config" in extra:
        cfg = extra.pop("config")
        prov["config"] = cfg
        prov["config_sha256"] = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
    commit, dirty = _git(LIB_DIR.parents[1])
    prov.update(scattermorph_version=__version__, git_commit=commit, git_dirty=dirty,
                packages=_versions(), python=sys.version.split()[0], platform=platform.platform(),
                created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if extra:
        prov["extra"] = extra
    return prov


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def save_model(path, model: FunctionalModel, metadata=None, *, curves=True) -> dict:
    """Write a model to a single ``.npz`` (no pickles), atomically.

    Parameters
    ----------
    path : path
        Output file (``.npz`` recommended; written as given).
    model : FunctionalModel
    curves : bool
        Store the training curves (``train_q``, ``train_s_q``,
        ``train_values``, ``train_groups``) when the model has them, so that
        :func:`resolution_model` can refit it on smeared curves (default).
    metadata : dict, optional
        Provenance of the training run, stored as JSON. Special keys:
        ``dataset`` (a path or list of paths: stored with their sha256) and
        ``config`` (a dict: stored with its sha256); everything else goes
        under ``provenance["extra"]``. The scattermorph version, git commit,
        package versions, Python, platform and date are added.

    Returns
    -------
    dict
        The metadata written (``meta`` JSON of the file).
    """
    from scattermorph.sim.run import atomic_write

    arrays = {"X": model.X, "Y": model.Y, "scaler_mean": model.domain["scaler_mean"],
              "scaler_scale": model.domain["scaler_scale"], "grid": model.grid,
              "domain_location": model.domain["location"], "domain_precision": model.domain["precision"],
              "domain_lo": model.domain["lo"], "domain_hi": model.domain["hi"]}
    if curves and model.curves is not None:
        arrays.update(train_q=model.curves["q"], train_s_q=model.curves["s_q"], train_values=model.curves["values"])
        if model.curves.get("groups") is not None:
            arrays["train_groups"] = model.curves["groups"]
    arrays = {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    domain = {k: v for k, v in model.domain.items()
              if k not in ("scaler_mean", "scaler_scale", "location", "precision", "lo", "hi")}
    meta = _jsonable({
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "features": model.features, "targets": model.targets,
        "target_space": ("density / q1^p (scale_free_targets)" if model.kind != "log_sq"
                         else "density in (training q unit)^p"),
        "models": model.specs, "domain": domain, "training": model.training,
        "provenance": _provenance(metadata),
    })
    meta["checksum"] = _checksum(arrays, meta)
    payload = np.array(json.dumps(meta, sort_keys=True, indent=1))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta=payload, **arrays)

    atomic_write(path, write)
    model.provenance = meta["provenance"]
    model.checksum = meta["checksum"]
    return meta


def _fail(path, what):
    raise InputFileError(f"{path}: not a valid scattermorph model: {what}")


def load_model(path) -> FunctionalModel:
    """Read a model written by :func:`save_model` (``allow_pickle=False``) and rebuild its GPs.

    Every GP is rebuilt from its kernel spec with ``optimizer=None`` and refitted
    on the stored training data, which reproduces the saved model's predictions
    to round-off.

    Raises
    ------
    InputFileError
        Missing or unreadable file, wrong format name or version, missing or
        malformed arrays, non-finite values, unknown kernels, targets or
        feature kinds, or contents that do not match the stored checksum or
        the stored normalisations (a modified file). The message names the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = [k for k in ("meta", *_ARRAYS) if k not in files]
            if missing:
                _fail(path, f"missing array(s) {missing}")
            arrays = {k: z[k] for k in _ARRAYS}
            arrays.update({k: z[k] for k in _CURVE_ARRAYS if k in files})
            meta_text = str(z["meta"][()])
    except InputFileError:
        raise
    except Exception as exc:  # zip/npy errors, object arrays refused by allow_pickle=False
        raise InputFileError(f"{path}: cannot be read as a scattermorph model (.npz): {exc}") from None
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as exc:
        _fail(path, f"metadata is not valid JSON ({exc})")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, f"format is {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r}")
    if meta.get("format_version") not in READ_VERSIONS:
        _fail(path, f"format_version {meta.get('format_version')!r}; this scattermorph reads versions "
                    f"{', '.join(map(str, READ_VERSIONS))}: retrain the model or use a matching scattermorph")
    for k, a in arrays.items():
        if a.dtype.kind != "f":
            _fail(path, f"array {k!r} has dtype {a.dtype}, expected float")
        if not np.all(np.isfinite(a)) and not (k == "train_s_q" and not np.any(np.isinf(a))):
            _fail(path, f"array {k!r} holds NaN or inf")
    if meta.get("checksum") != _checksum(arrays, meta):
        _fail(path, "contents do not match the stored sha256 checksum (the file was modified or corrupted)")
    try:
        features, targets, specs = meta["features"], list(meta["targets"]), meta["models"]
        domain = dict(meta["domain"])
        kind, ndim = features["kind"], int(features["ndim"])
    except (KeyError, TypeError, ValueError) as exc:
        _fail(path, f"metadata lacks {exc}")
    if kind not in FEATURE_KINDS:
        _fail(path, f"unknown feature kind {kind!r} (known: {FEATURE_KINDS})")
    if ndim not in (2, 3):
        _fail(path, f"ndim {ndim!r} is not 2 or 3")
    from scattermorph.measure.snapshots import FUNCTIONALS

    unknown = [t for t in targets if t not in FUNCTIONALS[ndim]]
    if unknown or not targets or set(specs) != set(targets):
        _fail(path, f"targets {targets} must be {ndim}D densities {FUNCTIONALS[ndim]}, one kernel spec each")
    X, Y = arrays["X"], arrays["Y"]
    n, p = X.shape if X.ndim == 2 else (0, 0)
    expected = {"Y": (n, len(targets)), "scaler_mean": (p,), "scaler_scale": (p,), "grid": (p,),
                "domain_location": (p,), "domain_precision": (p, p), "domain_lo": (p,), "domain_hi": (p,)}
    if X.ndim != 2 or n < 2:
        _fail(path, f"X has shape {X.shape}, expected (n_samples >= 2, n_features)")
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            _fail(path, f"array {k!r} has shape {arrays[k].shape}, expected {shape}")
    if kind != "log_sq" and p != int(features.get("n_points", -1)) + len(SCALE_COLUMNS[kind]):
        _fail(path, f"{p} features but n_points = {features.get('n_points')}")
    pipelines = {}
    sc = StandardScaler().fit(X)
    if not (np.allclose(sc.mean_, arrays["scaler_mean"], rtol=1e-12, atol=0)
            and np.allclose(sc.scale_, arrays["scaler_scale"], rtol=1e-12, atol=0)):
        _fail(path, "the stored scaler does not match the stored training inputs X")
    for j, name in enumerate(targets):
        spec = specs[name]
        if spec.get("kernel") not in GP_KERNELS:
            _fail(path, f"unknown kernel {spec.get('kernel')!r} for {name} (known: {GP_KERNELS})")
        try:
            pipe = _refit(spec, X, Y[:, j])
        except InputFileError as exc:
            _fail(path, f"{name}: {exc}")
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            _fail(path, f"{name}: cannot rebuild the GP ({exc})")
        gp = pipe.named_steps["gp"]
        if not (np.isclose(np.ravel(gp._y_train_mean)[0], spec["y_mean"], rtol=1e-12, atol=1e-300)
                and np.isclose(np.ravel(gp._y_train_std)[0], spec["y_std"], rtol=1e-12, atol=1e-300)):
            _fail(path, f"{name}: the stored y normalisation does not match the stored targets Y")
        pipelines[name] = pipe
    domain.update(scaler_mean=arrays["scaler_mean"], scaler_scale=arrays["scaler_scale"],
                  location=arrays["domain_location"], precision=arrays["domain_precision"],
                  lo=arrays["domain_lo"], hi=arrays["domain_hi"])
    for k in ("distance_threshold", "neighbour_threshold", "min_coverage"):
        if not isinstance(domain.get(k), (int, float)) or not np.isfinite(domain[k]):
            _fail(path, f"domain {k} missing or not a finite number")
    curves = None
    if "train_s_q" in arrays:
        tq, ts, tv = (arrays.get(k) for k in ("train_q", "train_s_q", "train_values"))
        tg = arrays.get("train_groups")
        if (tq is None or tv is None or tq.ndim != 1 or ts.shape != (n, tq.size) or tv.shape != (n, len(targets))
                or (tg is not None and tg.shape != (n,))):
            _fail(path, f"training curves of shapes {None if tq is None else tq.shape}, {ts.shape}, "
                        f"{None if tv is None else tv.shape} do not match {n} training rows and {len(targets)} targets")
        curves = {"q": tq, "s_q": ts, "values": tv, "groups": tg}
    return FunctionalModel(features=features, grid=arrays["grid"], targets=targets, X=X, Y=Y,
                           pipelines=pipelines, specs=specs, domain=domain, training=meta.get("training", {}),
                           provenance=meta.get("provenance", {}), curves=curves, checksum=meta["checksum"])


def model_summary(model: FunctionalModel) -> str:
    """A few lines describing a model (for the CLI)."""
    buf = io.StringIO()
    f = model.features
    print(f"{model.kind} model, {model.ndim}D, {model.X.shape[0]} training curves, "
          f"{model.X.shape[1]} features, training q unit {f['q_unit']}", file=buf)
    for name in model.targets:
        print(f"  {name}: {model.specs[name]['repr']}", file=buf)
    return buf.getvalue().rstrip()


# --------------------------------------------------------------------------
# cross-validation of the training options (scattermorph train)
# --------------------------------------------------------------------------
def cross_validate(q, s_q, table, ndim, targets=None, *, groups=None, n_repeats=10, n_folds=5,
                   random_state=0, **options) -> pd.DataFrame:
    """Out-of-sample errors and interval coverage of :func:`fit_models` with ``options``.

    With ``groups`` (a simulation or sample per row, at least 2 distinct):
    grouped K-fold, whole groups held out (``min(n_folds, groups)`` folds,
    groups assigned at random from ``random_state``). Without: the protocol of
    Jones & Clarke, Soft Matter 17, 9689 (2021), ``n_repeats`` random splits of
    30 training / 7 test rows (in the same ratio for fewer than 37 rows,
    :func:`scattermorph.learn.paper_splits`).

    Returns
    -------
    pandas.DataFrame
        One row per target: ``relative_rmse`` (median over the splits of
        sqrt(mean(((true - pred)/true)^2)); NaN when the true values change
        sign), ``rmse_over_sd`` (pooled RMSE / std of the true values, the
        selection score of ``auto``), ``r2`` (pooled), ``coverage_68``,
        ``coverage_95`` and ``z_std`` (pooled z = (true - pred)/std), ``z_rms``
        = sqrt(mean z^2) (the maximum-likelihood sigma-scaling factor,
        :func:`sigma_scale_factors`), the coverages and std of z after dividing
        z by ``z_rms`` (``coverage_68_cal``, ``coverage_95_cal``, ``z_std_cal``:
        in-sample, on the same predictions), ``n_test`` and ``protocol``.
    """
    from scattermorph.learn import grouped_labels, paper_splits
    from scattermorph.measure.snapshots import FUNCTIONALS

    targets = list(FUNCTIONALS[ndim] if targets is None else targets)
    s_q = np.atleast_2d(np.asarray(s_q, dtype=float))
    n = s_q.shape[0]
    values = np.column_stack([np.asarray(table[t], dtype=float) for t in targets])
    if groups is not None:
        groups = np.asarray(groups)
        n_groups = np.unique(groups).size
        if n_groups < 2:
            raise ParameterError(f"grouped cross-validation needs at least 2 groups, got {n_groups}")
        labels = grouped_labels(groups, random_state)
        splits = [(tr, te) for tr, te in GroupKFold(min(int(n_folds), n_groups)).split(s_q, groups=labels)]
        protocol = f"grouped {len(splits)}-fold (whole groups held out)"
    else:
        splits = [(tr, te) for _, tr, te in paper_splits(pd.DataFrame({"sim_id": np.zeros(n)}), n_repeats,
                                                          30, 7, rng=random_state)]
        protocol = f"{n_repeats} random splits of {splits[0][0].size} train / {splits[0][1].size} test"
    true, mean, std, rel = [], [], [], []
    frame = pd.DataFrame({t: values[:, j] for j, t in enumerate(targets)})
    for tr, te in splits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit_models(q, s_q[tr], frame.iloc[tr].reset_index(drop=True), ndim, targets,
                               random_state=random_state, groups=None if groups is None else groups[tr],
                               **options)
        pred = model.predict_curves(q, s_q[te])
        mu = pred[targets].to_numpy()
        true.append(values[te])
        mean.append(mu)
        std.append(np.maximum(pred[[f"{t}_std" for t in targets]].to_numpy(), np.finfo(float).tiny))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel.append(np.sqrt(np.mean(((values[te] - mu) / values[te]) ** 2, axis=0)))
    true, mean, std = np.concatenate(true), np.concatenate(mean), np.concatenate(std)
    z = (true - mean) / std
    sign_change = np.any(values <= 0, axis=0) & np.any(values >= 0, axis=0)
    sd = np.std(true, axis=0)
    rmse = np.sqrt(np.mean((true - mean) ** 2, axis=0))
    z_rms = np.sqrt(np.mean(z ** 2, axis=0))
    zc = z / z_rms
    return pd.DataFrame({
        "target": targets,
        "relative_rmse": np.where(sign_change, np.nan, np.median(np.array(rel), axis=0)),
        "rmse_over_sd": rmse / sd,
        "r2": 1 - rmse ** 2 / sd ** 2,
        "coverage_68": np.mean(np.abs(z) <= 1, axis=0),
        "coverage_95": np.mean(np.abs(z) <= 1.96, axis=0),
        "z_std": np.std(z, axis=0),
        "z_rms": z_rms,
        "coverage_68_cal": np.mean(np.abs(zc) <= 1, axis=0),
        "coverage_95_cal": np.mean(np.abs(zc) <= 1.96, axis=0),
        "z_std_cal": np.std(zc, axis=0),
        "n_test": true.shape[0],
        "protocol": protocol,
    })


def sigma_scale_factors(cv: pd.DataFrame) -> dict:
    """Sigma-scaling factors per target from a :func:`cross_validate` table.

    Sigma scaling (Levi, Gispan, Giladi & Fetaya, Sensors 22, 5540 (2022);
    Laves et al. 2020) multiplies every predictive standard deviation of a
    target by one factor s. Maximising the Gaussian likelihood of the
    out-of-fold residuals r_i with standard deviations s sigma_i gives
    s^2 = mean((r_i / sigma_i)^2): the root-mean-square of the cross-validated
    z-scores (``z_rms``). Grouped folds give a factor for new simulations;
    random splits one for new snapshots of the same series.

    Returns
    -------
    dict of str -> float
    """
    f = {r.target: float(r.z_rms) for r in cv.itertuples()}
    bad = [t for t, v in f.items() if not (np.isfinite(v) and v > 0)]
    if bad:
        raise ParameterError(f"cannot recalibrate {bad}: the cross-validated z-scores are not finite and positive")
    return f


def train_model(q, s_q, table, ndim, targets=None, *, kernel="squared_exponential", feature_kind="auto",
                groups=None, cv_repeats=10, n_folds=5, calibrate=True, ard=False, restarts=1,
                random_state=0, q_unit="1/b", report=None):
    """``scattermorph train``: choose by cross-validation, fit, recalibrate.

    1. Every (kernel, feature kind) candidate (``"auto"``: all GP kernels plus
       the paper's; :data:`AUTO_KINDS`) is cross-validated on the training
       data (:func:`cross_validate`: grouped folds with ``groups``, else the
       paper's random 30/7 splits) and the lowest :func:`cv_score` wins.
    2. The winner is fitted on all rows (:func:`fit_models`).
    3. With ``calibrate``, its standard deviations are rescaled per target by
       :func:`sigma_scale_factors` of the winner's cross-validation (stored in
       ``training["calibration"]`` and applied by every prediction).

    Only the rows passed in are used, so calling this inside an outer fold
    gives a nested (honest) estimate of the recalibrated coverage.

    Parameters
    ----------
    cv_repeats : int
        Random splits without groups (>= 1 when there is anything to
        cross-validate; 0 with one candidate and ``calibrate=False`` skips it).
    report : callable, optional
        Called with one line per candidate.

    Returns
    -------
    model : FunctionalModel
    cv : pandas.DataFrame or None
        The winner's cross-validation (before recalibration).
    """
    kernels = list(GP_KERNELS) + ["paper"] if kernel == "auto" else [kernel]
    kinds = list(AUTO_KINDS) if feature_kind == "auto" else [feature_kind]
    for k in kinds:
        if k not in FEATURE_KINDS:
            raise ParameterError(f"feature_kind must be one of {FEATURE_KINDS + ('auto',)}, got {k!r}")
    if int(cv_repeats) < 0:
        raise ParameterError(f"cv_repeats must be >= 0, got {cv_repeats}")
    choice = len(kernels) * len(kinds) > 1
    results = []
    if cv_repeats or choice or calibrate:
        for kern in kernels:
            for kind in kinds:
                opts = {"restarts": 2} if kern == "paper" else {"restarts": restarts, "ard": ard}
                cv = cross_validate(q, s_q, table, ndim, targets, groups=groups, n_repeats=max(int(cv_repeats), 1),
                                    n_folds=n_folds, random_state=random_state, kernel=kern, feature_kind=kind,
                                    q_unit=q_unit, **opts)
                results.append((cv_score(cv), kern, kind, cv))
                if report and choice:
                    report(f"cv: --kernel {kern} --features {kind}: mean log10(RMSE/sd) {cv_score(cv):.3f}")
        _, kern, kind, cv = min(results, key=lambda r: r[0])
    else:
        kern, kind, cv = kernels[0], kinds[0], None
    model = fit_models(q, s_q, table, ndim, targets, kernel=kern, ard=ard if kern != "paper" else False,
                       restarts=restarts if kern != "paper" else 2, random_state=random_state,
                       feature_kind=kind, groups=groups, q_unit=q_unit)
    model.training["selected_by_cv"] = bool(choice)
    if cv is not None:
        model.training["cross_validation"] = {
            "protocol": cv["protocol"].iloc[0],
            **{r.target: {k: float(getattr(r, k)) for k in ("relative_rmse", "rmse_over_sd", "r2", "coverage_68",
                                                            "coverage_95", "z_std", "z_rms")}
               for r in cv.itertuples()}}
    if calibrate:
        model.training["calibration"] = {
            "method": "sigma scaling (Levi et al., Sensors 22, 5540 (2022)): std x factor, factor = RMS of "
                      "the cross-validated z-scores of the training data",
            "protocol": cv["protocol"].iloc[0],
            "factor": sigma_scale_factors(cv)}
    return model, cv


def cv_score(cv: pd.DataFrame) -> float:
    """Selection score of a :func:`cross_validate` table: mean log10 RMSE/sd over the targets (lower is better)."""
    return float(np.mean(np.log10(np.maximum(cv["rmse_over_sd"].to_numpy(), 1e-12))))


def cv_text(cv: pd.DataFrame) -> str:
    """Lines that report a :func:`cross_validate` table to a user."""
    lines = [f"cross-validated ({cv['protocol'].iloc[0]}, {int(cv['n_test'].iloc[0])} test predictions):",
             f"  {'target':24s} {'rel. RMSE':>10s} {'R^2':>8s} {'cov 68%':>8s} {'cov 95%':>8s} {'std z':>6s}"]
    for r in cv.itertuples():
        rel = "n/a" if not np.isfinite(r.relative_rmse) else f"{100 * r.relative_rmse:.3g} %"
        lines.append(f"  {r.target:24s} {rel:>10s} {r.r2:8.4f} {r.coverage_68:8.2f} {r.coverage_95:8.2f} "
                     f"{r.z_std:6.2f}")
    if "z_rms" in cv:
        lines.append("  recalibrated (sigma scaling: std x RMS of these z-scores; in-sample, so close to "
                     "calibrated by construction):")
        lines.append(f"  {'target':24s} {'factor':>10s} {'':>8s} {'cov 68%':>8s} {'cov 95%':>8s} {'std z':>6s}")
        for r in cv.itertuples():
            lines.append(f"  {r.target:24s} {r.z_rms:10.3g} {'':8s} {r.coverage_68_cal:8.2f} "
                         f"{r.coverage_95_cal:8.2f} {r.z_std_cal:6.2f}")
    lines.append("  (calibrated intervals: cov 68% ~ 0.68, cov 95% ~ 0.95, std z ~ 1; rel. RMSE n/a where "
                 "the values change sign)")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# resolution-aware models (scattermorph predict with dQ or --resolution)
# --------------------------------------------------------------------------
def round_resolution(resolution) -> float:
    """A relative resolution dQ/q rounded to :data:`RESOLUTION_STEP` (the cache key)."""
    r = float(resolution)
    if not (np.isfinite(r) and 0 <= r < 1):
        raise ParameterError(f"relative resolution dQ/q = {resolution!r} must be in [0, 1) (e.g. 0.1 for 10 %)")
    return round(round(r / RESOLUTION_STEP) * RESOLUTION_STEP, 6)


def curve_resolution(model: FunctionalModel, q, dq, intensity) -> dict | None:
    """The relative resolution dQ/q of a curve over the q range the model's features use.

    The window is ``x_range`` times the curve's own q1 (scale-free kinds,
    :func:`window_curve`) or the model's q grid (``log_sq``). The smeared
    training curves of :func:`resolution_model` have a constant dQ/q (which,
    unlike a constant dQ, commutes with the scale-free features' rescaling
    q -> q/q1, so the refitted model does not depend on the curve's unit or
    q1): the median over the window is used, the range is reported.

    Returns
    -------
    dict or None
        ``median``, ``min``, ``max`` of dQ/q over the window and ``n_points``;
        None when dQ is None or zero everywhere in the window ("no resolution
        stated").
    """
    if dq is None:
        return None
    q, dq = np.asarray(q, dtype=float), np.asarray(dq, dtype=float)
    if model.kind in SCALE_COLUMNS:
        try:
            _, _, q1 = window_curve(q, intensity, model.ndim, model.features["x_range"])
        except ParameterError:
            return None
        lo, hi = (v * q1 for v in model.features["x_range"])
    else:
        lo, hi = model.grid[0], model.grid[-1]
    inside = (q >= lo) & (q <= hi)
    rel = (dq / q)[inside] if inside.any() else dq / q
    if not np.any(rel > 0):
        return None
    return {"median": float(np.median(rel)), "min": float(rel.min()), "max": float(rel.max()),
            "n_points": int(rel.size)}


def smeared_model(model: FunctionalModel, resolution, *, log=None) -> FunctionalModel:
    """The model refitted on its training curves smeared with a relative resolution.

    Every training curve is smeared with a pinhole Gaussian of standard
    deviation ``dQ = resolution * q`` (:func:`scattermorph.sas.resolution.smear_pinhole`,
    sasmodels' scheme), its features rebuilt, and one GP per density fitted
    again with the model's own options (kernel, ARD, restarts, seed, feature
    grid): the hyper-parameters are re-optimised, the training domain and its
    thresholds recomputed. The sigma-scaling factors of the original model
    (cross-validated on ideal curves) are carried over, not re-estimated.

    Raises
    ------
    ParameterError
        The model has no training curves (a file written before they were
        stored, or with ``curves=False``).
    """
    from scattermorph.sas.resolution import smear_pinhole

    if model.curves is None:
        raise ParameterError("this model file holds no training curves, so it cannot be refitted for the "
                             "curve's resolution: retrain it with this scattermorph (`scattermorph train` or "
                             "the study), or pass --resolution 0 to use it as it is")
    r = float(resolution)
    c, f, t = model.curves, model.features, model.training
    s_sm = smear_pinhole(c["q"], c["s_q"], r * np.asarray(c["q"], dtype=float))
    table = {name: c["values"][:, j] for j, name in enumerate(model.targets)}
    opts = dict(kernel=t.get("kernel", "squared_exponential"), ard=bool(t.get("ard", False)),
                restarts=int(t.get("restarts", 1)), random_state=int(t.get("random_state", 0)),
                feature_kind=f["kind"], q_unit=f["q_unit"], noise=bool(t.get("noise", True)),
                scaling=t.get("scaling", "global"), scale_length=t.get("scale_length") or "own",
                groups=c.get("groups"))
    if f["kind"] in SCALE_COLUMNS:
        opts.update(n_points=int(f["n_points"]), x_range=tuple(f["x_range"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = fit_models(c["q"], s_sm, table, model.ndim, model.targets, log=log, **opts)
    for key in ("calibration", "cross_validation", "selected_by_cv", "study_domain"):
        if key in t:
            new.training[key] = t[key]
    if "calibration" in new.training:
        new.training["calibration"] = dict(new.training["calibration"],
                                           note="carried over from the ideal-curve model")
    new.training["resolution"] = {
        "relative": r, "scheme": "pinhole Gaussian dQ = relative * q (scattermorph.sas.resolution.smear_pinhole, "
                                 "as sasmodels.resolution.pinhole_resolution)",
        "parent_sha256": model.checksum}
    new.curves = None
    return new


def default_cache_dir() -> Path:
    """Folder of the resolution-refitted models: ``$SCATTERMORPH_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/scattermorph/models``, else ``~/.cache/scattermorph/models``."""
    import os

    if os.environ.get("SCATTERMORPH_CACHE_DIR"):
        return Path(os.environ["SCATTERMORPH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "scattermorph" / "models"


def resolution_model(model: FunctionalModel, resolution, *, cache_dir=None, log=None):
    """The model a curve of relative resolution dQ/q = ``resolution`` needs, cached.

    The resolution is rounded to :data:`RESOLUTION_STEP` (0.5 %); 0 gives the
    model itself. Otherwise :func:`smeared_model` is fitted once and saved in
    ``cache_dir`` (default :func:`default_cache_dir`) as
    ``<first 16 hex of the model's sha256>_dq<rounded dQ/q>.npz``, a normal
    model file (no training curves) whose ``training["resolution"]`` names the
    parent's sha256: a cached file is used only if it loads, its checksum
    holds and its parent and resolution match; a damaged or foreign one is
    refitted and replaced. A cache folder that cannot be written is skipped
    (the refit is then done on every call).

    Returns
    -------
    model : FunctionalModel
    info : dict
        ``relative`` (rounded), ``requested``, ``refit`` (fitted now),
        ``cache`` (the file, or None), ``note`` (a message, or None).
    """
    r = round_resolution(resolution)
    info = {"relative": r, "requested": float(resolution), "refit": False, "cache": None, "note": None}
    if r == 0:
        return model, info
    path = None
    if model.checksum is not None:
        path = Path(cache_dir or default_cache_dir()) / f"{model.checksum[:16]}_dq{r:.3f}.npz"
        if path.is_file():
            try:
                cached = load_model(path)
                res = cached.training.get("resolution") or {}
                if res.get("parent_sha256") == model.checksum and res.get("relative") == r:
                    info["cache"] = str(path)
                    return cached, info
                info["note"] = f"{path}: cached model of another parent or resolution: refitted"
            except InputFileError as exc:
                info["note"] = f"cached model unusable ({exc}): refitted"
    new = smeared_model(model, r, log=log)
    info["refit"] = True
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_model(path, new, {"derived_from": {"sha256": model.checksum, "provenance": model.provenance},
                                   "resolution": r}, curves=False)
            info["cache"] = str(path)
        except OSError as exc:
            info["note"] = f"could not cache the refitted model in {path.parent} ({exc})"
    return new, info


# --------------------------------------------------------------------------
# the shipped model (scattermorph predict without --model)
# --------------------------------------------------------------------------
#: the shipped model, relative to the repository root (written by the study's
#: ship_model step when learning.ship_model is true)
SHIPPED_MODEL = Path("models") / "default.npz"


def shipped_model_path() -> Path:
    """Where ``scattermorph predict`` looks for its default model.

    ``$SCATTERMORPH_MODEL`` if set, else ``models/default.npz`` of the
    checkout the package is installed from (the package lives in
    ``<repo>/workflow/scattermorph``; the install is editable, so the file
    is found next to the code it was made with).
    """
    import os

    if os.environ.get("SCATTERMORPH_MODEL"):
        return Path(os.environ["SCATTERMORPH_MODEL"])
    return Path(__file__).resolve().parents[2] / SHIPPED_MODEL


def load_shipped_model() -> tuple[FunctionalModel, Path]:
    """The shipped model and its path.

    Raises
    ------
    InputFileError
        No shipped model (a checkout without ``models/default.npz``, or a
        non-editable install, which does not carry the repository's
        ``models/`` folder): the message says how to get one.
    """
    path = shipped_model_path()
    if not path.is_file():
        raise InputFileError(
            f"no shipped model at {path}: this installation carries no default model (install the checkout "
            "editable, `pip install -e .`, from a clone that has models/default.npz), or pass --model FILE "
            "(a model from `scattermorph train` or results/<study>/models/scale_free_gp.npz), or set "
            "SCATTERMORPH_MODEL"
        )
    return load_model(path), path


def training_domain(model: FunctionalModel, q_unit=None) -> dict:
    """The training domain of a model in words and numbers (for ``predict``).

    Returns
    -------
    dict
        ``study`` (name, or None), the ranges ``phi0`` and ``quench`` of the
        simulations (when the file records them), ``n_simulations``,
        ``n_snapshots``, ``q1`` [lo, hi] of the training curves in the
        training q unit ``q1_unit``, and ``q1_in_unit`` (the same in
        ``q_unit``, or None when the units cannot be converted: the
        simulations' unit 1/b has no size in metres).
    """
    from scattermorph.sas.curves import Q_UNITS

    dom = dict(model.training.get("study_domain") or {})
    train_unit = model.features["q_unit"]
    q1 = dom.get("q1")
    if q1 is None and model.kind in SCALE_COLUMNS and model.curves is not None:
        _, q1s, _, _ = model.featurise(model.curves["q"], model.curves["s_q"])
        q1 = [float(np.min(q1s)), float(np.max(q1s))]
    out = {"study": dom.get("study"), "phi0": dom.get("phi0"), "quench": dom.get("quench"),
           "n_simulations": dom.get("n_simulations"), "n_snapshots": dom.get("n_snapshots", int(model.X.shape[0])),
           "q1": q1, "q1_unit": train_unit, "q1_in_unit": None, "unit": q_unit}
    if q1 is not None and q_unit is not None:
        a, b = Q_UNITS[train_unit][1], Q_UNITS[normalise_q_unit(q_unit)][1]
        if normalise_q_unit(q_unit) == train_unit:
            out["q1_in_unit"] = list(q1)
        elif a is not None and b is not None:
            out["q1_in_unit"] = [v * b / a for v in q1]
    return out


def domain_text(dom: dict) -> str:
    """One line describing :func:`training_domain`."""
    parts = []
    if dom.get("phi0"):
        parts.append(f"composition phi0 {dom['phi0'][0]:g}-{dom['phi0'][1]:g}")
    if dom.get("quench"):
        parts.append(f"quench {dom['quench'][0]:g}-{dom['quench'][1]:g}")
    if dom.get("q1"):
        if dom.get("q1_in_unit") is not None:
            lo, hi = dom["q1_in_unit"]
            parts.append(f"q1 {lo:.3g}-{hi:.3g} {dom['unit']}")
        else:
            lo, hi = dom["q1"]
            parts.append(f"q1 {lo:.3g}-{hi:.3g} {dom['q1_unit']}"
                         + (f" (not convertible to {dom['unit']})" if dom.get("unit") else ""))
    n = [f"{dom['n_simulations']} simulations" if dom.get("n_simulations") else None,
         f"{dom['n_snapshots']} snapshots" if dom.get("n_snapshots") else None]
    n = ", ".join(v for v in n if v)
    return ("; ".join(parts) or "ranges not recorded") + (f" ({n})" if n else "")


#: the shipped model must stay small (it lives in the git repository)
SHIPPED_MAX_BYTES = 2_000_000


def study_domain(table, model: FunctionalModel, study=None) -> dict:
    """The simulations a model was trained on, for :func:`training_domain`.

    Parameters
    ----------
    table : pandas.DataFrame
        The study's dataset table (columns ``sim_id``, ``phi0``, ``quench``).
    model : FunctionalModel
        Fitted on the rows of ``table`` (its q1 range is taken from its features).
    study : str, optional
        The study's name.

    Returns
    -------
    dict: ``study``, ``phi0`` and ``quench`` [min, max], ``n_simulations``,
    ``n_snapshots``, ``q1`` [min, max] of the training curves (training q unit).
    """
    out = {"study": study, "n_snapshots": int(len(table))}
    if "sim_id" in table:
        out["n_simulations"] = int(table["sim_id"].nunique())
    for key in ("phi0", "quench"):
        if key in table:
            v = pd.to_numeric(table[key], errors="coerce").dropna()
            if len(v):
                out[key] = [float(v.min()), float(v.max())]
    if model.kind in SCALE_COLUMNS and model.curves is not None:
        _, q1, _, _ = model.featurise(model.curves["q"], model.curves["s_q"])
        out["q1"] = [float(np.min(q1)), float(np.max(q1))]
    return out


def ship_model(source, target, *, max_bytes=SHIPPED_MAX_BYTES) -> FunctionalModel:
    """Copy a study's model to the shipped location, after checking it.

    The file must load (checksum, kernels), hold its training curves (for
    resolution-aware refits) and be at most ``max_bytes`` (it is committed to
    the repository). Written atomically.

    Raises
    ------
    InputFileError
        The model is invalid, lacks its training curves or is too large.
    """
    import shutil

    from scattermorph.sim.run import atomic_write

    source = Path(source)
    model = load_model(source)
    if model.curves is None:
        raise InputFileError(f"{source}: holds no training curves; a shipped model needs them for --resolution")
    size = source.stat().st_size
    if size > int(max_bytes):
        raise InputFileError(f"{source}: {size / 1e6:.2f} MB, more than the {max_bytes / 1e6:.2f} MB a shipped "
                             "model may have")
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
    return model
