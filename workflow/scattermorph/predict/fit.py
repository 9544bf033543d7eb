"""Fitting the functional models: one Gaussian process per functional on scale-free or log S(q) features, cross-validation and the sigma-scaling of their intervals."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from scattermorph.errors import ParameterError
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn.estimators import GP_KERNELS, SCALINGS, make_gp, make_paper_gp
from scattermorph.learn.features import SCALE_COLUMNS, _featurise, density_power, features_log_sq, scale_free_targets
from scattermorph.learn.splits import grouped_labels, paper_splits
from scattermorph.predict.model import (
    AUTO_KINDS,
    FEATURE_KINDS,
    MIN_COVERAGE,
    MIN_COVERAGE_FLOOR,
    FunctionalModel,
    _build_kernel,
    _domain,
    _kernel_spec,
)
from scattermorph.sas.curves import normalise_q_unit


# --------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------
def fit_models(q, s_q, table, ndim, targets=None, *, kernel="squared_exponential", ard=False,
               restarts=3, random_state=0, feature_kind="scale_free", n_points=32,
               x_range=(0.3, 5.0), counts=None, groups=None, q_unit="1/b", noise=True,
               scaling="global", scale_length="own", start=None, optimise=True, log=None) -> FunctionalModel:
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
        Density columns to learn (default ``scattermorph.functionals.FUNCTIONALS[ndim]``).
    kernel, ard, restarts, random_state, noise, scaling
        Passed to :func:`scattermorph.learn.estimators.make_gp`. ``kernel="paper"`` is
        the exact model of Jones & Clarke (2021),
        :func:`scattermorph.learn.estimators.make_paper_gp` (``ard``, ``noise`` and
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
        (:class:`scattermorph.learn.estimators.GroupedRBF`); ``"shared"`` uses one
        isotropic length scale for all (with 32 shape columns the one or two
        scale columns then hardly count: volume R^2 0.60 vs 0.92 on held-out
        3D simulations).
    n_points, x_range
        Grid of the scale_free features (32 points on q/q1 in [0.3, 5]).
    counts : array_like, shape (rows, B), optional
        Modes per bin (log_sq: a bin with a zero count in any row is dropped).
    groups : array_like, shape (rows,), optional
        Group (e.g. simulation) of every row: the domain thresholds are then
        cross-validated by group.
    q_unit : str
        Unit of q (default ``1/b``, the simulations').
    start : dict of str -> dict, optional
        Kernel spec per target (``FunctionalModel.specs`` of a model of the
        same kernel and features): each GP starts from those
        hyper-parameters, without restarts (a refit of a model on changed
        curves, :mod:`scattermorph.predict.smearing`).
    optimise : bool
        With ``start``: re-optimise the hyper-parameters from there (True) or
        keep them and only refactorise the covariance on the new features.
    log : callable, optional
        Called with progress lines.

    Returns
    -------
    FunctionalModel
    """

    ard, noise, scaling = _fit_options(ndim, feature_kind, kernel, ard, noise, scaling, scale_length)
    targets = list(FUNCTIONALS[ndim] if targets is None else targets)
    if not targets:
        raise ParameterError("no targets to learn")
    q, s_q = np.asarray(q, dtype=float), np.atleast_2d(np.asarray(s_q, dtype=float))
    unit = normalise_q_unit(q_unit)
    values = _target_values(table, targets, ndim, s_q.shape[0])
    features = {"kind": feature_kind, "ndim": int(ndim), "q_unit": unit}
    grid, X, Y, cov = _training_features(features, q, s_q, values, targets, counts, n_points, x_range)
    domain = _domain(X, groups, random_state)
    domain["min_coverage"] = float(max(MIN_COVERAGE_FLOOR, min(MIN_COVERAGE, cov.min())))
    length_groups = _length_groups(feature_kind, scale_length, kernel, ard, X.shape[1])
    pipelines, specs, caught, times = {}, {}, [], {}
    for j, name in enumerate(targets):
        pipelines[name], specs[name], times[name], rec = _fit_one(
            X, Y[:, j], name, kernel=kernel, ard=ard, noise=noise, restarts=restarts, random_state=random_state,
            scaling=scaling, length_groups=length_groups, start=None if start is None else start[name],
            optimise=optimise)
        caught += rec
        if log:
            log(f"{name}: {specs[name]['repr']} ({times[name]:.1f} s)")
    training = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "kernel": kernel,
                "ard": bool(ard), "noise": bool(noise), "scaling": scaling, "restarts": int(restarts),
                "scale_length": scale_length if length_groups is not None else None,
                "random_state": int(random_state), "fit_seconds": times,
                **({} if start is None else {"hyperparameters": "re-optimised from the parent's" if optimise
                                             else "the parent's, kept"}),
                "grouped": groups is not None, "warnings": sorted(set(caught))}
    return FunctionalModel(features=features, grid=grid, targets=targets, X=X, Y=Y, pipelines=pipelines, specs=specs,
                           domain=domain, training=training, curves=_training_curves(q, s_q, values, groups))


def _fit_options(ndim, feature_kind, kernel, ard, noise, scaling, scale_length):
    """Checked options of :func:`fit_models`: ``(ard, noise, scaling)``, which the paper's kernel fixes."""
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
    return ard, noise, scaling


