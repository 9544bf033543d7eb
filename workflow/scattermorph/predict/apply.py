"""Applying a trained model to a user's curve files (``scattermorph predict``).

What the command does between parsing its arguments and printing: the files a
CURVE argument names (:func:`curve_files`) and the curves they hold
(:func:`read_curve_files`), the model to use (:func:`base_model`, refitted per
curve for its q resolution by :func:`model_for`), one :class:`CurveResult` per
curve (:func:`apply_model`), and the texts and tables made of them
(:func:`results_table`, :func:`about_text`).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.features import SCALE_COLUMNS, window_curve
from scattermorph.predict.background import fit_background, subtract_background
from scattermorph.predict.model import FunctionalModel, Prediction, domain_text, training_domain
from scattermorph.predict.modelfile import load_model, load_shipped_model
from scattermorph.predict.smearing import curve_resolution, resolution_model, round_resolution
from scattermorph.predict.window import (
    MIN_R2,
    background_text,
    background_warnings,
    covered_window,
    effective_accuracy,
    refusal_text,
    refusals,
)
from scattermorph.provenance.records import sha256_file
from scattermorph.sas.applicability import Applicability, assess_curve
from scattermorph.sas.curves import Curve, positive_for_logs, read_curve, read_curves

__all__ = ["CurveResult", "curve_files", "read_curve_files", "base_model", "model_for", "curve_model",
           "resolution_info", "check_applicability", "apply_model", "results_table", "about_text"]

#: characters that make a CURVE argument a glob pattern
GLOB_CHARS = frozenset("*?[")


# --------------------------------------------------------------------------
# the curves
# --------------------------------------------------------------------------
def curve_files(spec) -> list[Path]:
    """The files a CURVE argument names: a file, a folder (its visible files) or a glob.

    Parameters
    ----------
    spec : str or path
        A file, a folder, or a glob pattern (``**`` recurses).

    Returns
    -------
    list of Path
        The file itself, or the folder's or pattern's files in sorted order.

    Raises
    ------
    InputFileError
        No such file, an empty folder, or a pattern that matches no file.
    """
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputFileError(f"{path}: the folder holds no files; give a curve file, a folder of curves or a glob")
        return files
    if GLOB_CHARS & set(str(spec)):
        files = sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())
        if not files:
            raise InputFileError(f"{spec}: the pattern matches no file; check it (quote it so the shell leaves it)")
        return files
    raise InputFileError(f"{path}: no such file")


def read_curve_files(spec, *, q_unit=None, columns=None, entry=None) -> list[tuple[Path, Curve]]:
    """Every curve a CURVE argument gives, with its file.

    A single file gives its one curve (``entry`` picks it when the file holds
    several); a folder or a glob, or ``entry="all"``, gives every curve of
    every file unless ``entry`` names one.

    Parameters
    ----------
    spec : str or path
        See :func:`curve_files`.
    q_unit, columns, entry
        As for :func:`scattermorph.sas.curves.read_curves`.

    Returns
    -------
    list of (Path, Curve)
    """
    files = curve_files(spec)
    batch = len(files) > 1 or Path(spec) != files[0]
    curves = []
    for path in files:
        if batch or (entry is not None and entry.lower() == "all"):
            chosen = "all" if entry is None else entry
            curves += [(path, c) for c in read_curves(path, q_unit=q_unit, columns=columns, entry=chosen)]
        else:
            curves.append((path, read_curve(path, q_unit=q_unit, columns=columns, entry=entry)))
    return curves


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------
def base_model(path=None) -> tuple[FunctionalModel, Path, str]:
    """The model ``predict`` starts from: the file given, else the shipped one.

    Parameters
    ----------
    path : path, optional
        A model file (``scattermorph train`` or the study); None: the shipped
        model (:func:`scattermorph.predict.modelfile.load_shipped_model`).

    Returns
    -------
    model : FunctionalModel
    path : Path
        The file it was read from.
    label : str
        How messages and outputs name it (``"<path> (shipped)"`` for the shipped one).
    """
    if path is None:
        model, shipped = load_shipped_model()
        return model, shipped, f"{shipped} (shipped)"
    return load_model(path), Path(path), str(path)


def _resolution_notes(base, window, resolution) -> list[str]:
    """Notes on a curve's resolution the refitted model cannot follow."""
    notes = []
    if window is not None and window["max"] > 1.5 * window["min"]:
        notes.append(f"dQ/q varies from {window['min']:.3g} to {window['max']:.3g} over the q range the model "
                     f"uses; the model is refitted for the median {window['median']:.3g} (constant dQ/q)")
    if base.curves is None and resolution is None:
        notes.append("the curve states its resolution dQ, but this model holds no training curves to smear: "
                     "it is used as trained on ideal curves (retrain it with this scattermorph to use dQ)")
    return notes


