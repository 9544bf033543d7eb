"""The q window a curve covers: the window of q/q1 a model is refitted on, its measured accuracy, and refusals.

A measured curve often covers only part of the model's feature window
``x_range`` (q/q1 in [0.3, 3] for the shipped model). Rather than hold the
missing ends at the curve's end values, ``predict`` refits the model on the
window the curve does cover (:func:`covered_window`; the training curves cut
to that window, :func:`scattermorph.predict.smearing.resolution_model`), and
states the refit's own accuracy, cross-validated over whole simulations
(:func:`window_accuracy`). That R^2 is measured on background-free curves;
a curve's fitted background adds its own error (the spread of the prediction
over draws of the background and the noise, ``std_noise``), so the R^2 that
decides is the one with that error added (:func:`effective_r2`): a
functional whose effective R^2 is below :data:`MIN_R2` is refused
(:func:`refusals`), the others are answered.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from scattermorph.errors import ParameterError
from scattermorph.learn.features import SCALE_COLUMNS, density_power, from_scale_free, window_curve
from scattermorph.predict.model import _refit

__all__ = ["WINDOW_STEP", "MIN_WINDOW_RATIO", "MIN_R2", "window_key", "covered_window", "window_accuracy",
           "effective_r2", "effective_accuracy", "refusals", "background_warnings", "refusal_text"]

#: steps of the lower and upper window edge (in q/q1) the covered window is rounded to (inwards): the cache key.
#: Coarse enough that curves of one instrument set-up share a few refits (the study's held-out curves cut to
#: four windows needed 18 refits with steps of 0.05 and 0.1), fine enough to lose at most a tenth of q1 at the
#: low end, where the Euler and mean-curvature densities are read
WINDOW_STEP = (0.1, 0.25)
#: narrowest window (upper / lower edge) a model is refitted on: 1.5 cannot hold the peak and its two flanks
MIN_WINDOW_RATIO = 2.0
#: cross-validated R^2 below which a functional is refused on a window. At R^2 = 0.5 the error's RMS is 71 % of
#: the spread of the training values, so a 95 % interval (+-1.96 RMSE) spans +-1.4 of their standard deviations:
#: most of the range the training set covers; the number then says little beyond "a structure like the
#: training ones"
MIN_R2 = 0.5
#: relative tolerance on an edge before a curve counts as not covering it (the window's own interpolation)
EDGE_TOLERANCE = 1e-6
#: a curve missing less than this fraction of an edge of the model's own window uses the model as it is (the
#: sliver is held at the curve's end value, as before window refits existed): a curve measured "to 3 q1" whose
#: last point falls just short is not refitted for it
EDGE_SLACK = 0.05


def window_key(model, x_range) -> tuple[float, float] | None:
    """A window rounded to :data:`WINDOW_STEP`, or None when it is the model's own (or not given).

    Raises
    ------
    ParameterError
        A window outside the model's, or narrower than :data:`MIN_WINDOW_RATIO`.
    """
    if x_range is None:
        return None
    if model.kind not in SCALE_COLUMNS:
        raise ParameterError(f"a {model.kind} model has no q/q1 window to refit on")
    lo0, hi0 = (float(v) for v in model.features["x_range"])
    lo = round(round(float(x_range[0]) / WINDOW_STEP[0]) * WINDOW_STEP[0], 6)
    hi = round(round(float(x_range[1]) / WINDOW_STEP[1]) * WINDOW_STEP[1], 6)
    lo, hi = max(lo, lo0), min(hi, hi0)
    if not hi >= MIN_WINDOW_RATIO * lo:
        raise ParameterError(f"the window q/q1 in [{lo:g}, {hi:g}] is narrower than a factor "
                             f"{MIN_WINDOW_RATIO:g}: too narrow to hold a peak and its flanks")
    if math.isclose(lo, lo0) and math.isclose(hi, hi0):
        return None
    return (lo, hi)


def _covered(model, q, s, x_range):
    """(lo, hi) of q/q1 the curve's points cover inside ``x_range`` of its own q1 there."""
    qw, _, q1 = window_curve(q, s, model.ndim, x_range)
    return float(qw[0] / q1), float(qw[-1] / q1)


