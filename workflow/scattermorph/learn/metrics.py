"""Scores of a regression: R^2, errors and interval coverage, and grouped evaluation of a fitted model."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import binom
from sklearn.base import clone
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from scattermorph.errors import ParameterError
from scattermorph.learn.splits import grouped_labels


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


def coverage_band(n: int, nominal: float = 0.95, level: float = 0.99):
    """Central ``level`` binomial interval of the coverage of ``n`` independent
    nominal-``nominal`` intervals (fractions)."""
    a = (1 - level) / 2
    return float(binom.ppf(a, n, nominal) / n), float(binom.ppf(1 - a, n, nominal) / n)