def model_for(base: FunctionalModel, curve: Curve, models: dict, *, resolution=None, x_range=None, cache_dir=None,
              label="model", log=None):
    """The model for one curve: the base model, or the base model refitted for its resolution and q window.

    The base model is refitted on its training curves smeared with the
    curve's relative resolution (``resolution`` when given, else the file's
    dQ: the median dQ/q over the feature window,
    :func:`scattermorph.predict.smearing.curve_resolution`) and cut to the
    window ``x_range`` of q/q1 the curve covers
    (:func:`scattermorph.predict.window.covered_window`; None: the model's own).

    Parameters
    ----------
    base : FunctionalModel
    curve : Curve
    models : dict
        Refitted models of this run by (rounded dQ/q, window) (filled here).
    resolution : float, optional
        Relative resolution dQ/q for every curve (``--resolution``).
    x_range : (float, float), optional
        The window of q/q1 to refit on (rounded, :func:`scattermorph.predict.window.window_key`).
    cache_dir : path, optional
        Folder of the refitted models (:func:`scattermorph.predict.smearing.resolution_model`).
    label : str
        Names the model in messages.
    log : callable, optional
        Called with a line when a model is refitted.

    Returns
    -------
    model : FunctionalModel
    used : dict or None
        The resolution used (``relative``, ``source``, ``window``, ``cache``,
        ``refit``, ``x_range``); None when the curve states none, none was
        given and the window is the model's.
    notes : list of str
        Warnings about the resolution.
    """
    window = None
    if resolution is not None:
        rel, source = resolution, "--resolution"
    else:
        window = curve_resolution(base, curve.q, curve.dq, curve.intensity)
        rel, source = (0.0, None) if window is None else (
            window["median"], "the file's dQ (median dQ/q over the feature window)")
    notes = _resolution_notes(base, window, resolution)
    if base.curves is None and resolution is None:
        return base, None, notes
    key = (round_resolution(rel), x_range)
    if key == (0, None):
        used = None if source is None else {"relative": 0.0, "source": source, "window": window, "cache": None,
                                            "refit": False, "x_range": None}
        return base, used, notes
    if key not in models:
        if log:
            what = [f"training curves smeared with dQ/q = {key[0]:g}" if key[0] else "its training curves",
                    "" if x_range is None else f" cut to the window q/q1 in [{x_range[0]:g}, {x_range[1]:g}] "
                                               "the curve covers"]
            log(f"refitting the model on {''.join(what)} (done once; cached)")
        try:
            models[key] = resolution_model(base, rel, x_range=x_range, cache_dir=cache_dir)
        except ParameterError as exc:
            raise InputFileError(f"{label}: {exc}") from None
    model, info = models[key]
    if info.get("note"):
        notes.append(info["note"])
    return model, dict(info, source=source, window=window), notes


def resolution_info(curve: Curve, used=None) -> dict | None:
    """JSON metadata of a curve's q resolution dQ and of the resolution the model used.

    Parameters
    ----------
    curve : Curve
    used : dict, optional
        The resolution :func:`model_for` used.

    Returns
    -------
    dict or None
        ``used``; with dQ: ``dq_unit``, ``n_points``, ``all_zero`` and the
        median, min and max of dQ/q; with ``used``: ``relative_used``,
        ``source``, ``window``, ``model_cache``, ``refitted_now``. None when
        the file states no dQ and none was used.
    """
    if curve.dq is None and used is None:
        return None
    out = {"used": used is not None}
    if curve.dq is not None:
        rel = curve.dq / curve.q
        out.update(dq_unit=curve.q_unit, n_points=int(curve.dq.size), all_zero=bool(np.all(curve.dq == 0)),
                   dq_over_q_median=float(np.median(rel)), dq_over_q_min=float(rel.min()),
                   dq_over_q_max=float(rel.max()))
    if used is not None:
        out.update(relative_used=used["relative"], source=used["source"], window=used.get("window"),
                   model_cache=used.get("cache"), refitted_now=used.get("refit"))
    return out