def covered_window(model, q, intensity, *, max_steps=20) -> tuple[float, float] | None:
    """The window of q/q1 a curve covers, rounded inwards to :data:`WINDOW_STEP`; None when it covers the model's.

    A curve that misses less than :data:`EDGE_SLACK` of either edge of the
    model's window counts as covering it.

    The curve's q1 depends on the window (:func:`scattermorph.learn.features.window_curve`),
    so the window is shrunk step by step (each edge the curve does not reach
    moves inwards to the next rounded value the curve reaches at the q1 of
    the last window) until the curve covers it.

    Parameters
    ----------
    model : FunctionalModel
        A scale-free model (its ``x_range`` is the widest window).
    q, intensity : array_like, shape (n,)
        The curve (NaN and I <= 0 points are skipped).

    Returns
    -------
    (lo, hi) or None

    Raises
    ------
    ParameterError
        The covered window is narrower than :data:`MIN_WINDOW_RATIO` (the
        message gives the window).
    """
    if model.kind not in SCALE_COLUMNS:
        return None
    q, s = np.asarray(q, dtype=float), np.asarray(intensity, dtype=float)
    ok = np.isfinite(s) & (s > 0)
    q, s = q[ok], s[ok]
    lo, hi = (float(v) for v in model.features["x_range"])
    a, b = _covered(model, q, s, (lo, hi))
    if a <= lo * (1 + EDGE_SLACK) and b >= hi * (1 - EDGE_SLACK):
        return None
    for _ in range(max_steps):
        a, b = _covered(model, q, s, (lo, hi))
        if a <= lo * (1 + EDGE_TOLERANCE) and b >= hi * (1 - EDGE_TOLERANCE):
            return window_key(model, (lo, hi))
        if a > lo * (1 + EDGE_TOLERANCE):
            lo = max(lo + WINDOW_STEP[0], math.ceil(a / WINDOW_STEP[0] - 1e-9) * WINDOW_STEP[0])
        if b < hi * (1 - EDGE_TOLERANCE):
            hi = min(hi - WINDOW_STEP[1], math.floor(b / WINDOW_STEP[1] + 1e-9) * WINDOW_STEP[1])
        lo, hi = round(lo, 6), round(hi, 6)
        if not hi >= MIN_WINDOW_RATIO * lo:
            raise ParameterError(f"the curve covers q/q1 in [{a:.3g}, {b:.3g}] of its own q1, narrower than "
                                 f"a factor {MIN_WINDOW_RATIO:g}: too narrow to hold a peak and its flanks")
    return window_key(model, (lo, hi))


