"""The inference stage of the study: the inverse problem checked on runs drawn from the prior.

:mod:`scattermorph.infer.posterior` holds the methods (PCA-GP emulator of the
scale-free features over theta = (phi0, chi/chi_s, log10 t/tau), grid
posterior, simulation-based calibration); this module runs them on a study:
the emulators are fitted on every run of the study (the model
``scattermorph infer`` uses) and every snapshot of the calibration runs
(:func:`scattermorph.sim.sweep.calibration_table`: other simulations whose
parameters are drawn uniformly over the study's range) is a test curve with
known parameters.

* :func:`run_stage` fits, validates the emulator (:func:`validate_emulator`:
  relative error in S and interval coverage per principal component on the
  calibration runs), computes the posterior of every calibration snapshot
  (:func:`calibration_table`, through :func:`scattermorph.infer.posterior.calibrate`),
  the per-parameter table (:func:`identifiability_table`: coverage with its
  binomial bands, rank histograms, width ratios, correlations) and one example
  posterior (:func:`example_posterior`).
* :func:`write_example` / :func:`read_example` store the example as JSON plus
  the grid posterior as ``.npz`` (for the corner plot).
* :func:`scattermorph.infer.summary.inference_summary` writes the stage's
  Markdown page.

Two situations of small studies are handled here rather than refused:

* *No replicate runs among the training rows* (a caller fitting on part of a
  study with two replicates per point, one held out): the feature noise is
  then the pooled replicate scatter of *all* the study's runs (the noise level
  only; the other runs' curves play no part in the fit). The outputs say
  which (``noise_source``).
* *A parameter with one value in the study* (one quench depth): it is not
  inferred. Its prior is a point (a degenerate grid axis, on which the
  likelihood is constant), so it is reported as ``fixed`` and its columns are
  left empty (NaN).

References
----------
S. Talts, M. Betancourt, D. Simpson, A. Vehtari and A. Gelman, "Validating
Bayesian inference algorithms with simulation-based calibration",
arXiv:1804.06788 (2018).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph._markdown import _need
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.infer import posterior as inf
from scattermorph.learn.metrics import coverage_band

__all__ = [
    "NOISE_TRAINING",
    "NOISE_ALL_RUNS",
    "check_settings",
    "fit_study_calibration",
    "fixed_parameters",
    "validate_emulator",
    "calibration_table",
    "identifiability_table",
    "choose_example",
    "example_posterior",
    "run_stage",
    "write_example",
    "read_example",
]

#: ``noise_source`` of the outputs: where the feature noise was estimated
NOISE_TRAINING = "replicates of the training runs"  # with run_stage: every run of the study
NOISE_ALL_RUNS = "replicates of all runs (the training runs hold no replicates)"

#: identifying columns of a held-out snapshot in the calibration table
ID_COLUMNS = ("sim_id", "snapshot", "time_over_tau")
#: per-parameter columns of :func:`scattermorph.infer.posterior.calibrate` that a fixed parameter leaves empty
_PER_PARAM = ("mean", "quantile", "covered_central", "covered_hpd", "width_ratio", "sd_ratio", "central_lo",
              "central_hi")
_PAIRS = (("phi0", "quench"), ("phi0", "log10_t"), ("quench", "log10_t"))


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------
def check_settings(*, n_grid, level, rank_bins) -> None:
    """Refuse settings the stage cannot use (the config schema checks the same bounds).

    Raises
    ------
    ParameterError
        Naming the setting, its value and the allowed range.
    """
    if not (isinstance(n_grid, (int, np.integer)) and 4 <= n_grid <= 80):
        raise ParameterError(f"inference.n_grid = {n_grid!r}: give an integer in [4, 80] "
                             "(cells per parameter; the cost grows as n_grid^3)")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ParameterError(f"inference.level = {level!r}: give a credible level in (0, 1), e.g. 0.9")
    if not (isinstance(rank_bins, (int, np.integer)) and rank_bins >= 2):
        raise ParameterError(f"inference.rank_bins = {rank_bins!r}: give an integer >= 2")


# --------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------
def _has_replicates(groups) -> bool:
    _, counts = np.unique(np.asarray(groups), return_counts=True)
    return bool(np.any(counts >= 2))


def fit_study_calibration(table, arrays, train, *, features, seed=0, source=None):
    """The study's emulators fitted on its training rows.

    Parameters
    ----------
    table : DataFrame, n rows
        ``dataset.csv`` (``sim_id``, ``phi0``, ``quench``, ``time_over_tau``,
        ``dimension``, the Minkowski densities).
    arrays : dict
        ``dataset_sq.npz``: ``q`` shape (B,), ``s_q`` shape (n, B).
    train : array_like of bool, shape (n,)
        Training rows (whole simulations).
    features : dict
        ``n_points`` and ``x_range`` of the scale-free features (``learning.feature_grid``).
    seed : int
        Seed of the GPs' optimiser restarts.

    Returns
    -------
    calibration : scattermorph.infer.posterior.StudyCalibration
    noise_source : str
        :data:`NOISE_TRAINING` (:func:`scattermorph.infer.posterior.fit_calibration`
        as it is), or :data:`NOISE_ALL_RUNS` when the training runs hold no
        replicates (module docstring).

    Raises
    ------
    ParameterError
        No training rows, or no replicate runs anywhere in the study.
    """
    train = np.asarray(train, bool)
    if train.sum() < 2:
        raise ParameterError(f"{int(train.sum())} training snapshot(s): the emulator needs the study's "
                             "training runs (learning/split.csv)")
    features = {"n_points": int(features["n_points"]), "x_range": tuple(float(v) for v in features["x_range"])}
    sub = table[train].reset_index(drop=True)
    if _has_replicates(inf.replicate_groups(sub)):
        return inf.fit_calibration(table, arrays, features, rows=train, seed=seed, source=source), NOISE_TRAINING
    t0 = time.perf_counter()
    ndim = inf.study_ndim(table)
    X_all, q1_all = inf.study_features(arrays["q"], arrays["s_q"], ndim, **features)
    try:
        noise, _ = inf.pooled_covariance(X_all, inf.replicate_groups(table))
    except ParameterError as exc:
        raise ParameterError(f"the inference stage needs replicate runs: {exc}") from None
    X, q1 = X_all[train], q1_all[train]
    theta = inf.study_parameters(sub)
    em = inf.ScatteringEmulator(seed=seed).fit(theta, X, noise_cov=noise, runs=sub["sim_id"].to_numpy())
    targets = inf.density_columns(sub, ndim)
    fe = inf.FunctionalEmulator(targets, ndim, seed=seed).fit(theta, sub[targets].to_numpy(float), q1, em.box)
    return inf.StudyCalibration(em, fe, ndim, features, time.perf_counter() - t0, source), NOISE_ALL_RUNS


def fixed_parameters(em) -> np.ndarray:
    """Which parameters take one value in the training runs (the prior box), shape (3,) of bool."""
    return np.asarray(em.hi, float) <= np.asarray(em.lo, float)


# --------------------------------------------------------------------------
# validation and calibration
# --------------------------------------------------------------------------
def _band(n, level):
    """Central 95 % range of the coverage of ``n`` independent nominal-``level``
    intervals (:func:`scattermorph.learn.metrics.coverage_band`); NaN for no intervals."""

    if n <= 0:
        return float("nan"), float("nan")
    return coverage_band(int(n), level, level=0.95)


def validate_emulator(em, theta, X, runs, *, level=0.90, noise_source=NOISE_TRAINING, n_train_runs=None):
    """Held-out check of the scattering emulator, one row per principal component and a pooled row.

    Parameters
    ----------
    em : scattermorph.infer.posterior.ScatteringEmulator
    theta : array_like, shape (m, 3)
        Parameters of the held-out snapshots.
    X : array_like, shape (m, p)
        Their scale-free features.
    runs : array_like, shape (m,)
        Simulation of each held-out snapshot (the independent units).
    level : float
        Level of the emulator's predictive intervals.

    Returns
    -------
    DataFrame, k + 1 rows
        ``component`` (1..k, then ``pooled``), ``explained_variance`` (PCA
        fraction of the training features; pooled: their sum),
        ``variance_scale`` (leave-one-run-out kappa^2), ``coverage`` of the
        ``level`` intervals of the component scores, ``band_lo``/``band_hi``
        (95 % binomial range over the m snapshots; pooled: over m k scores) and
        ``band_runs_lo``/``band_runs_hi`` (over the held-out runs: snapshots of
        one run are correlated, so the real range lies between),
        ``median_rel_error_S`` and ``rms_log10`` (pooled row only: median of
        |10^(emulated - true) - 1| over snapshots and grid points, and the RMS
        in log10), ``n``, ``n_runs``, ``n_train_runs``, ``level``, ``noise_source``.
    """
    v = inf.validate_emulator(em, theta, X, level=level)
    m, n_runs = v["n"], int(np.unique(np.asarray(runs)).size)
    evr = np.asarray(em.pca.explained_variance_ratio_, float)
    kappa2 = np.asarray(getattr(em, "variance_scale", np.ones(evr.size)), float)
    rows = []
    for j, cov in enumerate(v["coverage_components"]):
        rows.append({"component": str(j + 1), "explained_variance": evr[j], "variance_scale": kappa2[j],
                     "coverage": cov, "band": _band(m, level), "median_rel_error_S": float("nan"),
                     "rms_log10": float("nan")})
    rows.append({"component": "pooled", "explained_variance": float(evr.sum()), "variance_scale": float("nan"),
                 "coverage": v["coverage"], "band": _band(m * len(v["coverage_components"]), level),
                 "median_rel_error_S": v["median_rel_error_S"], "rms_log10": v["rms_log10"]})
    runs_band = _band(n_runs, level)
    out = pd.DataFrame([{**{k: r[k] for k in r if k != "band"}, "band_lo": r["band"][0], "band_hi": r["band"][1],
                         "band_runs_lo": runs_band[0], "band_runs_hi": runs_band[1]} for r in rows])
    out["n"], out["n_runs"] = m, n_runs
    out["n_train_runs"] = -1 if n_train_runs is None else int(n_train_runs)
    out["level"], out["noise_source"] = level, noise_source
    return out


def calibration_table(em, theta, X, ids: pd.DataFrame, *, n_grid=40, level=0.90) -> pd.DataFrame:
    """Posterior of every held-out snapshot: :func:`scattermorph.infer.posterior.calibrate` with its ids.

    Parameters
    ----------
    em : scattermorph.infer.posterior.ScatteringEmulator
    theta : array_like, shape (m, 3)
        True parameters.
    X : array_like, shape (m, p)
        Features.
    ids : DataFrame, m rows
        ``sim_id``, ``snapshot``, ``time_over_tau`` of each snapshot (copied in front).

    Returns
    -------
    DataFrame, m rows
        The ids, then calibrate's columns (``<param>_true``, ``_mean``,
        ``_quantile``, ``_covered_central``, ``_covered_hpd``, ``_width_ratio``,
        ``_sd_ratio``; ``corr_<a>_<b>``); those of a fixed parameter
        (:func:`fixed_parameters`) are NaN but ``_true`` and ``_mean`` (its one value).
    """
    _need(ids, ID_COLUMNS, "the held-out ids")
    if len(ids) != np.atleast_2d(theta).shape[0]:
        raise ParameterError(f"{len(ids)} ids for {np.atleast_2d(theta).shape[0]} held-out rows")
    fixed = fixed_parameters(em)
    cal = inf.calibrate(em, theta, X, n_grid=n_grid, level=level)
    for j in np.flatnonzero(fixed):
        name = inf.PARAMS[j]
        cal[f"{name}_mean"] = cal[f"{name}_true"]
        for col in _PER_PARAM[1:]:
            cal[f"{name}_{col}"] = np.nan
        for a, b in _PAIRS:
            if name in (a, b):
                cal[f"corr_{a}_{b}"] = np.nan
    return pd.concat([ids[list(ID_COLUMNS)].reset_index(drop=True), cal], axis=1)


def identifiability_table(cal: pd.DataFrame, *, lo, hi, level=0.90, rank_bins=5) -> pd.DataFrame:
    """One row per parameter: coverage, rank histogram, width and correlations.

    Parameters
    ----------
    cal : DataFrame
        :func:`calibration_table`.
    lo, hi : array_like, shape (3,)
        The prior box (the training runs' range); ``hi == lo``: a fixed parameter.
    level : float
        The credible level of ``cal``.
    rank_bins : int
        Bins of the SBC rank histogram.

    Returns
    -------
    DataFrame, 3 rows
        :func:`scattermorph.infer.posterior.calibration_summary` (``coverage_hpd``,
        ``coverage_central``, ``band_lo``/``band_hi`` over the snapshots,
        ``rank_counts``, ``rank_band``, ``width_ratio``, ``sd_ratio``,
        ``rms_error``, ``n``) plus ``label``, ``inferred`` (False: fixed),
        ``prior_lo``/``prior_hi``, ``level``, ``n_runs`` and
        ``band_runs_lo``/``band_runs_hi`` (binomial range over the held-out
        runs: the widest the clustering can make it), ``n_eff``, ``icc``,
        ``band_eff_lo``/``band_eff_hi`` and ``rank_band_eff`` (the same ranges for
        Kish's effective sample size of the snapshots clustered by run,
        :func:`scattermorph.infer.posterior.effective_size`: the band to judge by), ``corr_<param>`` (median over snapshots of the posterior
        correlation with each parameter; 1 on the diagonal). A fixed
        parameter's coverage, rank, width and correlation cells are empty.
    """
    _need(cal, ["sim_id"] + [f"{p}_{c}" for p in inf.PARAMS for c in ("true",) + _PER_PARAM], "the calibration table")
    if len(cal) == 0:
        raise ParameterError("the calibration table is empty: no held-out snapshots")
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    fixed = hi <= lo
    filled = cal.copy()
    for j in np.flatnonzero(fixed):  # calibration_summary needs numbers; these rows are blanked below
        for col in _PER_PARAM[1:]:
            filled[f"{inf.PARAMS[j]}_{col}"] = 0.0
    summ = inf.calibration_summary(filled.assign(run=filled["sim_id"]), level=level, n_bins=rank_bins)
    n_runs = int(cal["sim_id"].nunique())
    runs_band = _band(n_runs, level)
    summ.insert(1, "label", [inf.PARAM_LABELS[p] for p in inf.PARAMS])
    summ.insert(2, "inferred", ~fixed)
    summ["prior_lo"], summ["prior_hi"], summ["level"], summ["n_runs"] = lo, hi, level, n_runs
    summ["band_runs_lo"], summ["band_runs_hi"] = runs_band
    for i, a in enumerate(inf.PARAMS):
        col = []
        for b in inf.PARAMS:
            if a == b:
                col.append(1.0)
                continue
            pair = f"corr_{a}_{b}" if f"corr_{a}_{b}" in cal else f"corr_{b}_{a}"
            col.append(float(cal[pair].median()) if pair in cal else float("nan"))
        summ[f"corr_{a}"] = col
    blank = ["coverage_hpd", "coverage_central", "width_ratio", "sd_ratio", "rms_error"]
    for j in np.flatnonzero(fixed):
        summ.loc[j, blank] = np.nan
        summ.loc[j, ["rank_counts", "rank_band", "rank_band_eff"]] = "n/a"
        summ.loc[j, ["n_eff", "icc", "band_eff_lo", "band_eff_hi"]] = np.nan
        for a in inf.PARAMS:
            summ.loc[j, f"corr_{a}"] = np.nan
            summ.loc[inf.PARAMS.index(a), f"corr_{inf.PARAMS[j]}"] = np.nan
    return summ


# --------------------------------------------------------------------------
# the example
# --------------------------------------------------------------------------
def choose_example(theta, sim_ids, snapshots, lo, hi) -> int:
    """The held-out snapshot nearest the centre of the normalised prior box.

    Each parameter is mapped onto [0, 1] over the box (a fixed parameter sits
    at the centre); the nearest row wins, ties (e.g. two quench depths at equal
    distance) go to the first in (sim_id, snapshot) order, so the choice does
    not depend on the row order.

    Parameters
    ----------
    theta : array_like, shape (m, 3)
    sim_ids, snapshots : array_like, shape (m,)
    lo, hi : array_like, shape (3,)

    Returns
    -------
    int
        Position of the chosen row in ``theta``.
    """
    theta = np.atleast_2d(np.asarray(theta, float))
    if theta.shape[0] == 0:
        raise ParameterError("no held-out snapshots to choose the example from")
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    span = np.where(hi > lo, hi - lo, 1.0)
    u = np.where(hi > lo, (theta - lo) / span, 0.5)
    dist = np.round(np.linalg.norm(u - 0.5, axis=1), 9)  # ties within rounding are ties
    sims, snaps = list(map(str, sim_ids)), [int(s) for s in snapshots]
    return min(range(theta.shape[0]), key=lambda i: (dist[i], sims[i], snaps[i]))


def example_posterior(calibration, q, s_q, truth: dict, functionals_true: dict, ids: dict, *,
                      n_grid=40, level=0.90):
    """One held-out curve's inference, with the truth beside every number.

    Parameters
    ----------
    calibration : scattermorph.infer.posterior.StudyCalibration
    q : array_like, shape (B,)
        The study's q grid (1/b).
    s_q : array_like, shape (B,)
        The snapshot's S(q).
    truth : dict
        ``phi0``, ``quench``, ``log10_t`` of the snapshot.
    functionals_true : dict
        Its measured Minkowski densities (b^-p), by name.
    ids : dict
        ``sim_id``, ``snapshot``, ``time_over_tau``.

    Returns
    -------
    doc : dict (JSON-able)
        ``ids``, ``level``, ``n_grid``, ``fixed`` (names), ``posterior``
        (:func:`scattermorph.infer.posterior.summarise_posterior`, each parameter with
        ``truth``, ``covered_central`` and ``covered_hpd``: truth inside the
        central interval / the hull of the highest-density cells), ``functionals``
        (mean, std in b^-p, ``true``, ``z`` = (true - mean) / std), ``features``
        (x, the curve's, posterior-predictive mean and 5-95 % band), ``q1``,
        ``length_2pi_over_q1``.
    grid : dict
        ``axes`` (3 arrays of n_grid), ``weights`` (n_grid, n_grid, n_grid), ``lo``, ``hi``.
    """
    res = calibration.infer(q, s_q, n_grid=n_grid, level=level, checks=False)
    post = res.pop("grid")
    fixed = fixed_parameters(calibration.emulator)
    params = res["posterior"]["params"]
    for name in inf.PARAMS:
        t = float(truth[name])
        p = params[name]
        p["truth"] = t
        p["covered_central"] = bool(p["central"][0] <= t <= p["central"][1])
        p["covered_hpd"] = bool(p["hpd"][0] <= t <= p["hpd"][1])
    funcs = {}
    for name, f in res["functionals"].items():
        true = float(functionals_true[name])
        z = (true - f["mean"]) / f["std"] if f["std"] > 0 else float("nan")
        funcs[name] = {**f, "true": true, "z": z}
    doc = {"ids": {"sim_id": str(ids["sim_id"]), "snapshot": int(ids["snapshot"]),
                   "time_over_tau": float(ids["time_over_tau"])},
           "level": float(level), "n_grid": int(n_grid),
           "fixed": [n for n, f in zip(inf.PARAMS, fixed) if f],
           "posterior": res["posterior"], "functionals": funcs, "features": res["features"],
           "q1": res["q1"], "length_2pi_over_q1": res["length_2pi_over_q1"]}
    grid = {"axes": [np.asarray(a, float) for a in post["axes"]], "weights": np.asarray(post["weights"], float),
            "lo": np.asarray(post["lo"], float), "hi": np.asarray(post["hi"], float)}
    return _plain(doc), grid


def _plain(value):
    """JSON-able copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_example(doc: dict, grid: dict, json_path, npz_path) -> None:
    """Write the example (JSON, NaN as null) and its grid posterior (``.npz``:
    ``axis_<param>``, ``weights``, ``lo``, ``hi``), each atomically."""

    text = json.dumps(_plain(doc), indent=1, sort_keys=True, allow_nan=False)
    atomic_write(json_path, lambda tmp: Path(tmp).write_text(text + "\n"))
    arrays = {f"axis_{p}": a for p, a in zip(inf.PARAMS, grid["axes"])}
    arrays.update(weights=grid["weights"], lo=grid["lo"], hi=grid["hi"])

    def save(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(npz_path, save)


def read_example(json_path, npz_path):
    """(doc, grid) as :func:`example_posterior` returned them, from the files of :func:`write_example`.

    Raises
    ------
    InputFileError
        A file that is missing, not JSON, or lacks a key or array.
    """
    try:
        doc = json.loads(Path(json_path).read_text())
    except FileNotFoundError:
        raise InputFileError(f"{json_path}: no such file; run the rule calibrate_inference") from None
    except ValueError as exc:
        raise InputFileError(f"{json_path}: not JSON ({exc}); rerun the rule calibrate_inference") from None
    missing = [k for k in ("ids", "posterior", "functionals", "features", "level") if k not in doc]
    if missing:
        raise InputFileError(f"{json_path} lacks {', '.join(missing)}: rerun the rule calibrate_inference")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            grid = {"axes": [z[f"axis_{p}"] for p in inf.PARAMS], "weights": z["weights"], "lo": z["lo"],
                    "hi": z["hi"]}
    except FileNotFoundError:
        raise InputFileError(f"{npz_path}: no such file; run the rule calibrate_inference") from None
    except KeyError as exc:
        raise InputFileError(f"{npz_path} lacks the array {exc}: rerun the rule calibrate_inference") from None
    return doc, grid


# --------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------
def run_stage(table, arrays, held, held_arrays, *, features, n_grid=40, level=0.90, rank_bins=5, seed=0,
              log=None):
    """Everything the rule ``calibrate_inference`` writes.

    The emulators are fitted on every snapshot of the study (the model
    ``scattermorph infer`` uses) and checked on the calibration runs, drawn
    from the prior (:func:`scattermorph.sim.sweep.calibration_table`): other
    simulations, other seeds, parameters between the sweep's points.

    Parameters
    ----------
    table, arrays
        The study dataset (:func:`scattermorph.measure.snapshots.load_dataset`): n rows,
        ``s_q`` shape (n, B).
    held, held_arrays
        The calibration runs' dataset (``inference/calibration_set.csv`` and
        ``_sq.npz``): m rows, ``s_q`` shape (m, B) on the same q grid.
    features : dict
        ``learning.feature_grid`` (``n_points``, ``x_range``).
    n_grid, level, rank_bins
        ``inference`` config section.
    seed : int
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    dict
        ``validation`` (:func:`validate_emulator`), ``calibration``
        (:func:`calibration_table`), ``identifiability``
        (:func:`identifiability_table`), ``example`` and ``grid``
        (:func:`example_posterior`), ``outside`` (calibration snapshots
        outside the prior box, left out: their ids).
    """
    check_settings(n_grid=n_grid, level=level, rank_bins=rank_bins)
    say = log or (lambda _: None)
    cols = ["sim_id", "snapshot", "phi0", "quench", "time_over_tau"]
    _need(table, cols, "dataset.csv")
    _need(held, cols, "inference/calibration_set.csv")
    if len(held) == 0:
        raise ParameterError("the calibration set is empty: set inference.calibration_runs >= 2")
    if not np.allclose(np.asarray(held_arrays["q"], float), np.asarray(arrays["q"], float), rtol=1e-12):
        raise ParameterError("the calibration set's q grid differs from the study's: rerun both with one "
                             "measurement section")
    t0 = time.perf_counter()
    everything = np.ones(len(table), bool)
    cal_model, noise_source = fit_study_calibration(table, arrays, everything, features=features, seed=seed,
                                                    source="study")
    em = cal_model.emulator
    say(f"fitted the emulators on {len(table)} snapshots ({table['sim_id'].nunique()} runs) "
        f"in {time.perf_counter() - t0:.1f} s: {em.k} components; noise from {noise_source}")
    theta_all = inf.study_parameters(held)
    fixed = fixed_parameters(em)
    tol = 1e-9 * np.maximum(np.abs(em.hi), 1.0)
    inside = np.all(((theta_all >= em.lo - tol) & (theta_all <= em.hi + tol)) | fixed, axis=1)
    outside = held.loc[~inside, list(ID_COLUMNS)].reset_index(drop=True)
    if not inside.any():
        raise ParameterError("no calibration snapshot lies inside the study's parameter box")
    if (~inside).any():
        say(f"left out {int((~inside).sum())} calibration snapshot(s) outside the prior box (the study's range)")
    held = held[inside].reset_index(drop=True)
    theta = theta_all[inside]
    X, _ = inf.study_features(held_arrays["q"], np.asarray(held_arrays["s_q"])[inside], cal_model.ndim,
                              **cal_model.features)
    validation = validate_emulator(em, theta, X, held["sim_id"].to_numpy(), level=level, noise_source=noise_source,
                                   n_train_runs=table["sim_id"].nunique())
    t0 = time.perf_counter()
    cal = calibration_table(em, theta, X, held, n_grid=n_grid, level=level)
    say(f"posteriors of {len(held)} calibration snapshots on a {n_grid}^3 grid in {time.perf_counter() - t0:.1f} s")
    ident = identifiability_table(cal, lo=em.lo, hi=em.hi, level=level, rank_bins=rank_bins)
    i = choose_example(theta, held["sim_id"], held["snapshot"], em.lo, em.hi)
    row = held.iloc[i]
    funcs = {name: row[name] for name in cal_model.functionals.targets}
    doc, grid = example_posterior(cal_model, held_arrays["q"], np.asarray(held_arrays["s_q"])[np.flatnonzero(inside)[i]],
                                  dict(zip(inf.PARAMS, theta[i])), funcs,
                                  {k: row[k] for k in ID_COLUMNS}, n_grid=n_grid, level=level)
    return {"validation": validation, "calibration": cal, "identifiability": ident, "example": doc, "grid": grid,
            "outside": outside}