# --------------------------------------------------------------------------
# predictions
# --------------------------------------------------------------------------
def check_applicability(curve: Curve, ndim: int = 3, *, task: str = "predict") -> Applicability:
    """Whether the curve can come from a phase-separated blend; a refusal raises.

    Parameters
    ----------
    curve : Curve
    ndim : int
        The model's dimension.
    task : str
        What the refusal says there is nothing to do ("predict", "infer").

    Returns
    -------
    Applicability
        ``"ok"`` or ``"flagged"`` (:func:`scattermorph.sas.applicability.assess_curve`).

    Raises
    ------
    InputFileError
        ``"refused"``: the curve has no peak to predict from; the message gives the reasons.
    """
    result = assess_curve(curve.q, curve.intensity, curve.error, dq=curve.dq, ndim=ndim)
    if result.verdict == "refused":
        raise InputFileError(f"{curve.source}: not a phase-separated blend's curve, nothing to {task}: "
                             f"{result.text()} (see 'Is this curve a phase-separated blend?' in docs/predict.md)")
    return result


@dataclass
class CurveResult:
    """The prediction for one curve of a ``predict`` run.

    Attributes
    ----------
    path : Path
        The file the curve came from.
    curve : Curve
    prediction : Prediction
        Its warnings start with the notes on the resolution.
    doc : dict
        JSON-ready: :meth:`Prediction.to_dict` plus ``curve``, ``entry``,
        ``format``, ``model``, ``intensity_unit``, ``resolution``
        (:func:`resolution_info`) and ``applicability``
        (:meth:`scattermorph.sas.applicability.Applicability.to_dict`).
    model : FunctionalModel
        The model applied (the base model or its refit for the curve's dQ/q).
    """

    path: Path
    curve: Curve
    prediction: Prediction
    doc: dict
    model: FunctionalModel


def _window(base, curve, intensity):
    """The window of q/q1 the curve covers (None: the model's own, or a model that cannot be refitted)."""
    if base.curves is None or base.kind not in SCALE_COLUMNS:
        return None
    try:
        return covered_window(base, curve.q, intensity)
    except ParameterError as exc:
        raise InputFileError(f"{curve.source}: {exc}; measure (or include) a wider q range") from None


def _background(model, curve, background) -> dict | None:
    """The background to subtract: the given one, or fitted (:func:`scattermorph.predict.background.fit_background`)."""
    if background is not None:
        return {"value": float(background), "sigma": 0.0, "determined": True, "method": "given (--background)"}
    if model.kind not in SCALE_COLUMNS:
        return None
    return fit_background(model, curve.q, curve.intensity, curve.error)


def _edge_intensity(model, curve) -> float:
    """I at the upper edge of the model's window on the curve (the scale a background is compared with)."""
    qw, sw, _ = window_curve(curve.q, curve.intensity, model.ndim, model.features["x_range"])
    return float(sw[-1])


def curve_model(base, curve, models, *, resolution=None, background=None, cache_dir=None, label="model", log=None):
    """The model, background and window for one curve.

    A background shifts the curve's q1, so the window is the one the curve
    covers once a first background is subtracted: fitted with the base
    model (its whole window, the missing ends held at the curve's end
    values). The model refitted on that window fits the background again,
    which is the one used. (The window is not chosen a third time, which
    could cost a second refit: a curve that then misses a sliver of the
    window gets the partial-coverage note.)

    Returns
    -------
    model, used, notes
        As :func:`model_for`.
    background : dict or None
        ``value``, ``sigma``, ``determined``, ``method`` (None: a model that
        reads the absolute intensity and no ``background`` given).
    x_range : (float, float) or None
        The window refitted on (None: the model's own).
    """
    first = _background(base, curve, background)
    x_range = _window(base, curve, curve.intensity if first is None else
                      subtract_background(curve.intensity, first["value"]))
    model, used, notes = model_for(base, curve, models, resolution=resolution, x_range=x_range,
                                   cache_dir=cache_dir, label=label, log=log)
    bg = first if background is not None or model is base else _background(model, curve, background)
    if bg is not None and not bg["determined"]:
        edge = _edge_intensity(model, curve)
        notes.append(f"the background is not determined by the curve's shape (no clear best value between "
                     f"{bg['range'][0]:.3g} and {bg['range'][1]:.3g}, the curve's lowest intensity: "
                     f"{100 * bg['range'][1] / edge:.3g} % of I at the window's upper edge); it is taken as "
                     f"{bg['value']:.3g} +- {bg['sigma']:.3g} (uniform over that range), which the standard "
                     "deviations include: give --background if you know it (0 for subtracted data)")
    return model, used, notes, bg, x_range