def window_accuracy(model, values, q1, groups=None, *, n_folds=5, random_state=0) -> dict:
    """Cross-validated accuracy of a model's GPs on its own features, hyper-parameters kept.

    Whole groups (simulations) are held out in ``n_folds`` folds (random
    rows without groups); each fold refactorises every GP with the model's
    fitted kernel on the other folds and predicts the held-out rows. Keeping
    the hyper-parameters (a handful of numbers fitted on all rows) makes this
    fast enough to run with every refit, and slightly optimistic.

    Parameters
    ----------
    model : FunctionalModel
    values : ndarray, shape (n, t)
        The training densities in the training q unit (physical units).
    q1 : ndarray, shape (n,) or None
        The training curves' q1 on the model's window (scale-free kinds).
    groups : ndarray, shape (n,), optional

    Returns
    -------
    dict of str -> dict
        Per target: ``r2`` (pooled over the folds, physical units),
        ``r2_model`` (the same in the GP's own targets: for a scale-free
        model each density in units of its curve's q1, so every curve
        weighs the same), ``coverage_95`` (of the calibrated GP std), ``n``
        and ``folds``.
    """
    X, Y = model.X, model.Y
    n = X.shape[0]
    if groups is not None and np.unique(groups).size >= 2:
        splits = list(GroupKFold(min(n_folds, np.unique(groups).size)).split(X, groups=groups))
    else:
        splits = list(KFold(min(n_folds, n), shuffle=True, random_state=random_state).split(X))
    mean, std = np.empty_like(Y), np.empty_like(Y)
    for j, name in enumerate(model.targets):
        for tr, te in splits:
            pipe = _refit(model.specs[name], X[tr], Y[tr, j])
            mean[te, j], std[te, j] = pipe.predict(X[te], return_std=True)
    std = std * model.calibration_factors
    out = {}
    for j, name in enumerate(model.targets):
        mu, sd = mean[:, j], std[:, j]
        # in the GP's own targets (scale-free: each curve's density in units of its q1) every curve weighs the
        # same; in physical units the curves of largest q1^p dominate R^2
        r2_model = 1 - np.sum((Y[:, j] - mu) ** 2) / np.sum((Y[:, j] - Y[:, j].mean()) ** 2)
        if q1 is not None:
            mu = from_scale_free(mu, q1, name, model.ndim)
            sd = from_scale_free(sd, q1, name, model.ndim)
        y = values[:, j]
        r2 = 1 - np.sum((y - mu) ** 2) / np.sum((y - y.mean()) ** 2)
        cov = np.mean(np.abs(y - mu) <= 1.96 * np.maximum(sd, np.finfo(float).tiny))
        out[name] = {"r2": float(r2), "r2_model": float(r2_model), "coverage_95": float(cov), "n": int(n),
                     "folds": len(splits)}
    return out


def effective_r2(r2, std_extra, rmse):
    """The R^2 a prediction can have once an independent error (the background's, the noise's) is added.

    The cross-validated R^2 of a window refit is measured on background-free
    curves, with a residual RMS ``rmse`` (in the GP's own targets). A curve's
    fitted background and its noise add an independent error of standard
    deviation ``std_extra`` (the spread of its prediction over draws of both,
    same units), so the residual variance grows by the factor
    ``1 + std_extra^2 / rmse^2``, and so does 1 - R^2::

        R^2_eff = 1 - (1 - R^2) (1 + std_extra^2 / rmse^2)

    Parameters
    ----------
    r2 : float
        The refit's cross-validated R^2.
    std_extra : float or ndarray
        The added error's standard deviation (NaN: R^2 unchanged).
    rmse : float or ndarray
        The cross-validated residual RMS, in the unit of ``std_extra`` (0 or
        NaN: R^2 unchanged).

    Returns
    -------
    float or ndarray
    """
    std_extra, rmse = np.asarray(std_extra, dtype=float), np.asarray(rmse, dtype=float)
    ok = np.isfinite(std_extra) & np.isfinite(rmse) & (rmse > 0)
    ratio = np.where(ok, (np.where(ok, std_extra, 0.0) / np.where(ok, rmse, 1.0)) ** 2, 0.0)
    out = 1 - (1 - float(r2)) * (1 + ratio)
    return float(out) if out.ndim == 0 else out


def refusals(model, prediction=None, *, min_r2=MIN_R2) -> dict:
    """The functionals a refitted model refuses: those whose window R^2 (``r2_window``) is below ``min_r2``.

    Parameters
    ----------
    model : FunctionalModel
        With ``training["window_accuracy"]`` (:func:`window_accuracy`) for a refit.
    prediction : Prediction, optional
        The curve's prediction by ``model``: each entry then also carries
        ``r2_effective`` (:func:`effective_accuracy`).

    Returns
    -------
    dict of str -> dict
        The accuracy of each refused functional (empty for a model without
        ``training["window_accuracy"]``: the study's model, scored by the study).
    """
    return {k: v for k, v in effective_accuracy(model, prediction).items() if not v["r2_window"] >= min_r2}


