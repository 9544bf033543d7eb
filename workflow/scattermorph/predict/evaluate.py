"""How well ``predict`` answers on held-out simulations cut to a q window, with a flat background and noise.

The study's measurement of the window refits and the fitted background
(:mod:`scattermorph.predict.window`, :mod:`scattermorph.predict.background`):
a model is fitted on the training simulations as the shipped model is, and
every held-out curve is cut to a window of its own q1, given a flat
background and noise, and predicted as ``scattermorph predict`` would (the
window it covers, the refit on that window, the background fitted, not given).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn.features import window_curve
from scattermorph.learn.metrics import regression_metrics
from scattermorph.predict.background import fit_background, subtract_background
from scattermorph.predict.fit import fit_models
from scattermorph.predict.smearing import resolution_model
from scattermorph.predict.window import MIN_R2, covered_window, effective_accuracy

__all__ = ["evaluate_windows", "windows_table"]


def _test_rows(table, test, per_simulation, rng):
    """``per_simulation`` snapshots of every held-out simulation (evenly spread in time), as row indices."""
    rows = []
    for _, g in table[test].groupby("sim_id", sort=True):
        idx = g.sort_values("time").index.to_numpy()
        take = np.unique(np.linspace(0, idx.size - 1, min(per_simulation, idx.size)).round().astype(int))
        rows += list(idx[take])
    return np.array(rows, dtype=int)


def _measured(q, s, ndim, x_range, window, level, noise, rng):
    """One held-out curve as measured: cut to ``window`` of its q1 on ``x_range``, a background of ``level``
    times I at its largest q inside ``x_range`` added, Gaussian noise of relative size ``noise``. Returns q, I,
    dI, B, that I; None when the curve does not reach the window's upper edge (a tail window beyond the
    simulation's q range)."""
    ok = np.isfinite(s) & (s > 0)
    q, s = q[ok], s[ok]
    _, _, q1 = window_curve(q, s, ndim, x_range)
    if window[1] > x_range[1] and q[-1] < window[1] * q1 * (1 - 1e-9):
        return None
    cut = (q >= window[0] * q1 * (1 - 1e-9)) & (q <= window[1] * q1 * (1 + 1e-9))
    q, s = q[cut], s[cut]
    # a tail window reaches far beyond the model's: its background is scaled to I at the model's upper edge
    top = float(s[q <= min(window[1], x_range[1]) * q1 * (1 + 1e-9)][-1])
    b = float(level) * top
    i = s + b
    di = noise * i
    return q, i + di * rng.standard_normal(i.size), di, b, top


def _predict_one(models, base, q, i, di, *, n_draws, seed):
    """What ``predict`` gives for one curve (:func:`scattermorph.predict.apply.curve_model`): means, stds,
    the window accuracy with each functional's effective R^2 (:func:`scattermorph.predict.window.effective_accuracy`;
    empty for the base model), background dict, window; NaN when the curve covers too narrow a window."""
    try:
        first = fit_background(base, q, i, di)
        x_range = covered_window(base, q, subtract_background(i, first["value"]))
        if x_range not in models:
            models[x_range] = resolution_model(base, 0.0, x_range=x_range)[0]
        model = models[x_range]
        bg = first if model is base else fit_background(model, q, i, di)
        pred = model.predict(q, i, di, q_unit=base.features["q_unit"], n_draws=n_draws, random_state=seed,
                             background=bg)
    except (ParameterError, InputFileError):  # predict refuses the curve: too narrow a window
        nan = np.full(len(base.targets), np.nan)
        return (nan, nan, nan, None, {"value": np.nan, "sigma": np.nan, "determined": False, "method": "none"},
                (np.nan, np.nan))
    t = pred.table
    return (t["mean"].to_numpy(), t["std"].to_numpy(), t["std_noise"].to_numpy(), effective_accuracy(model, pred),
            bg, x_range)