def _refuse(pred, model, x_range, source) -> None:
    """Blank the functionals the window's accuracy refuses (with a warning each); all refused: an error.

    The accuracy that decides is the refit's window R^2
    (:func:`scattermorph.predict.window.effective_accuracy`); an answered
    functional whose R^2 with the curve's own background and noise errors
    added is below the threshold gets a warning.
    """
    for name, acc in background_warnings(model, pred).items():
        pred.warnings.append(background_text(name, acc))
    refused = refusals(model, pred)
    if not refused:
        return
    if len(refused) == len(model.targets):
        raise InputFileError(f"{source}: " + "; ".join(refusal_text(k, v, x_range or model.features["x_range"])
                                                       for k, v in refused.items()))
    for name, acc in refused.items():
        pred.table.loc[pred.table["functional"] == name, ["mean", "std", "std_model", "std_noise"]] = np.nan
        pred.warnings.append(refusal_text(name, acc, x_range or model.features["x_range"]))
    pred.info["refused"] = {k: dict(v) for k, v in refused.items()}


def apply_model(base: FunctionalModel, curves, *, label="model", resolution=None, background=None, cache_dir=None,
                n_draws=200, log=None) -> list[CurveResult]:
    """Predict every curve, each with the model its resolution and q window need, its background subtracted.

    Parameters
    ----------
    base : FunctionalModel
    curves : sequence of (Path, Curve)
        From :func:`read_curve_files`.
    label : str
        Names the model in messages and in each result's ``doc``.
    resolution, cache_dir, log
        See :func:`model_for` (a model refitted for one dQ/q and window
        serves every curve of that dQ/q and window).
    background : float, optional
        The flat background of every curve (units of its I; ``--background``);
        None: fitted per curve (:func:`curve_model`).
    n_draws : int
        Monte Carlo draws of the measurement noise and the background per
        curve (:meth:`FunctionalModel.predict`).

    Returns
    -------
    list of CurveResult
        In the order of ``curves``; a flagged curve (:func:`check_applicability`)
        carries the reasons as its first warning.

    Raises
    ------
    InputFileError
        A curve that cannot come from a phase-separated blend (no peak), or
        one the model cannot read (see :meth:`FunctionalModel.predict`).
    """
    results, models = [], {}
    for path, curve in curves:
        with threadpool_limits(1, user_api="blas"):  # small matrices: see scattermorph.predict.model._refit
            results.append(_apply_one(base, path, curve, models, label=label, resolution=resolution,
                                      background=background, cache_dir=cache_dir, n_draws=n_draws, log=log))
    return results


def _apply_one(base, path, curve, models, *, label, resolution, background, cache_dir, n_draws, log) -> CurveResult:
    """The :class:`CurveResult` of one curve (see :func:`apply_model`)."""
    applicable = check_applicability(curve, base.ndim)
    logs_ok = positive_for_logs(curve)  # points I <= 0 averaged with neighbours: the features take log I
    model, used, notes, bg, x_range = curve_model(base, logs_ok, models, resolution=resolution,
                                                  background=background, cache_dir=cache_dir, label=label,
                                                  log=log)
    pred = model.predict(logs_ok, None, n_draws=n_draws, background=bg)
    pred.warnings[:0] = notes
    if applicable.verdict == "flagged":
        pred.warnings.insert(0, f"MAY NOT BE A PHASE-SEPARATED BLEND: {applicable.text()}")
    pred.info["window"] = {"x_range": list(x_range or model.features["x_range"]), "refit": x_range is not None,
                           "accuracy": effective_accuracy(model, pred) or None, "min_r2": MIN_R2}
    _refuse(pred, model, x_range, curve.source)
    doc = pred.to_dict()
    doc.update(curve=str(path), entry=curve.entry, format=curve.format, model=label,
               intensity_unit=curve.intensity_unit, resolution=resolution_info(curve, used),
               applicability=applicable.to_dict())
    return CurveResult(path, curve, pred, doc, model)