def _target_values(table, targets, ndim, n_curves) -> np.ndarray:
    """The training densities, shape (n_curves, len(targets)), checked: known, present, finite, >= 5 rows."""
    for name in targets:
        density_power(name, ndim)
        if name not in FUNCTIONALS[ndim]:
            raise ParameterError(f"{name!r} is not a {ndim}D density; choose from {FUNCTIONALS[ndim]}")
        if name not in table:
            raise ParameterError(f"the table has no column {name!r}")
    values = np.column_stack([np.asarray(table[name], dtype=float) for name in targets])
    if values.shape[0] != n_curves:
        raise ParameterError(f"{n_curves} curves but {values.shape[0]} table rows")
    if not np.all(np.isfinite(values)):
        raise ParameterError("target values must be finite: drop rows with missing functionals first")
    if n_curves < 5:
        raise ParameterError(f"{n_curves} training curves: need at least 5")
    return values


def _training_features(features, q, s_q, values, targets, counts, n_points, x_range):
    """Features and model-space targets of the training curves.

    Scale-free kinds add ``n_points`` and ``x_range`` to ``features`` (in place).

    Returns
    -------
    grid : ndarray, shape (p,)
        x = q/q1 (then 0: the log10 invariant column, -1: the log10 q1 column) or the kept q bins (log_sq).
    X : ndarray, shape (rows, p)
    Y : ndarray, shape (rows, t)
        Densities made dimensionless with each curve's q1 (scale-free kinds) or as given (log_sq).
    coverage : ndarray, shape (rows,)
        Fraction of the grid inside each curve's data.
    """
    kind, ndim = features["kind"], features["ndim"]
    if kind not in SCALE_COLUMNS:
        X, mask = features_log_sq(q, s_q, counts)
        return q[mask], X, values, np.ones(s_q.shape[0])
    features.update(n_points=int(n_points), x_range=[float(v) for v in x_range])
    grid = np.logspace(*np.log10(features["x_range"]), features["n_points"])
    # 0 marks the log10 invariant column, -1 the log10 q1 column
    grid = np.append(grid, [0.0, -1.0][:len(SCALE_COLUMNS[kind])])
    X, q1, cov, _ = _featurise(features, grid, q, s_q)
    Y = np.column_stack([scale_free_targets(values[:, j], q1, name, ndim) for j, name in enumerate(targets)])
    return grid, X, Y, cov


def _length_groups(feature_kind, scale_length, kernel, ard, n_features):
    """Length-scale group per feature (0 shape bins, 1 scale columns) for ``scale_length="own"``, else None."""
    n_scale = len(SCALE_COLUMNS.get(feature_kind, ()))
    if n_scale and scale_length == "own" and kernel == "squared_exponential" and not ard:
        return (0,) * (n_features - n_scale) + (1,) * n_scale
    return None


def _fit_one(X, y, name, *, kernel, ard, noise, restarts, random_state, scaling, length_groups, start=None,
             optimise=True):
    """One GP fitted to one target, with the spec it is saved as.

    Parameters
    ----------
    X : ndarray, shape (rows, p)
    y : ndarray, shape (rows,)
        The target in model space.
    start : dict, optional
        Kernel spec to start from (no restarts); ``optimise=False`` keeps it.

    Returns
    -------
    pipeline : sklearn Pipeline
    spec : dict
        Kernel spec (checked to rebuild the fitted kernel).
    seconds : float
        Fit time.
    warnings : list of str
        What the fit warned, prefixed by ``name``.
    """
    if kernel == "paper":
        pipe = make_paper_gp(restarts, random_state)
    else:
        pipe = make_gp(kernel, ard=ard, n_features=X.shape[1], noise=noise, restarts=restarts,
                       random_state=random_state, scaling=scaling, groups=length_groups)
    if start is not None:
        pipe.set_params(gp__kernel=_build_kernel(start, X.shape[1]), gp__n_restarts_optimizer=0,
                        **({} if optimise else {"gp__optimizer": None}))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        pipe.fit(X, y)
    seconds = time.perf_counter() - t0
    caught = [f"{name}: {w.message}" for w in rec]
    spec = _kernel_spec(pipe.named_steps["gp"], "squared_exponential" if kernel == "paper" else kernel,
                        ard, noise, scaling)
    rebuilt = _build_kernel(spec, X.shape[1])
    # log(exp(theta)) may move theta by an ulp; a wrong structure moves it by O(1)
    if not np.allclose(rebuilt.theta, pipe.named_steps["gp"].kernel_.theta, rtol=0, atol=1e-12):
        raise ParameterError(f"{name}: the kernel spec does not reproduce the fitted kernel")
    return pipe, spec, seconds, caught


def _training_curves(q, s_q, values, groups) -> dict:
    """The training curves a model keeps for refits: ``q`` (B,), ``s_q`` (rows, B), ``values``
    (rows, t) and ``groups`` (rows,) as float codes, or None."""
    codes = None if groups is None else np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    return {"q": q, "s_q": s_q, "values": values, "groups": None if codes is None else codes.astype(float)}


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
    :func:`scattermorph.learn.splits.paper_splits`).

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
