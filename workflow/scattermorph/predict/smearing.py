"""Models for measured curves with a resolution (dQ): the training curves smeared with the pinhole kernel and the model refitted on them, cached per resolution."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.features import SCALE_COLUMNS, window_curve
from scattermorph.predict.fit import fit_models
from scattermorph.predict.model import FunctionalModel
from scattermorph.predict.modelfile import load_model, save_model
from scattermorph.predict.window import window_accuracy, window_key
from scattermorph.sas.resolution import smear_pinhole

#: resolutions dQ/q are rounded to this step before a model is refitted (and cached)
RESOLUTION_STEP = 0.005


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


def smeared_model(model: FunctionalModel, resolution, *, x_range=None, hyperparameters="fit",
                  log=None) -> FunctionalModel:
    """The model refitted on its training curves smeared with a relative resolution, on a window.

    Every training curve is smeared with a pinhole Gaussian of standard
    deviation ``dQ = resolution * q`` (:func:`scattermorph.sas.resolution.smear_pinhole`,
    sasmodels' scheme; none for 0), its features rebuilt on the q/q1 window
    ``x_range`` (default the model's own), and one GP per density fitted
    again with the model's own options (kernel, ARD, seed, feature grid
    size): the training domain and its thresholds are recomputed. The
    sigma-scaling factors of the original model (cross-validated on ideal
    curves) are carried over, not re-estimated.

    Parameters
    ----------
    model : FunctionalModel
        With its training curves.
    resolution : float
        Relative resolution dQ/q (0: none).
    x_range : (float, float), optional
        Window of q/q1 of the refitted features (scale-free kinds).
    hyperparameters : {"fit", "start", "fixed"}
        ``"fit"``: optimised afresh with the model's restarts (the fit
        :func:`scattermorph.predict.fit.fit_models` would make); ``"start"``:
        optimised from the model's own hyper-parameters without restarts;
        ``"fixed"``: the model's hyper-parameters kept, the covariance only
        refactorised on the new features.

    Raises
    ------
    ParameterError
        The model has no training curves (a file written before they were
        stored, or with ``curves=False``), or a bad option.
    """

    if model.curves is None:
        raise ParameterError("this model file holds no training curves, so it cannot be refitted for the "
                             "curve's resolution or q window: retrain it with this scattermorph (`scattermorph "
                             "train` or the study), or pass --resolution 0 and a curve covering the model's "
                             "whole window to use it as it is")
    if hyperparameters not in ("fit", "start", "fixed"):
        raise ParameterError(f"hyperparameters must be 'fit', 'start' or 'fixed', got {hyperparameters!r}")
    r = float(resolution)
    c, f, t = model.curves, model.features, model.training
    s_sm = c["s_q"] if r == 0 else smear_pinhole(c["q"], c["s_q"], r * np.asarray(c["q"], dtype=float))
    table = {name: c["values"][:, j] for j, name in enumerate(model.targets)}
    opts = dict(kernel=t.get("kernel", "squared_exponential"), ard=bool(t.get("ard", False)),
                restarts=int(t.get("restarts", 1)), random_state=int(t.get("random_state", 0)),
                feature_kind=f["kind"], q_unit=f["q_unit"], noise=bool(t.get("noise", True)),
                scaling=t.get("scaling", "global"), scale_length=t.get("scale_length") or "own",
                groups=c.get("groups"))
    if hyperparameters != "fit":
        opts.update(start=model.specs, optimise=hyperparameters == "start")
    if f["kind"] in SCALE_COLUMNS:
        opts.update(n_points=int(f["n_points"]), x_range=tuple(f["x_range"] if x_range is None else x_range))
    # one BLAS thread: the covariances (a few hundred rows) gain nothing from more, and on a busy machine
    # OpenBLAS's waiting threads made each Cholesky factorisation 16 times slower (benchmarks/bench_predict.py)
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
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
        "parent_sha256": model.checksum, "hyperparameters": hyperparameters,
        "x_range": None if x_range is None else [float(v) for v in x_range]}
    _, q1, _, _ = new.featurise(c["q"], s_sm) if f["kind"] in SCALE_COLUMNS else (None, None, None, None)
    with threadpool_limits(1, user_api="blas"):
        new.training["window_accuracy"] = window_accuracy(new, c["values"], q1, c.get("groups"),
                                                          random_state=int(t.get("random_state", 0)))
    new.curves = None
    return new


def default_cache_dir() -> Path:
    """Folder of the resolution-refitted models: ``$SCATTERMORPH_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/scattermorph/models``, else ``~/.cache/scattermorph/models``."""
    if os.environ.get("SCATTERMORPH_CACHE_DIR"):
        return Path(os.environ["SCATTERMORPH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "scattermorph" / "models"


#: how the refits of predict treat the hyper-parameters (see :func:`smeared_model`), by whether the training
#: curves are smeared. Measured on the shipped model (cross-validated over simulations, one busy 2-core
#: machine): for dQ/q = 0.05, re-optimising from the parent's without restarts ("start") gives the same R^2 and
#: 95 % coverage as a fresh fit with restarts to 4 digits in 11 s against 20 s; keeping them ("fixed") 4.8 s,
#: R^2 lower by 0.001-0.002. On the window [0.5, 2] q1 alone: "start" again equals "fit" (20 s vs 38 s);
#: "fixed" 8 s, R^2 within 0.002 but the surface density's 95 % coverage 0.86 instead of 0.93. Windows are
#: refitted with "fixed" (a curve's window is new more often than its resolution, and the study's window
#: table refits a dozen of them); the coverage cost shows in that table
REFIT_HYPERPARAMETERS = {"smeared": "start", "window": "fixed"}


def _refit_mode(r) -> str:
    return REFIT_HYPERPARAMETERS["smeared" if r > 0 else "window"]


def _cache_path(model, r, x_range, cache_dir) -> Path:
    """``<sha16>_dq<r>.npz`` on the model's own window, ``<sha16>_dq<r>_x<lo>-<hi>.npz`` on another."""
    name = f"{model.checksum[:16]}_dq{r:.3f}"
    if x_range is not None:
        name += f"_x{x_range[0]:.2f}-{x_range[1]:.2f}"
    return Path(cache_dir or default_cache_dir()) / f"{name}.npz"