def background_warnings(model, prediction, *, min_r2=MIN_R2) -> dict:
    """The answered functionals whose effective R^2 (with the curve's background and noise errors) is below
    ``min_r2``: warned about, not refused (see docs/predict.md: measured on the study's held-out curves, the
    effective R^2 of single curves did not single out the windows and backgrounds where R^2 over many curves
    falls below 0.5, and it refused synthetic curves wholesale where the background's Monte Carlo draws
    empty the window's tail)."""
    return {k: v for k, v in effective_accuracy(model, prediction).items()
            if v["r2_window"] >= min_r2 and not v["r2_effective"] >= min_r2}


def effective_accuracy(model, prediction=None) -> dict:
    """``training["window_accuracy"]`` with each functional's ``r2_window``, ``r2_effective`` and ``r2_stated``.

    ``r2_window`` is the larger of the refit's two cross-validated R^2: in
    physical units (``r2``, dominated by the curves of largest q1^p) and in
    the GP's own targets (``r2_model``: each density in units of its
    curve's q1, every curve weighing the same). A functional is predictable
    on the window if either is high: the surface density varies mostly
    through q1, which the curve gives exactly (its scale-free R^2 was below
    0.5, its physical one 0.98, on the study's curves cut to [0.3, 1.5] q1);
    the Euler density on [0.7, 3] q1 had a physical cross-validated R^2
    below 0 (a few training curves of large q1^3) while its answers on
    held-out curves scored 0.95-0.97. ``r2_effective`` adds the curve's
    background and noise errors (:func:`effective_r2`): ``std_noise / q1^p``
    (q1 the curve's, p the density's power) against the cross-validated
    residual RMS in the same units (the training targets' standard deviation
    times sqrt(1 - ``r2_model``)), so it holds in any q unit. ``r2_stated``
    is the R^2 the answer's own total standard deviation implies,
    ``1 - (std / q1^p)^2 / var`` (information). Caches without
    ``r2_model``: ``r2``.
    """
    acc = model.training.get("window_accuracy") or {}
    out = {}
    for j, name in enumerate(model.targets):
        if name not in acc:
            continue
        r2w = max(acc[name]["r2"], acc[name].get("r2_model", acc[name]["r2"]))
        r2e = r2s = r2w
        if prediction is not None:
            row = prediction.table.loc[prediction.table["functional"] == name]
            q1 = prediction.info.get("q1")
            scale = float(q1) ** density_power(name, model.ndim) if model.kind in SCALE_COLUMNS and q1 else 1.0
            spread = float(np.std(model.Y[:, j]))
            # the cross-validated residual RMS in the GP's own targets
            rmse = spread * np.sqrt(max(1 - acc[name].get("r2_model", acc[name]["r2"]), 0.0))
            if len(row):
                r2e = effective_r2(r2w, float(row["std_noise"].iloc[0]) / scale, rmse)
                r2s = 1 - (float(row["std"].iloc[0]) / scale / spread) ** 2
        out[name] = dict(acc[name], r2_window=float(r2w), r2_effective=float(r2e), r2_stated=float(r2s))
    return out


def refusal_text(name, acc, x_range, *, min_r2=MIN_R2) -> str:
    """Why ``name`` is refused on ``x_range`` (the message ``predict`` prints)."""
    lo, hi = x_range
    r2 = acc.get("r2_window", acc["r2"])
    return (f"{name} refused: on the window q/q1 in [{lo:g}, {hi:g}] the curve covers, the refitted model's "
            f"cross-validated R^2 is {r2:.3f} (95 % interval coverage {acc['coverage_95']:.2f}), below {min_r2:g}: "
            "the answer would be meaningless; measure a wider q range for it")


def background_text(name, acc, *, min_r2=MIN_R2) -> str:
    """The warning on an answered functional whose effective R^2 is below ``min_r2``."""
    return (f"{name}: the refitted model's cross-validated R^2 on this window is {acc['r2_window']:.3f} on "
            f"background-free curves, {acc['r2_effective']:.3f} with this curve's background and noise errors "
            f"added (below {min_r2:g}): quote it with its standard deviation, or give --background if you know it")