def evaluate_windows(q, s_q, table, train, test, ndim, *, windows, backgrounds, noise=0.02, kernel="matern52",
                     ard=False, restarts=0, seed=0, n_points=32, x_range=(0.3, 3.0), per_simulation=2,
                     n_draws=20, tail=None) -> pd.DataFrame:
    """Predictions for held-out curves cut to windows, with backgrounds and noise, against the truth.

    A scale-free model (``kernel``, ``ard``, ``restarts``, feature grid
    ``n_points`` over ``x_range``) is fitted on the ``train`` rows, grouped by
    simulation (the settings of the model the study ships). For
    ``per_simulation`` snapshots of every ``test`` simulation, each window
    [a, b] (units of the clean curve's own q1 on ``x_range``) and each
    background level (a fraction of I at the cut curve's largest q): the curve
    is cut, the background added, Gaussian noise of relative standard
    deviation ``noise`` drawn (dI given to ``predict``), and the curve
    predicted as :func:`scattermorph.predict.apply.apply_model` does it:
    refitted on the window it covers, background fitted, functionals refused
    whose window R^2 is below :data:`scattermorph.predict.window.MIN_R2`.
    The full window without background is also predicted with the background
    given as 0 (``background_fitted`` False): the behaviour before the window
    refits and the background fit existed. With ``tail``, the curves that
    reach ``tail`` q1 are also cut to [``x_range[0]``, ``tail``] with every
    background level (a fraction of I at ``x_range[1]`` q1, the model's upper
    edge): the rows where the background comes from the curve's tail
    (:func:`scattermorph.predict.background.tail_background`).

    Parameters
    ----------
    q : ndarray, shape (B,)
    s_q : ndarray, shape (rows, B)
        Ideal curves (NaN = empty bin).
    table : pandas.DataFrame
        The dataset (``sim_id``, ``time`` and the densities).
    train, test : ndarray of bool, shape (rows,)
    ndim : {2, 3}
    windows : sequence of (float, float)
    backgrounds : sequence of float
        Background levels (e.g. 0, 0.1, 0.5, 1).
    noise : float
        Relative noise dI / I.
    seed : int
        Seeds the noise (``numpy.random.default_rng``) and the fit.
    per_simulation, n_draws : int
        Snapshots per held-out simulation; Monte Carlo draws per prediction.
    tail : float, optional
        Upper edge (units of q1) of the tail window; None: no tail rows.

    Returns
    -------
    pandas.DataFrame
        One row per (curve, window, background level, fitted or given,
        functional): ``row``, ``sim_id``, ``window_lo``, ``window_hi``,
        ``background_level``, ``background_fitted``, ``functional``,
        ``true``, ``mean``, ``std`` (NaN where the curve is refused whole),
        ``std_noise``, ``refused`` (on the window R^2), ``warned`` (answered
        with a warning: effective R^2 below the threshold), ``refused_cv`` (on
        the physical cross-validated R^2 alone), ``r2_cv``, ``r2_window``,
        ``r2_effective`` (:func:`scattermorph.predict.window.effective_accuracy`;
        NaN for the base model), ``refit_lo``, ``refit_hi``, ``background``,
        ``i_top`` (the ideal I the background level scales), ``background_est``,
        ``background_sigma``, ``background_determined`` (units of S) and
        ``background_method`` (``tail``, ``shape``, ``bounded``, ``given``, ``none``).
    """
    targets = list(FUNCTIONALS[ndim])
    rng = np.random.default_rng(seed)
    cuts = [tuple(w) for w in windows] + ([] if tail is None else [(float(x_range[0]), float(tail))])
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore")
        base = fit_models(q, s_q[train], table.loc[train, targets].reset_index(drop=True), ndim, targets,
                          kernel=kernel, ard=ard, restarts=restarts, random_state=seed, n_points=n_points,
                          x_range=tuple(x_range), groups=table.loc[train, "sim_id"].to_numpy())
        _, q1, _, _ = base.featurise(q, s_q[train])  # the training q1 range, stated once (not per prediction)
        base.training["study_domain"] = {"q1": [float(q1.min()), float(q1.max())]}
        models, out = {None: base}, []
        for r in _test_rows(table, test, per_simulation, rng):
            for window in cuts:
                for level in backgrounds:
                    curve = _measured(q, s_q[r], ndim, tuple(x_range), window, level, noise, rng)
                    if curve is None:  # a tail window the simulation's q range does not reach
                        continue
                    cases = [True] + ([False] if level == 0 and tuple(window) == tuple(x_range) else [])
                    for fitted in cases:
                        out += _case_rows(models, base, table, r, targets, curve, window, level, fitted, n_draws,
                                          seed)
    return pd.DataFrame(out)


def _method(bg) -> str:
    """The background's source in one word (see :func:`evaluate_windows`)."""
    m = str(bg.get("method", "given"))
    return next((k for k, w in (("tail", "tail fit"), ("shape", "Mahalanobis"), ("bounded", "bounded"),
                                ("given", "given"), ("none", "none")) if w in m), "given")