def _cached(path, model, r, x_range) -> tuple:
    """The cached refit at ``path`` if it is the one asked for: (model or None, note or None)."""
    if not path.is_file():
        return None, None
    try:
        cached = load_model(path)
    except InputFileError as exc:
        return None, f"cached model unusable ({exc}): refitted"
    res = cached.training.get("resolution") or {}
    want = None if x_range is None else [float(v) for v in x_range]
    if (res.get("parent_sha256") == model.checksum and res.get("relative") == r and res.get("x_range") == want
            and res.get("hyperparameters") == _refit_mode(r)
            and all("r2_model" in v for v in (cached.training.get("window_accuracy") or {"": {}}).values())):
        return cached, None
    return None, f"{path}: cached model of another parent, resolution or window, or of an older scattermorph: refitted"


def resolution_model(model: FunctionalModel, resolution, *, x_range=None, cache_dir=None, log=None):
    """The model a curve of relative resolution dQ/q = ``resolution`` on a q/q1 window needs, cached.

    The resolution is rounded to :data:`RESOLUTION_STEP` (0.5 %) and the
    window to :func:`scattermorph.predict.window.window_key`; 0 on the
    model's own window gives the model itself. Otherwise :func:`smeared_model`
    (hyper-parameters :data:`REFIT_HYPERPARAMETERS`) is fitted once and saved
    in ``cache_dir`` (default :func:`default_cache_dir`) as
    ``<first 16 hex of the model's sha256>_dq<rounded dQ/q>[_x<lo>-<hi>].npz``,
    a normal model file (no training curves) whose ``training["resolution"]``
    names the parent's sha256, the resolution and the window, and whose
    ``training["window_accuracy"]`` holds the refit's cross-validated
    accuracy: a cached file is used only if it loads, its checksum holds and
    its parent, resolution and window match; a damaged or foreign one is
    refitted and replaced. A cache folder that cannot be written is skipped
    (the refit is then done on every call).

    Returns
    -------
    model : FunctionalModel
    info : dict
        ``relative`` (rounded), ``requested``, ``x_range`` (None: the model's
        own), ``refit`` (fitted now), ``cache`` (the file, or None), ``note``
        (a message, or None).
    """
    r = round_resolution(resolution)
    x_range = window_key(model, x_range)
    info = {"relative": r, "requested": float(resolution), "x_range": x_range, "refit": False, "cache": None,
            "note": None}
    if r == 0 and x_range is None:
        return model, info
    path = None
    if model.checksum is not None:
        path = _cache_path(model, r, x_range, cache_dir)
        cached, info["note"] = _cached(path, model, r, x_range)
        if cached is not None:
            info["cache"] = str(path)
            return cached, info
    new = smeared_model(model, r, x_range=x_range, hyperparameters=_refit_mode(r), log=log)
    info["refit"] = True
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_model(path, new, {"derived_from": {"sha256": model.checksum, "provenance": model.provenance},
                                   "resolution": r, "x_range": x_range}, curves=False)
            info["cache"] = str(path)
        except OSError as exc:
            info["note"] = f"could not cache the refitted model in {path.parent} ({exc})"
    return new, info
