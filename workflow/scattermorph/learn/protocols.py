"""Protocols that evaluate the learning of Minkowski functionals from S(q).

Everything here is built from :mod:`scattermorph.learn.estimators` (features, scikit-learn
models, splits, metrics) and answers one question each:

* :func:`cross_validate` - grouped K-fold cross-validation of one (input,
  model) pair on the *training* simulations, per functional (or jointly);
* :func:`summarise_cv` and :func:`select_models` - the kernel x input x
  functional comparison table and the model chosen per functional (from
  cross-validation only: the test simulations are never used to choose);
* :func:`holdout_test` - the chosen models refitted on all training
  simulations and scored on the held-out ones (the headline numbers);
* :func:`learning_curve` - test error vs the number of training simulations;
* :func:`extrapolation` - train on one part of the (phi0, quench) plane, test
  on another: does the predictive variance rise where it should?
* :func:`paper_protocol` - the random 30/7 splits within one time series of
  Jones & Clarke, Soft Matter 17, 9689 (2021), for comparison;
* :func:`calibration_curve` - observed vs nominal coverage of the GP intervals;
* :func:`sigma_scale_factor` / :func:`calibration_factors` - sigma-scaling
  recalibration of the held-out intervals from the grouped cross-validation
  on the training simulations (the same rule as ``scattermorph train``);
* :func:`baseline_selection` - the paper's exact GP (``gp_paper``) as the
  baseline scored beside the chosen models on the held-out simulations.

All metrics are computed on the *physical* densities (per unit area/volume in
the simulation's units), whatever the model's internal target: models on the
scale-free input learn dimensionless targets (density / q1^p) which are
converted back with each curve's own q1 before scoring.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold

from scattermorph import seeds
from scattermorph.errors import ParameterError
from scattermorph.learn.estimators import make_baseline, make_gp, make_paper_gp
from scattermorph.learn.features import (
    features_dimensionless,
    features_log_sq,
    from_scale_free,
    scale_free_targets,
    scale_free_windowed,
)
from scattermorph.learn.metrics import regression_metrics
from scattermorph.learn.splits import grouped_labels, grouped_split, paper_splits
from scattermorph.measure.scattering import apply_instrument
from scattermorph.measure.snapshots import load_dataset
from scattermorph.sas.resolution import smear_pinhole

__all__ = [
    "FEATURE_KINDS",
    "MODELS",
    "make_model",
    "build_features",
    "split_by_simulation",
    "cross_validate",
    "summarise_cv",
    "select_models",
    "holdout_test",
    "learning_curve",
    "extrapolation",
    "paper_series",
    "paper_protocol",
    "calibration_curve",
    "sigma_scale_factor",
    "calibration_factors",
    "baseline_selection",
    "CALIBRATION_TARGETS",
    "physics_estimates",
    "stage_seed",
    "prepare",
    "load_stage",
    "robustness",
    "robustness_table",
    "check_targets",
    "export_kernel",
]

FEATURE_KINDS = ("log_sq", "dimensionless", "scale_free")

#: GP models: name -> (kernel of make_gp, ARD, joint (all functionals at once))
_GP = {
    "gp_se": ("squared_exponential", False, False),
    "gp_rq": ("rational_quadratic", False, False),
    "gp_m52": ("matern52", False, False),
    "gp_exp": ("exponential", False, False),
    "gp_se_ard": ("squared_exponential", True, False),
    "gp_m52_ard": ("matern52", True, False),
    "gp_se_joint": ("squared_exponential", False, True),
    "gp_m52_joint": ("matern52", False, True),
}
_BASELINES = ("ridge", "kernel_ridge", "random_forest", "gradient_boosting")
#: the exact GP of Jones & Clarke (2021), a baseline (make_paper_gp)
PAPER_GP = "gp_paper"
MODELS = tuple(_GP) + (PAPER_GP,) + _BASELINES


def is_gp(name):
    """True for the Gaussian-process models (they give a predictive std)."""
    return name in _GP or name == PAPER_GP


def is_joint(name):
    """True for models fitted to all functionals at once."""
    return name in _GP and _GP[name][2]


def make_model(name, n_features, *, restarts=2, seed=0):
    """An unfitted scikit-learn model by name.

    ``gp_*``: :func:`scattermorph.learn.estimators.make_gp` with the paper's kernels
    (se: squared exponential, rq: rational quadratic, m52: Matern 5/2, exp:
    exponential = Matern 1/2), a white-noise term, ``_ard`` with one length
    scale per input, ``_joint`` one GP (shared kernel) for all functionals;
    ``ridge``, ``kernel_ridge``, ``random_forest``:
    :func:`scattermorph.learn.estimators.make_baseline`; ``gradient_boosting``:
    HistGradientBoostingRegressor (default settings, seeded); ``gp_paper``:
    :func:`scattermorph.learn.estimators.make_paper_gp`, the exact model of Jones &
    Clarke (2021) on unscaled inputs with their 2 restarts (``restarts`` does
    not apply), the baseline the other GPs must reach.
    """
    if name == PAPER_GP:
        return make_paper_gp(2, random_state=seed)
    if name in _GP:
        kernel, ard, _ = _GP[name]
        return make_gp(kernel, ard=ard, n_features=n_features, restarts=restarts, random_state=seed)
    if name == "gradient_boosting":
        return HistGradientBoostingRegressor(random_state=int(seed))
    if name in _BASELINES:
        return make_baseline(name, random_state=seed)
    raise ParameterError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")


#: constant that separates this stage's random streams from the others'
_STAGE = seeds.LEARNING


def stage_seed(seed, *keys):
    """An integer seed for one task of the learning stage, derived from the
    study seed through ``SeedSequence([seed, 4, *keys])`` (keys: small
    non-negative integers, e.g. indices into :data:`MODELS`), so every job
    draws the same numbers whatever the order or number of cores."""
    return int(np.random.SeedSequence([int(seed), _STAGE, *map(int, keys)]).generate_state(1)[0] % 2**31)


def prepare(table, arrays, split, learning, ndim, kinds=None, intensity="i_q"):
    """Inputs of the learning rules from the dataset and the split.

    Returns
    -------
    features : dict kind -> (X, q1)
    train, test : ndarray of bool, shape (rows,)
    """
    test_ids = set(split.loc[split["subset"] == "test", "sim_id"])
    test = table["sim_id"].isin(test_ids).to_numpy()
    grid = learning["feature_grid"]
    kinds = learning["features"] if kinds is None else kinds
    features = {k: build_features(k, table, arrays, ndim, intensity=intensity, n_points=grid["n_points"],
                                  x_range=tuple(grid["x_range"])) for k in kinds}
    return features, ~test, test


def load_stage(table_path, curves_path, learning, *, split_path=None, selection_path=None):
    """What the learning rules read: the dataset, its dimension, the chosen
    models, the inputs they use and the train/test masks.

    Returns
    -------
    dict with ``table``, ``arrays``, ``ndim``, ``selection`` (DataFrame or
    None), ``features`` (kind -> (X, q1), the selected kinds, or every
    configured kind without a selection), ``train``, ``test`` (bool masks;
    all rows train without a split).
    """

    table, arrays = load_dataset(table_path, curves_path)
    ndim = int(table["dimension"].iloc[0])
    selection = None if selection_path is None else pd.read_csv(selection_path)
    split = (pd.DataFrame({"sim_id": [], "subset": []}) if split_path is None
             else pd.read_csv(split_path))
    kinds = None if selection is None else sorted(set(selection["features"]))
    features, train, test = prepare(table, arrays, split, learning, ndim, kinds=kinds)
    return {"table": table, "arrays": arrays, "ndim": ndim, "selection": selection,
            "features": features, "train": train, "test": test}


# --------------------------------------------------------------------------
# inputs and targets
# --------------------------------------------------------------------------
def build_features(kind, table, arrays, ndim, *, intensity="i_q", n_points=32, x_range=(0.3, 5.0)):
    """The input matrix of one kind for every row of the dataset.

    Parameters
    ----------
    kind : {"log_sq", "dimensionless", "scale_free"}
        ``log_sq``: log10 S on the q grid (Jones & Clarke 2021); bins empty
        in any row dropped. ``dimensionless``: log10(S q1^d) on a q/q1 grid
        plus log10 q1, q1 = 2 pi / L1 from the field's first-moment length
        (column ``L_first_moment``). ``scale_free``: log10(S q1^d / Q) on a
        q/q1 grid with Q and q1 from the binned curve itself, over the window
        [x_lo, x_hi] q1 of its own q1 (:func:`scattermorph.learn.features.window_curve`;
        unit- and scale-free; the input of the models users apply to
        measured data).
    table : pandas.DataFrame
        The dataset table (needs ``L_first_moment`` for ``dimensionless``).
    arrays : dict
        Dataset arrays with ``q``, ``counts`` and the curves ``intensity``.
    ndim : {2, 3}
    intensity : str
        Which curves: ``i_q`` (as the instrument records them; equal to
        ``s_q`` when the instrument is off) or ``s_q`` (ideal).
    n_points, x_range
        Grid of q/q1 for the dimensionless and scale-free inputs.

    Returns
    -------
    X : ndarray, shape (rows, p)
    q1 : ndarray, shape (rows,) or None
        The curves' own first-moment wavenumbers (``scale_free`` only): the
        targets of that input are made dimensionless with them.
    """
    q = arrays["q"]
    s = np.array(arrays[intensity], dtype=float)
    s[~(s > 0)] = np.nan  # zero counts of a noisy curve: no information on log S
    if kind == "log_sq":
        counts = arrays.get("counts")
        X, _ = features_log_sq(q, s, counts)
        return X, None
    if kind == "dimensionless":
        X, _ = features_dimensionless(q, s, table["L_first_moment"].to_numpy(), ndim,
                                            n_points=n_points, x_range=x_range, outside="edge")
        return X, None
    if kind == "scale_free":
        # the definition of the saved models (q1 over the curve's own window)

        return scale_free_windowed(q, s, ndim, n_points=n_points, x_range=x_range)
    raise ParameterError(f"unknown input kind {kind!r}: choose one of {FEATURE_KINDS}")


def _to_model(y, q1, name, ndim):
    return y if q1 is None else scale_free_targets(y, q1, name, ndim)


def _from_model(mu, sd, q1, name, ndim):
    if q1 is None:
        return mu, sd
    mu = from_scale_free(mu, q1, name, ndim)
    sd = None if sd is None else from_scale_free(sd, q1, name, ndim)
    return mu, sd


def _fit_predict(model_name, Xtr, Ytr, Xte, *, restarts, seed):
    """Fit one model (columns of Ytr jointly, or column by column) and
    predict; returns mean and std (NaN for models without one), (n, k)."""
    Ytr = np.atleast_2d(np.asarray(Ytr, dtype=float).T).T
    k = Ytr.shape[1]
    mu = np.empty((Xte.shape[0], k))
    sd = np.full((Xte.shape[0], k), np.nan)
    if is_joint(model_name):
        m = make_model(model_name, Xtr.shape[1], restarts=restarts, seed=seed)
        m.fit(Xtr, Ytr)
        a, b = m.predict(Xte, return_std=True)
        mu[:] = np.reshape(a, (Xte.shape[0], k))
        sd[:] = np.reshape(b, (Xte.shape[0], k))
        return mu, sd
    for j in range(k):
        m = make_model(model_name, Xtr.shape[1], restarts=restarts, seed=seed)
        m.fit(Xtr, Ytr[:, j])
        if is_gp(model_name):
            a, b = m.predict(Xte, return_std=True)
            sd[:, j] = b
        else:
            a = m.predict(Xte)
        mu[:, j] = a
    return mu, sd


def _fit_one(model, X, y, q1, train, test, name, ndim, *, restarts, seed):
    """Fit ``model`` on the ``train`` rows of one functional ``y`` (in the
    model's own target: dimensionless with ``q1`` for the scale-free input)
    and predict the ``test`` rows back in physical units.

    Returns mean and std (None for models without one) of the test rows.
    """
    ytr = _to_model(y[train], None if q1 is None else q1[train], name, ndim)
    mu, sd = _fit_predict(model, X[train], ytr, X[test], restarts=restarts, seed=seed)
    return _from_model(mu[:, 0], sd[:, 0] if is_gp(model) else None,
                       None if q1 is None else q1[test], name, ndim)


def _metrics(y, mu, sd):
    ok_sd = sd is not None and np.all(np.isfinite(sd))
    return regression_metrics(y, mu, np.maximum(sd, np.finfo(float).tiny) if ok_sd else None)


# --------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------
def sweep_point(table) -> pd.Series:
    """Label ``"phi0/quench"`` of every row: the sweep point the split and the
    cross-validation folds are stratified by."""
    return table["phi0"].map("{:.6g}".format) + "/" + table["quench"].map("{:.6g}".format)


def split_by_simulation(table, test_fraction, seed):
    """Assign whole simulations to a training or a test set.

    Returns a DataFrame with one row per simulation: ``sim_id``, ``subset``
    ("train"/"test"), and the run's ``phi0``, ``quench``, ``replicate`` and
    number of snapshots. The split is stratified by sweep point (phi0,
    quench): each point sends its share of runs to each side (see
    :func:`scattermorph.learn.splits.grouped_split`).
    """
    sims = table.groupby("sim_id", sort=True).agg(
        phi0=("phi0", "first"), quench=("quench", "first"), replicate=("replicate", "first"),
        snapshots=("snapshot", "size")).reset_index()
    train, test = grouped_split(table["sim_id"].to_numpy(), test_fraction, rng=seed,
                                      strata=sweep_point(table).to_numpy())
    test_ids = set(table.loc[test, "sim_id"])
    sims["subset"] = np.where(sims["sim_id"].isin(test_ids), "test", "train")
    return sims


# --------------------------------------------------------------------------
# cross-validation, comparison and selection
# --------------------------------------------------------------------------
def grouped_folds(table, n_splits, seed):
    """Fold of every row for grouped K-fold cross-validation.

    Folds hold out whole simulations. When every sweep point (phi0, quench)
    of ``table`` has at least two simulations, the folds are stratified by
    point: the runs of a point are dealt to consecutive folds (points in a
    seeded random order, the fold counter running on across points), so no
    fold holds out every run of a point, and each fold's model is scored on
    new runs of sweep points it was trained on, which is what the held-out
    test (:func:`split_by_simulation`, stratified alike) measures; the
    sigma-scaling factors taken from these folds then describe the test's
    errors. Otherwise (one run per point) GroupKFold on a seeded permutation
    of the simulation labels, as :func:`scattermorph.learn.metrics.evaluate_grouped`.

    Parameters
    ----------
    table : pandas.DataFrame
        ``sim_id`` and, for the stratified folds, ``phi0`` and ``quench``.
    n_splits : int
    seed : int

    Returns
    -------
    ndarray of int, shape (len(table),)
        Fold index of every row.
    """
    groups = table["sim_id"].to_numpy()
    if {"phi0", "quench"} <= set(table.columns):
        point = sweep_point(table.groupby("sim_id", sort=True)[["phi0", "quench"]].first())
        per_point = point.value_counts()
        if per_point.min() >= 2 and per_point.max() <= n_splits:
            rng = np.random.default_rng(seed)
            fold_of, k = {}, int(rng.integers(n_splits))
            for pt in rng.permutation(np.sort(per_point.index.to_numpy())):
                for sim in rng.permutation(np.sort(point.index[point == pt].to_numpy())):
                    fold_of[sim] = k % n_splits
                    k += 1
            return np.array([fold_of[g] for g in groups])
    labels = grouped_labels(groups, seed)
    folds = np.empty(groups.size, dtype=int)
    for fold, (_, te) in enumerate(GroupKFold(n_splits).split(groups, groups=labels)):
        folds[te] = fold
    return folds


def cross_validate(table, X, q1, *, model, functionals, ndim, n_splits=5, restarts=2, seed=0):
    """Grouped K-fold cross-validation of one model on one input.

    Folds hold out whole simulations, stratified by sweep point where the
    training set allows it (:func:`grouped_folds`).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows to use (e.g. the training simulations), with ``sim_id`` and
        the functional columns.
    X : ndarray, shape (len(table), p)
    q1 : ndarray or None
        Curve q1 of each row for scale-free targets.
    model : str
        A name of :data:`MODELS`.
    functionals : list of str
    ndim : {2, 3}
    n_splits : int
        Folds (reduced to the number of simulations if larger).

    Returns
    -------
    metrics : pandas.DataFrame
        One row per (functional, fold) with the fold metrics and fit time.
    predictions : pandas.DataFrame
        Out-of-fold predictions: row (the table's index), sim_id, fold,
        functional, y_true, y_pred, y_std.
    """
    groups = table["sim_id"].to_numpy()
    n_sims = np.unique(groups).size
    n_splits = min(int(n_splits), n_sims)
    if n_splits < 2:
        raise ParameterError(f"cross-validation needs at least 2 simulations, got {n_sims}")
    fold_of = grouped_folds(table, n_splits, seed)
    Y = table[functionals].to_numpy(dtype=float)
    rows, preds = [], []
    for fold in range(n_splits):  # every fold holds at least one run (grouped_folds)
        tr, te = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        Ytr = np.column_stack([_to_model(Y[tr, j], None if q1 is None else q1[tr], f, ndim)
                               for j, f in enumerate(functionals)])
        t0 = time.perf_counter()
        mu, sd = _fit_predict(model, X[tr], Ytr, X[te], restarts=restarts, seed=seed + fold)
        seconds = time.perf_counter() - t0
        for j, f in enumerate(functionals):
            m, s = _from_model(mu[:, j], None if not is_gp(model) else sd[:, j],
                               None if q1 is None else q1[te], f, ndim)
            rows.append({"functional": f, "fold": fold, "n_train": tr.size, "n_test": te.size,
                         "fit_seconds": seconds / (1 if is_joint(model) else len(functionals)),
                         **_metrics(Y[te, j], m, s)})
            preds.append(pd.DataFrame({
                "row": table.index.to_numpy()[te], "sim_id": groups[te], "fold": fold,
                "functional": f, "y_true": Y[te, j], "y_pred": m,
                "y_std": np.nan if s is None else s}))
    return pd.DataFrame(rows), pd.concat(preds, ignore_index=True)


def summarise_cv(metrics, predictions):
    """The comparison table: one row per (input, model, functional).

    Metrics are *pooled* over the out-of-fold predictions (every training
    row predicted once, by a model that never saw its simulation): with
    only a few simulations per fold, per-fold R^2 is dominated by the small
    spread of the held-out runs (the area fraction barely changes within a
    run) and is not a useful summary. The spread of the per-fold R^2 is kept
    as ``r2_fold_sd`` and the mean fit time per model as ``fit_seconds``.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Concatenated :func:`cross_validate` metrics with ``features`` and
        ``model`` columns added.
    predictions : pandas.DataFrame
        Concatenated out-of-fold predictions, same extra columns.
    """
    keys = ["features", "model", "functional"]
    rows = []
    for key, p in predictions.groupby(keys, sort=True):
        sd = p["y_std"].to_numpy()
        has_sd = np.all(np.isfinite(sd))
        rows.append({**dict(zip(keys, key)), **_metrics(p["y_true"].to_numpy(), p["y_pred"].to_numpy(),
                                                        sd if has_sd else None)})
    out = pd.DataFrame(rows)
    g = metrics.groupby(keys, sort=True)
    extra = pd.DataFrame({"r2_fold_sd": g["r2"].std(ddof=1), "folds": g.size(),
                          "fit_seconds": g["fit_seconds"].mean()}).reset_index()
    out = out.merge(extra, on=keys, how="left")
    out["gp"] = out["model"].map(is_gp)
    return out


def select_models(summary, functionals, *, criterion="r2", gp_only=True):
    """The (input, model) chosen per functional from cross-validation.

    The best mean cross-validated ``criterion`` (higher is better for
    ``r2``, lower for ``rmse``/``nlpd``) among GP models (``gp_only``: only
    they give the uncertainty the study reports), so the held-out test
    simulations play no part in the choice. Joint models are not candidates
    for one functional.
    """
    rows = []
    for f in functionals:
        cand = summary[(summary["functional"] == f)]
        cand = cand[~cand["model"].map(is_joint)]
        if gp_only:
            cand = cand[cand["gp"]]
        cand = cand.dropna(subset=[criterion])
        if cand.empty:
            raise ParameterError(f"no candidate model with a finite {criterion} for {f}")
        best = cand.sort_values(criterion, ascending=criterion != "r2", kind="stable").iloc[0]
        rows.append({"functional": f, "features": best["features"], "model": best["model"],
                     f"cv_{criterion}": best[criterion]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# held-out test, learning curves, extrapolation
# --------------------------------------------------------------------------
def holdout_test(table, features, train, test, *, selection, ndim, restarts=2, seed=0, factors=None):
    """Refit each selected model on the training rows, predict the test rows.

    Parameters
    ----------
    table : pandas.DataFrame
    features : dict of str to (X, q1)
        Inputs by kind, from :func:`build_features` on all rows.
    train, test : ndarray of bool, shape (len(table),)
    selection : pandas.DataFrame
        From :func:`select_models` (functional, features, model).
    factors : pandas.DataFrame, optional
        Sigma-scaling factors from :func:`calibration_factors` (functional,
        features, model, sigma_scale). With them every GP row also gets its
        recalibrated std ``y_std_cal`` = sigma_scale x y_std and the metrics
        ``sigma_scale``, ``coverage_68_cal``, ``coverage_95_cal``,
        ``z_mean_cal``, ``z_std_cal``, ``nlpd_cal`` (the factor comes from the
        training simulations only, so these are honest held-out numbers).

    Returns
    -------
    predictions : DataFrame (row, sim_id, functional, features, model,
        y_true, y_pred, y_std[, y_std_cal])
    metrics : DataFrame, one row per functional
    """
    scale = {} if factors is None else {
        (r.functional, r.features, r.model): float(r.sigma_scale) for r in factors.itertuples()}
    preds, rows = [], []
    for _, sel in selection.iterrows():
        f, kind, model = sel["functional"], sel["features"], sel["model"]
        X, q1 = features[kind]
        y = table[f].to_numpy(dtype=float)
        m, s = _fit_one(model, X, y, q1, train, test, f, ndim, restarts=restarts, seed=seed)
        frame = pd.DataFrame({"row": table.index[test], "sim_id": table["sim_id"].to_numpy()[test],
                              "functional": f, "features": kind, "model": model,
                              "y_true": y[test], "y_pred": m, "y_std": np.nan if s is None else s})
        row = {"functional": f, "features": kind, "model": model,
               "n_train_sims": table.loc[train, "sim_id"].nunique(),
               "n_test_sims": table.loc[test, "sim_id"].nunique(),
               **_metrics(y[test], m, s)}
        if factors is not None:
            c = scale.get((f, kind, model), np.nan)
            frame["y_std_cal"] = np.nan if s is None else c * s
            row["sigma_scale"] = c
            cal = _metrics(y[test], m, None if (s is None or not np.isfinite(c)) else c * s)
            row.update({f"{k}_cal": cal.get(k, np.nan)
                        for k in ("coverage_68", "coverage_95", "z_mean", "z_std", "nlpd")})
        preds.append(frame)
        rows.append(row)
    return pd.concat(preds, ignore_index=True), pd.DataFrame(rows)


def learning_curve(table, features, train, test, *, selection, ndim, sizes, repeats, restarts=1, seed=0):
    """Held-out test error vs the number of training simulations.

    For each size n and repeat, n simulations are drawn (without
    replacement, seeded) from the training simulations, the selected model
    of each functional is fitted on all their snapshots and scored on the
    whole test set. Sizes larger than the number of training simulations
    are skipped.

    Returns
    -------
    pandas.DataFrame: functional, n_sims, repeat, n_train and the metrics.
    """
    rng = np.random.default_rng(seed)
    sims = np.unique(table.loc[train, "sim_id"])
    sid = table["sim_id"].to_numpy()
    rows = []
    for n in sorted(int(s) for s in sizes):
        if n > sims.size or n < 1:
            continue
        for r in range(int(repeats) if n < sims.size else 1):
            pick = rng.choice(sims, size=n, replace=False)
            tr = np.isin(sid, pick)
            for _, sel in selection.iterrows():
                f, kind, model = sel["functional"], sel["features"], sel["model"]
                X, q1 = features[kind]
                y = table[f].to_numpy(dtype=float)
                if np.ptp(y[tr]) == 0:
                    continue
                m, s = _fit_one(model, X, y, q1, tr, test, f, ndim, restarts=restarts, seed=seed + r)
                rows.append({"functional": f, "features": kind, "model": model, "n_sims": n,
                             "repeat": r, "n_train": int(tr.sum()), **_metrics(y[test], m, s)})
    return pd.DataFrame(rows)


def extrapolation(table, features, *, selection, ndim, column, split, restarts=2, seed=0):
    """Train on one side of a parameter, test on both sides.

    Rows with ``table[column] <= split`` train the selected model of each
    functional; grouped cross-validation inside that side (2 folds by
    simulation) gives in-domain predictions, and the other side
    (``> split``) is predicted by the model fitted on the whole training
    side. A calibrated model should have larger predictive std outside.

    Returns
    -------
    pandas.DataFrame: row, sim_id, functional, features, model, domain
        ("inside" / "outside"), value of ``column``, y_true, y_pred, y_std.
    """
    inside = table[column].to_numpy() <= split
    if inside.all() or not inside.any():
        raise ParameterError(f"extrapolation split {column} <= {split} leaves one side empty")
    sid = table["sim_id"].to_numpy()
    out = []
    for _, sel in selection.iterrows():
        f, kind, model = sel["functional"], sel["features"], sel["model"]
        X, q1 = features[kind]
        y = table[f].to_numpy(dtype=float)

        def _run(tr, te):
            return _fit_one(model, X, y, q1, tr, te, f, ndim, restarts=restarts, seed=seed)

        in_idx = np.flatnonzero(inside)
        if np.unique(sid[in_idx]).size >= 2:
            labels = grouped_labels(sid[in_idx], seed)
            for tr_i, te_i in GroupKFold(2).split(in_idx, groups=labels):
                tr = np.zeros(len(table), bool)
                te = np.zeros(len(table), bool)
                tr[in_idx[tr_i]] = True
                te[in_idx[te_i]] = True
                m, s = _run(tr, te)
                out.append(_frame(table, te, f, kind, model, "inside", column, y, m, s))
        te = ~inside
        m, s = _run(inside, te)
        out.append(_frame(table, te, f, kind, model, "outside", column, y, m, s))
    return pd.concat(out, ignore_index=True)


def _frame(table, mask, f, kind, model, domain, column, y, m, s):
    return pd.DataFrame({"row": table.index[mask], "sim_id": table["sim_id"].to_numpy()[mask],
                         "functional": f, "features": kind, "model": model, "domain": domain,
                         column: table[column].to_numpy()[mask], "y_true": y[mask], "y_pred": m,
                         "y_std": np.nan if s is None else s})


def robustness(table, arrays, train, test, *, selection, ndim, learning, settings, seed, restarts=1):
    """Models trained on ideal or on smeared curves, tested on curves through an instrument.

    For each instrument setting (resolution dq/q, counts per unit intensity
    or None for no counting noise, background;
    :func:`scattermorph.measure.scattering.apply_instrument`) the test curves are
    degraded (noise drawn from ``seed``), the inputs rebuilt, and the
    selected models scored twice: fitted on the ideal training curves
    (``training`` = ``"ideal"``) and, for a setting with a resolution, refitted
    on the training curves smeared with that resolution
    (:func:`scattermorph.sas.resolution.smear_pinhole`; no noise, no background:
    ``training`` = ``"smeared"``), which is what ``scattermorph predict`` does
    with a curve's dQ. The first row (``setting`` -1) is the ideal test set for
    reference. For the ``log_sq`` input, bins lost to noise (zero counts) in
    any row are dropped for all rows, training included.

    Returns
    -------
    pandas.DataFrame: setting, resolution, counts, background, training,
        functional, features, model and the test metrics.
    """

    rows = []
    rng = np.random.default_rng(seed)
    ideal = np.array(arrays["s_q"], dtype=float)
    q = np.asarray(arrays["q"], dtype=float)
    cases = [(-1, None)] + list(enumerate(settings))
    train_rows = np.flatnonzero(train)
    for k, setting in cases:
        curves = ideal.copy()
        if setting is not None:
            for r in np.flatnonzero(test):
                curves[r], _ = apply_instrument(q, ideal[r], rng=rng, resolution=setting["resolution"],
                                                counts=setting.get("counts"),
                                                background=setting["background"])
        info = {"setting": k, "resolution": 0.0, "counts": np.inf, "background": 0.0}
        if setting is not None:
            info.update(setting)
            if info["counts"] is None:
                info["counts"] = np.inf
        trainings = ["ideal"] + (["smeared"] if setting is not None and setting["resolution"] > 0 else [])
        for training in trainings:
            if training == "smeared":
                curves[train_rows] = smear_pinhole(q, ideal[train_rows], setting["resolution"] * q)
            noisy = dict(arrays, i_q=curves)
            kinds = sorted(set(selection["features"]))
            feats, _, _ = prepare(table, noisy, pd.DataFrame({"sim_id": [], "subset": []}), learning, ndim,
                                  kinds=kinds, intensity="i_q")
            _, metrics = holdout_test(table, feats, train, test, selection=selection, ndim=ndim,
                                      restarts=restarts, seed=seed)
            rows.append(metrics.assign(**info, training=training))
    return pd.concat(rows, ignore_index=True)


def robustness_table(metrics) -> pd.DataFrame:
    """Held-out R^2 per functional and resolution: ideal curves, and smeared test
    curves with models trained on ideal or on smeared curves.

    Parameters
    ----------
    metrics : pandas.DataFrame
        The output of :func:`robustness`.

    Returns
    -------
    pandas.DataFrame
        One row per (setting with a resolution, functional): ``setting``,
        ``resolution``, ``counts``, ``background``, ``functional``,
        ``r2_ideal`` (ideal test curves), ``r2_trained_ideal`` and
        ``r2_trained_smeared``, ``gap`` = r2_ideal - r2_trained_smeared.
    """
    m = metrics.copy()
    if "training" not in m:
        m["training"] = "ideal"
    ideal = m[m["setting"] < 0].set_index("functional")["r2"]
    out = []
    for (k, f), g in m[(m["setting"] >= 0) & (m["resolution"] > 0)].groupby(["setting", "functional"], sort=False):
        by = g.set_index("training")["r2"]
        first = g.iloc[0]
        row = {"setting": int(k), "resolution": float(first["resolution"]), "counts": float(first["counts"]),
               "background": float(first["background"]), "functional": f, "r2_ideal": float(ideal.get(f, np.nan)),
               "r2_trained_ideal": float(by.get("ideal", np.nan)),
               "r2_trained_smeared": float(by.get("smeared", np.nan))}
        row["gap"] = row["r2_ideal"] - row["r2_trained_smeared"]
        out.append(row)
    return pd.DataFrame(out)


#: Default calibration targets when a config does not give them: a
#: calibrated Gaussian predictive distribution covers 68.3 % / 95 % of the
#: points at +-1 / +-1.96 std and its z-scores have std 1; the bands allow
#: for the sampling spread of a few hundred correlated test snapshots.
CALIBRATION_TARGETS = {"coverage_95": (0.90, 0.98), "coverage_68": (0.60, 0.76), "z_std": (0.8, 1.2)}


def _band(targets, key):
    lo, hi = targets.get(key, CALIBRATION_TARGETS[key])
    return float(lo), float(hi)


def check_targets(metrics, targets):
    """The study's targets against the held-out test metrics.

    Returns one row per metrics row (functional and, where ``metrics`` has
    it, ``role``: the selected model or the paper's baseline): r2 and its
    target; coverage_95, coverage_68 and z_std with their target bands
    (``targets`` keys ``coverage_95``, ``coverage_68``, ``z_std``; the last
    two default to :data:`CALIBRATION_TARGETS`), before and, where
    ``metrics`` carries the recalibrated columns (``*_cal``, see
    :func:`holdout_test`), after sigma scaling; ``coverage_met`` (raw 95 %
    coverage in its band), ``calibration_met`` (all three raw numbers in
    their bands) and ``calibration_met_cal`` (all three after recalibration).
    """
    bands = {k: _band(targets, k) for k in CALIBRATION_TARGETS}

    def inside(v, k):
        lo, hi = bands[k]
        return bool(np.isfinite(v) and lo <= v <= hi)

    out = []
    for _, m in metrics.iterrows():
        f = m["functional"]
        r2_target = targets["r2"].get(f, np.nan)
        row = {"functional": f, "role": m.get("role", "selected"), "features": m["features"],
               "model": m["model"], "r2": m["r2"], "r2_target": r2_target,
               "r2_met": bool(m["r2"] >= r2_target), "sigma_scale": m.get("sigma_scale", np.nan)}
        for k in CALIBRATION_TARGETS:
            lo, hi = bands[k]
            row.update({k: m.get(k, np.nan), f"{k}_cal": m.get(f"{k}_cal", np.nan)})
            tag = "coverage" if k == "coverage_95" else k  # historical names of the 95 % band
            row.update({f"{tag}_target_lo": lo, f"{tag}_target_hi": hi})
        row["coverage_met"] = inside(row["coverage_95"], "coverage_95")
        row["calibration_met"] = all(inside(row[k], k) for k in CALIBRATION_TARGETS)
        row["calibration_met_cal"] = all(inside(row[f"{k}_cal"], k) for k in CALIBRATION_TARGETS)
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------
# the paper's protocol
# --------------------------------------------------------------------------
def paper_series(table, n_series):
    """Series of the paper's protocol: replicate 0 at the shallowest quench,
    one per composition, at most ``n_series`` spread evenly over phi0."""
    sims = table.drop_duplicates("sim_id")
    first = sims[(sims["replicate"] == sims["replicate"].min()) & (sims["quench"] == sims["quench"].min())]
    first = first.sort_values("phi0")
    idx = np.unique(np.round(np.linspace(0, len(first) - 1, min(int(n_series), len(first)))).astype(int))
    return list(first["sim_id"].iloc[idx])


def paper_protocol(table, X, q1, *, functionals, ndim, kernels, series, n_repeats, n_train, n_test,
                   restarts=0, seed=0):
    """Random splits within single time series (Jones & Clarke 2021).

    For each series and kernel, ``n_repeats`` random splits of its snapshots
    (:func:`scattermorph.learn.splits.paper_splits`); one GP per functional on the
    paper's isotropic kernel, scored by relative RMSE on the ``n_test``
    snapshots of the same run. The paper reported the best split; the
    median is the fairer summary and both are kept.

    Returns
    -------
    pandas.DataFrame: sim_id, kernel, functional, repeat, relative_rmse,
        r2, and the test rows' predictions as JSON-free columns (one row per
        split: ``test_rows`` as a space-separated string).
    """
    rows = []
    sid_all = table["sim_id"].to_numpy()
    for kname in kernels:
        model = {"squared_exponential": "gp_se", "rational_quadratic": "gp_rq",
                 "matern52": "gp_m52", "exponential": "gp_exp"}[kname]
        splits = paper_splits(table, n_repeats=n_repeats, n_train=n_train, n_test=n_test,
                                    rng=seed, sim_ids=series)
        counter = {}
        for s_id, tr, te in splits:
            rep = counter.get(s_id, 0)
            counter[s_id] = rep + 1
            for f in functionals:
                y = table[f].to_numpy(dtype=float)
                if np.ptp(_to_model(y[tr], None if q1 is None else q1[tr], f, ndim)) == 0:
                    continue
                m, s = _fit_one(model, X, y, q1, tr, te, f, ndim, restarts=restarts, seed=seed)
                r = y[te] - m
                rmse = float(np.sqrt(np.mean(r ** 2)))
                rows.append({"sim_id": s_id, "kernel": kname, "functional": f, "repeat": rep,
                             "rmse": rmse,
                             # relative to the spread of the series' values (the
                             # test set of 4-7 points has too small a spread)
                             "relative_rmse": rmse / np.std(y[sid_all == s_id]),
                             "test_rows": " ".join(str(int(table.index[i])) for i in te),
                             "y_true": " ".join(f"{v:.9g}" for v in y[te]),
                             "y_pred": " ".join(f"{v:.9g}" for v in m),
                             "y_std": " ".join(f"{v:.9g}" for v in s)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# calibration and physics estimators
# --------------------------------------------------------------------------
def calibration_curve(y_true, y_pred, y_std, levels=None):
    """Observed coverage of central Gaussian intervals vs their nominal level.

    For each nominal level c, the fraction of points with
    ``|y - mu| <= z_c sigma``, z_c = Phi^-1((1 + c) / 2). A calibrated model
    lies on the diagonal; below it the intervals are too narrow.

    Returns
    -------
    levels, observed : ndarray, shape (L,)
    """
    levels = np.linspace(0.05, 0.99, 20) if levels is None else np.asarray(levels, dtype=float)
    z = np.abs(np.asarray(y_true) - np.asarray(y_pred)) / np.asarray(y_std)
    zc = stats.norm.ppf((1 + levels) / 2)
    return levels, (z[None, :] <= zc[:, None]).mean(axis=1)


def sigma_scale_factor(y_true, y_pred, y_std):
    """The sigma-scaling factor of one set of predictions: sqrt(mean(z^2)),
    z = (y_true - y_pred) / y_std.

    Sigma scaling (Levi, Gispan, Giladi & Fetaya, Sensors 22, 5540 (2022);
    Laves et al. 2020) multiplies every predictive std by one factor s;
    maximising the Gaussian likelihood of residuals r_i with std s sigma_i
    gives s^2 = mean((r_i / sigma_i)^2), the rule of
    :func:`scattermorph.predict.fit.sigma_scale_factors`. Fitted on out-of-fold
    predictions of whole held-out simulations, it is the factor for new
    simulations. Stds are floored at the smallest positive float as in the
    metrics.
    """
    yt, yp, sd = (np.asarray(a, dtype=float).ravel() for a in (y_true, y_pred, y_std))
    if yt.size == 0 or not (yt.shape == yp.shape == sd.shape):
        raise ParameterError(f"sigma scaling needs equal, non-empty arrays, got {yt.size}, {yp.size}, {sd.size}")
    if not (np.all(np.isfinite(yt)) and np.all(np.isfinite(yp)) and np.all(np.isfinite(sd)) and np.all(sd >= 0)):
        raise ParameterError("sigma scaling needs finite values and finite non-negative predictive stds")
    z = (yt - yp) / np.maximum(sd, np.finfo(float).tiny)
    return float(np.sqrt(np.mean(z ** 2)))


def calibration_factors(cv_predictions, selection):
    """Sigma-scaling factor of each selected (functional, input, model) from
    its out-of-fold predictions in the grouped cross-validation on the
    training simulations (``cross_validate_models``: the held-out test
    simulations are never used).

    Parameters
    ----------
    cv_predictions : pandas.DataFrame
        Concatenated :func:`cross_validate` predictions with ``features``
        and ``model`` columns (functional, y_true, y_pred, y_std).
    selection : pandas.DataFrame
        functional, features, model (e.g. :func:`select_models` and
        :func:`baseline_selection`).

    Returns
    -------
    pandas.DataFrame: functional, features, model, sigma_scale (NaN where
        the model has no std or no out-of-fold predictions), n_cv, and the
        cross-validated coverage_68 / coverage_95 / z_std before scaling.
    """
    rows = []
    for r in selection.drop_duplicates(["functional", "features", "model"]).itertuples():
        p = cv_predictions[(cv_predictions["functional"] == r.functional)
                           & (cv_predictions["features"] == r.features) & (cv_predictions["model"] == r.model)]
        row = {"functional": r.functional, "features": r.features, "model": r.model, "n_cv": len(p),
               "sigma_scale": np.nan, "cv_coverage_68": np.nan, "cv_coverage_95": np.nan, "cv_z_std": np.nan}
        if len(p) and np.all(np.isfinite(p["y_std"])):
            row["sigma_scale"] = sigma_scale_factor(p["y_true"], p["y_pred"], p["y_std"])
            m = _metrics(p["y_true"].to_numpy(), p["y_pred"].to_numpy(), p["y_std"].to_numpy())
            row.update(cv_coverage_68=m["coverage_68"], cv_coverage_95=m["coverage_95"], cv_z_std=m["z_std"])
        rows.append(row)
    return pd.DataFrame(rows)


def baseline_selection(comparison, functionals):
    """The paper's exact GP (``gp_paper``, :func:`scattermorph.learn.estimators.make_paper_gp`)
    per functional, scored on the held-out simulations beside the chosen
    model: on ``log_sq`` (log10 S on the q grid, the paper's input) where
    the study computes it, else on its best cross-validated input. Empty
    when ``gp_paper`` is not among the study's models.

    Returns
    -------
    pandas.DataFrame: functional, features, model, cv_r2
    """
    c = comparison[comparison["model"] == PAPER_GP]
    rows = []
    for f in functionals:
        cf = c[c["functional"] == f]
        if cf.empty:
            continue
        pick = cf[cf["features"] == "log_sq"]
        if pick.empty:
            pick = cf.sort_values("r2", ascending=False, kind="stable")
        best = pick.iloc[0]
        rows.append({"functional": f, "features": best["features"], "model": PAPER_GP, "cv_r2": best["r2"]})
    return pd.DataFrame(rows, columns=["functional", "features", "model", "cv_r2"])


def physics_estimates(table, ndim):
    """Estimators without learning: invariant -> volume fraction, Porod ->
    perimeter/surface density (columns written by the measurement stage;
    see :mod:`scattermorph.measure.scattering`). Returns {functional: estimate}."""
    area = "area_density" if ndim == 2 else "volume_density"
    surf = "perimeter_density" if ndim == 2 else "surface_density"
    out = {}
    if "volume_fraction_invariant" in table:
        out[area] = table["volume_fraction_invariant"].to_numpy(dtype=float)
    porod = "perimeter_density_porod" if ndim == 2 else "surface_density_porod"
    if porod in table:
        out[surf] = table[porod].to_numpy(dtype=float)
    return out


def export_kernel(comparison):
    """Kernel of the model shipped to users: the single-output GP kernel with
    the best cross-validated R^2 on the scale-free input, averaged over the
    functionals (one kernel serves every functional of the saved model).

    Returns
    -------
    (kernel name of :func:`scattermorph.learn.estimators.make_gp`, ard)
    """
    c = comparison[(comparison["features"] == "scale_free") & comparison["model"].isin(
        [m for m in _GP if not is_joint(m)])]
    if c.empty:
        return "squared_exponential", False
    best = c.groupby("model")["r2"].mean().idxmax()
    kernel, ard, _ = _GP[best]
    return kernel, ard