def _case_rows(models, base, table, r, targets, curve, window, level, fitted, n_draws, seed):
    """The rows of one predicted curve (see :func:`evaluate_windows`); ``curve`` from :func:`_measured`."""
    q, i, di, b, top = curve
    if fitted:
        mean, std, std_noise, acc, bg, xr = _predict_one(models, base, q, i, di, n_draws=n_draws, seed=seed)
    else:
        pred = base.predict(q, i, di, q_unit=base.features["q_unit"], n_draws=n_draws, random_state=seed,
                            background={"value": 0.0, "sigma": 0.0})
        t = pred.table
        mean, std, std_noise, acc, xr = (t["mean"].to_numpy(), t["std"].to_numpy(), t["std_noise"].to_numpy(), {},
                                         None)
        bg = {"value": 0.0, "sigma": 0.0, "determined": True, "method": "given"}
    xr = xr or tuple(base.features["x_range"])
    rows = []
    for j, name in enumerate(targets):
        a = (acc or {}).get(name, {})
        whole = acc is None  # the curve refused whole: too narrow a window
        rows.append({"row": int(r), "sim_id": table.loc[r, "sim_id"], "window_lo": float(window[0]),
                     "window_hi": float(window[1]), "background_level": float(level), "background_fitted": fitted,
                     "functional": name, "true": float(table.loc[r, name]), "mean": float(mean[j]),
                     "std": float(std[j]), "std_noise": float(std_noise[j]),
                     "refused": whole or not a.get("r2_window", 1.0) >= MIN_R2,
                     "warned": not whole and a.get("r2_window", 1.0) >= MIN_R2
                     and not a.get("r2_effective", 1.0) >= MIN_R2,
                     "refused_cv": whole or not a.get("r2", 1.0) >= MIN_R2,
                     "r2_cv": a.get("r2", np.nan), "r2_window": a.get("r2_window", np.nan),
                     "r2_effective": a.get("r2_effective", np.nan), "r2_stated": a.get("r2_stated", np.nan),
                     "refit_lo": float(xr[0]), "refit_hi": float(xr[1]), "background": b, "i_top": top,
                     "background_est": float(bg["value"]), "background_sigma": float(bg["sigma"]),
                     "background_determined": bool(bg["determined"]), "background_method": _method(bg)})
    return rows


def windows_table(rows: pd.DataFrame) -> pd.DataFrame:
    """R^2 and 95 % coverage per (window, background level, fitted or given, functional).

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`evaluate_windows`.

    Returns
    -------
    pandas.DataFrame
        ``window`` ("[a, b]"), ``background_level``, ``background_fitted``,
        ``functional``, ``n``, ``refused`` (fraction refused on the window
        R^2, what ``predict`` does), ``warned`` (fraction answered with the
        background warning), ``refused_cv`` (fraction the physical
        cross-validated R^2 alone would refuse, the rule before), ``r2``, ``coverage_95`` (over
        the answered curves), ``r2_all`` (over every curve the model could
        answer, refusals ignored) and, for the background, ``b_error`` (RMS of
        (fitted - true) / I at the edge the level scales), ``b_z_rms`` (RMS of
        (fitted - true) / sigma), ``b_determined`` (fraction determined) and
        ``b_tail`` (fraction fitted from the curve's tail).
    """
    if rows.empty:
        raise ParameterError("no predictions to summarise")
    out = []
    keys = ["window_lo", "window_hi", "background_level", "background_fitted", "functional"]
    for (lo, hi, level, fitted, name), g in rows.groupby(keys, sort=False):
        ok, able = g[~g["refused"]], g[np.isfinite(g["mean"])]
        m = _metrics(ok)
        err = (g["background_est"] - g["background"]) / g["i_top"]
        z = (g["background_est"] - g["background"]) / g["background_sigma"].replace(0, np.nan)
        out.append({"window": f"[{lo:g}, {hi:g}]", "background_level": level, "background_fitted": bool(fitted),
                    "functional": name, "n": len(g), "refused": float(g["refused"].mean()),
                    "refused_cv": float(g["refused_cv"].mean()), "warned": float(g["warned"].mean()),
                    "r2": m.get("r2", np.nan), "coverage_95": m.get("coverage_95", np.nan),
                    "r2_all": _metrics(able).get("r2", np.nan),
                    "b_error": float(np.sqrt(np.mean(err ** 2))) if fitted else np.nan,
                    "b_z_rms": float(np.sqrt(np.nanmean(z ** 2))) if fitted else np.nan,
                    "b_determined": float(g["background_determined"].mean()),
                    "b_tail": float((g["background_method"] == "tail").mean())})
    return pd.DataFrame(out)


def _metrics(g) -> dict:
    """R^2 and coverage of the rows ``g`` (empty for fewer than 3: too few to score)."""
    if len(g) <= 2:
        return {}
    return regression_metrics(g["true"].to_numpy(), g["mean"].to_numpy(),
                              np.maximum(g["std"].to_numpy(), np.finfo(float).tiny))