def results_table(results) -> pd.DataFrame:
    """One row per curve: source, entry, format, q unit, domain flag, dQ/q and each functional.

    Parameters
    ----------
    results : sequence of CurveResult

    Returns
    -------
    pandas.DataFrame
        Columns ``curve``, ``entry``, ``format``, ``n_points``, ``q_unit``,
        ``in_domain``, ``applicability`` (``ok`` or ``flagged``),
        ``dq_over_q_median``, ``dq_over_q_used``, ``n_warnings`` and per functional ``<name>``, ``<name>_std`` (in
        ``<name>_unit``) and ``<name>_unit``.
    """
    rows = []
    for r in results:
        pred, res = r.prediction, r.doc["resolution"] or {}
        row = {"curve": r.doc["curve"], "entry": r.curve.entry or "", "format": r.curve.format,
               "n_points": pred.info["n_points"], "q_unit": pred.info["q_unit"],
               "in_domain": bool(pred.info["in_domain"]),
               "applicability": (r.doc.get("applicability") or {}).get("verdict", "not checked"),
               "dq_over_q_median": res.get("dq_over_q_median", float("nan")),
               "dq_over_q_used": res.get("relative_used", 0.0),
               "n_warnings": len(pred.warnings)}
        for f in pred.table.itertuples():
            row[f"{f.functional}"] = float(f.mean)
            row[f"{f.functional}_std"] = float(f.std)
            row[f"{f.functional}_unit"] = f.unit
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# the model described
# --------------------------------------------------------------------------
def _about_header(model: FunctionalModel, path: Path, shipped: bool) -> list[str]:
    """Lines of ``--about`` on the file, its provenance and its training data."""
    prov = model.provenance
    dom = training_domain(model)
    extra = prov.get("extra", {})
    return [f"model {path}{' (shipped with scattermorph)' if shipped else ''}: {path.stat().st_size / 1e6:.2f} MB, "
            f"sha256 {sha256_file(path)}",
            f"  study: {dom.get('study') or extra.get('study') or 'not recorded'}"
            + (f" (rule {extra['rule']})" if extra.get("rule") else ""),
            f"  config sha256: {prov.get('config_sha256', 'not recorded')}",
            f"  code: scattermorph {prov.get('scattermorph_version', '?')}, git commit {prov.get('git_commit')}"
            + (" (uncommitted changes)" if prov.get("git_dirty") else ""),
            f"  created: {prov.get('created', '?')}",
            f"  training data: {dom.get('n_simulations') or '?'} simulations, {model.X.shape[0]} snapshots "
            f"({model.ndim}D); {domain_text(dict(dom, n_simulations=None, n_snapshots=None))}"]


def about_text(model: FunctionalModel, path, *, shipped=False) -> str:
    """``scattermorph predict --about``: what a model file is and where it came from.

    Parameters
    ----------
    model : FunctionalModel
        Read from ``path``.
    path : path
        The model file (its size and sha256 are shown).
    shipped : bool
        The file is the shipped model.

    Returns
    -------
    str
        Lines: file, study, config, code, date, training data, functionals,
        features, kernels, sigma-scaling factors, stored training curves,
        datasets.
    """
    path, t = Path(path), model.training
    lines = _about_header(model, path, shipped)
    lines += [f"  functionals: {', '.join(model.targets)}",
              f"  features: {model.kind} ({model.X.shape[1]} columns"
              + (f", q/q1 in [{model.features['x_range'][0]:g}, {model.features['x_range'][1]:g}]"
                 if "x_range" in model.features else "") + f"), training q unit {model.features['q_unit']}",
              f"  kernel: {t.get('kernel')}{' (ARD)' if t.get('ard') else ''}, restarts {t.get('restarts')}"]
    for name in model.targets:
        lines.append(f"    {name}: {model.specs[name]['repr']}")
    cal = (t.get("calibration") or {}).get("factor")
    if cal:
        lines.append("  sigma-scaling factors: " + ", ".join(f"{k} {v:.3g}" for k, v in cal.items()))
    lines.append("  training curves stored (resolution-aware refits): "
                 + ("yes" if model.curves is not None else "no"))
    for d in model.provenance.get("dataset", []):
        lines.append(f"  dataset: {d['path']} sha256 {d['sha256'][:16]}...")
    return "\n".join(lines)
