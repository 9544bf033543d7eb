"""Models for measured curves with a resolution (dQ): the training curves smeared with the pinhole kernel and the model refitted on them, cached per resolution."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.features import SCALE_COLUMNS, window_curve
from scattermorph.predict.fit import fit_models
from scattermorph.predict.model import FunctionalModel
from scattermorph.predict.modelfile import load_model, save_model
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
