"""Trained models from S(q) to Minkowski densities: fit, save, load, predict.

One Gaussian process per functional (:func:`scattermorph.learn.estimators.make_gp`) on
features of the scattering curve, packaged with everything needed to apply it
to a user's curve and to say when it should not be trusted.

Features (``feature_kind``)
---------------------------
``"scale_free"`` (default)
    :func:`scattermorph.learn.features.features_scale_free`: log10(S q1^d / Q) on a
    fixed grid of x = q/q1, so the model sees the *shape* of the curve only
    and applies to measured curves in any q unit and intensity scale. The
    targets are the densities made dimensionless with the curve's q1
    (:func:`scattermorph.learn.features.scale_free_targets`) and are converted back in
    the user's q unit (:func:`scattermorph.learn.features.from_scale_free`): a density
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

from dataclasses import dataclass, field, replace

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
from threadpoolctl import threadpool_limits

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.estimators import GP_KERNELS, SCALINGS, FeatureScaler, GroupedRBF
from scattermorph.learn.features import SCALE_COLUMNS, _featurise, density_power, from_scale_free, window_curve
from scattermorph.predict.background import subtract_background
from scattermorph.sas.curves import Q_UNITS, Curve, check_curve, density_unit, normalise_q_unit, positive_for_logs

__all__ = [
    "FEATURE_KINDS",
    "FunctionalModel",
    "Prediction",
    "window_curve",
    "training_domain",
    "domain_text",
]

FEATURE_KINDS = ("scale_free", "log_sq", "scale_free_invariant", "scale_free_absolute")
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
    # older model files have no "scaling": their GPs standardised every feature
    scaling = spec.get("scaling", "feature")
    if scaling not in SCALINGS:
        raise InputFileError(f"unknown input scaling {scaling!r} (known: {', '.join(SCALINGS)})")
    gp = GaussianProcessRegressor(kernel=_build_kernel(spec, X.shape[1]), alpha=float(spec["alpha"]),
                                  normalize_y=bool(spec["normalize_y"]), optimizer=None)
    # one BLAS thread: a few hundred rows gain nothing from more, and on a busy machine OpenBLAS's waiting
    # threads made this Cholesky factorisation 16 times slower (benchmarks/bench_predict.py)
    with threadpool_limits(1, user_api="blas"):
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
        ``std_model`` (GP), ``std_noise`` (propagated dI and background),
        ``unit``; NaN for a functional refused on the curve's q window.
    warnings : list of str
    info : dict
        ``q1`` (curve units), ``coverage``, ``distance``/``distance_threshold``
        (Mahalanobis), ``neighbour``/``neighbour_threshold``,
        ``in_domain``, ``q_unit``, ``n_points``, ``feature_kind``; from
        ``predict``: ``background`` (``value``, ``sigma``, ``determined``,
        ``method``), ``window`` (``x_range``, ``refit``, ``accuracy``,
        ``min_r2``) and ``refused`` (functional: its window accuracy).
    """

    table: pd.DataFrame
    warnings: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict: ``functionals`` {name: {mean, std, std_model, std_noise, unit}},
        ``warnings``, ``info``."""
        def num(v):  # a refused functional has no value (JSON null, not NaN)
            return float(v) if np.isfinite(v) else None

        funcs = {r.functional: {"mean": num(r.mean), "std": num(r.std), "std_model": num(r.std_model),
                                "std_noise": num(r.std_noise), "unit": r.unit}
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
        Fitted scaler + GP per target. Given as a callable returning that
        dict, the pipelines are built on first use (:func:`load_model`: a
        model whose GPs ``predict`` never queries, the base model of a
        window or resolution refit, is not refactorised).
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
        self._pipelines = pipelines if callable(pipelines) else dict(pipelines)
        self.specs = dict(specs)
        self.domain = dict(domain)
        self.training = dict(training)
        self.provenance = dict(provenance or {})
        self.curves = None if curves is None else dict(curves)
        self.checksum = checksum

    # ---- properties
    @property
    def pipelines(self) -> dict:
        """Fitted scaler + GP per target (built on first use when given as a callable)."""
        if callable(self._pipelines):
            self._pipelines = dict(self._pipelines())
        return self._pipelines

    @pipelines.setter
    def pipelines(self, value) -> None:
        self._pipelines = value if callable(value) else dict(value)

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
                source="curve", background=None) -> Prediction:
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
        background : dict, optional
            A flat background to subtract: ``value`` (units of I) and
            ``sigma`` (0 for a given one); points left at or below zero are
            skipped. Each Monte Carlo draw subtracts its own background drawn
            from N(value, sigma^2), so its uncertainty enters ``std_noise``
            (:func:`scattermorph.predict.background.fit_background`).

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
        curve = positive_for_logs(curve)  # points I <= 0 (kept within 3 dI) averaged with neighbours for log I
        unit = normalise_q_unit(q_unit) if q_unit is not None else curve.q_unit
        notes = list(curve.warnings) + self._check_units(curve, unit)
        measured = curve
        if background is not None and background["value"] != 0:
            sub = subtract_background(curve.intensity, background["value"])
            keep = np.isfinite(sub)
            curve = replace(curve, q=curve.q[keep], intensity=sub[keep],
                            error=None if curve.error is None else curve.error[keep],
                            dq=None if curve.dq is None else curve.dq[keep])
        X, q1, cov, more = self._curve_features(curve, unit)
        notes += more
        res = self.predict_features(X)
        info, more = self._prediction_info(res, q1[0], cov[0], unit, curve.q.size)
        notes += more
        std_gp = self.prior_floored_std(res)[0]
        if not res["in_domain"][0]:
            notes.append(self._out_of_domain_note(info, res))
        md, q1d = self._noise_draws(measured, n_draws, random_state, background)
        if background is not None:
            info["background"] = dict(background)
        return Prediction(self._density_table(res["mean"][0], std_gp, q1[0], md, q1d, unit), notes, info)

    def too_narrow(self, n_in, coverage) -> np.ndarray:
        """True where a curve covers too little of the feature window to be answered.

        Fewer than :data:`MIN_WINDOW_POINTS` points inside the window, or a
        covered fraction below the model's ``domain["min_coverage"]``:
        :meth:`predict` refuses such a curve.

        Parameters
        ----------
        n_in, coverage : ndarray, shape (n,)
            From :meth:`featurise`.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        return (np.asarray(n_in) < MIN_WINDOW_POINTS) | (np.asarray(coverage) < self.domain["min_coverage"])

    def prior_floored_std(self, res: dict) -> np.ndarray:
        """The calibrated std of :meth:`predict_features`, raised to the prior's outside the domain.

        Far from its data a GP knows no more than its prior (Rasmussen &
        Williams 2006, sec. 2.2): where ``res["in_domain"]`` is False each
        std is at least the calibrated prior std.

        Returns
        -------
        ndarray, shape (n, t)
        """
        floor = res["prior_std"] * self.calibration_factors
        return np.where(res["in_domain"][:, None], res["std"], np.maximum(res["std"], floor[None, :]))

    # ---- the steps of predict
    def _check_units(self, curve: Curve, unit: str) -> list[str]:
        """Notes (absolute-intensity kinds) and the error (a q unit other than the training one) on units."""
        notes = []
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
        return notes

    def _curve_features(self, curve: Curve, unit: str):
        """Features of one curve, refused when it covers too little of the model's range.

        Returns
        -------
        X : ndarray, shape (1, p)
        q1 : ndarray, shape (1,)
            In ``unit`` (NaN for log_sq).
        coverage : ndarray, shape (1,)
        notes : list of str
            A note when the coverage is partial.
        """
        try:
            X, q1, cov, n_in = self.featurise(curve.q, curve.intensity[None])
        except ParameterError as exc:
            raise InputFileError(f"{curve.source}: {exc}") from None
        rng_text = self._range_text(q1[0], unit)
        if self.too_narrow(n_in, cov)[0]:
            raise InputFileError(
                f"{curve.source}: the curve covers {100 * cov[0]:.0f}% of the model's {rng_text} "
                f"with {int(n_in[0])} points; the model needs at least "
                f"{100 * self.domain['min_coverage']:.0f}% and {MIN_WINDOW_POINTS} points: measure "
                "(or include) a wider q range; if the curve has no peak in its q range (e.g. a "
                "power law), it has no characteristic scale and is outside what the model knows"
            )
        notes = []
        if cov[0] < 1:
            notes.append(
                f"the curve covers {100 * cov[0]:.0f}% of the model's {rng_text}; the missing ends "
                "are held at the curve's end values (as for training curves), which makes the "
                "prediction less certain than its std says"
            )
        return X, q1, cov, notes

    def _prediction_info(self, res, q1, coverage, unit, n_points):
        """:attr:`Prediction.info` of one curve and the note when its q1 is outside the training range.

        A model that reads the absolute q (:data:`TRAINING_Q_UNIT`) is out of its domain there.
        """
        info = {"q_unit": unit, "feature_kind": self.kind, "n_points": int(n_points),
                "q1": None if self.kind == "log_sq" else float(q1), "coverage": float(coverage),
                "distance": float(res["distance"][0]),
                "distance_threshold": float(self.domain["distance_threshold"]),
                "neighbour": float(res["neighbour"][0]),
                "neighbour_threshold": float(self.domain["neighbour_threshold"]),
                "in_domain": bool(res["in_domain"][0])}
        dom = training_domain(self, unit)
        info["training_domain"] = dom
        info["q1_in_training_range"] = None
        notes = []
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
        return info, notes

    @staticmethod
    def _out_of_domain_note(info, res) -> str:
        """The warning on a curve whose features are unlike the training curves'."""
        return (
            "OUT OF TRAINING DOMAIN: the curve's shape is unlike the training curves "
            f"(Mahalanobis distance {info['distance']:.3g} vs threshold "
            f"{info['distance_threshold']:.3g}, nearest-neighbour distance "
            f"{info['neighbour']:.3g} vs {info['neighbour_threshold']:.3g}, GP std / prior std "
            f"up to {np.max(res['std_gp'][0] / res['prior_std']):.2f}); the standard deviations are raised to at "
            "least the prior's: do not trust these numbers"
        )

    def _noise_draws(self, curve: Curve, n_draws, random_state, background=None):
        """GP means of noisy copies of the curve (Monte Carlo over dI and B), or ``(None, None)``.

        The curve's intensities are drawn log-normally, I exp(dI/I z) with z
        standard normal, ``n_draws`` times from ``default_rng(random_state)``;
        with a ``background``, each copy then has its own B ~ N(value, sigma^2)
        subtracted (points left at or below zero skipped).

        Returns
        -------
        means : ndarray, shape (n_draws, t) or None
            In model space.
        q1 : ndarray, shape (n_draws,) or None
            Each draw's q1 (curve units).
        """
        noisy = curve.error is not None and np.any(curve.error > 0)
        b_sigma = 0.0 if background is None else float(background["sigma"])
        if not (noisy or b_sigma > 0) or int(n_draws) <= 1:
            return None, None
        ic = curve.intensity
        rng = np.random.default_rng(int(random_state))
        draws = np.repeat(ic[None, :], int(n_draws), axis=0)
        if noisy:
            sig = curve.error / ic
            draws = ic[None, :] * np.exp(sig[None, :] * rng.standard_normal((int(n_draws), ic.size)))
        if background is not None:
            draws = subtract_background(draws, background["value"] + b_sigma * rng.standard_normal(int(n_draws)))
        Xd, q1d, _, _ = self.featurise(curve.q, draws)
        return self.predict_features(Xd)["mean"], q1d

    def _density_table(self, mean, std_gp, q1, md, q1d, unit) -> pd.DataFrame:
        """:attr:`Prediction.table`: each density and its std in ``unit`` (length^-p as (unit of q)^p).

        Parameters
        ----------
        mean, std_gp : ndarray, shape (t,)
            GP mean and (floored, calibrated) std in model space.
        q1 : float
            The curve's q1 (scale-free kinds convert back with it).
        md, q1d : ndarray, shapes (n_draws, t) and (n_draws,), or None
            The noise draws of :meth:`_noise_draws`; their spread is ``std_noise``.
        unit : str
            The curve's q unit.
        """
        rows = []
        for j, name in enumerate(self.targets):
            p = density_power(name, self.ndim)
            if self.kind != "log_sq":
                m = float(from_scale_free(mean[j], q1, name, self.ndim))
                s_model = float(from_scale_free(std_gp[j], q1, name, self.ndim))
                s_noise = 0.0 if md is None else float(np.std(from_scale_free(md[:, j], q1d, name, self.ndim)))
            else:
                m, s_model = float(mean[j]), float(std_gp[j])
                s_noise = 0.0 if md is None else float(np.std(md[:, j]))
            rows.append({"functional": name, "mean": m, "std": float(np.hypot(s_model, s_noise)),
                         "std_model": s_model, "std_noise": s_noise, "unit": density_unit(unit, p)})
        return pd.DataFrame(rows)

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
