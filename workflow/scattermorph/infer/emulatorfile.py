"""The emulator of ``scattermorph infer`` as a file: saved, shipped with the package, loaded, described.

The file is a checksummed ``.npz`` (no pickles) holding what rebuilds the
:class:`~scattermorph.infer.posterior.StudyCalibration` exactly, without the
study: the training features, parameters, replicate groups, densities and
q1, the GPs' log hyper-parameters and leave-one-run-out variance factors,
the posterior predictive check's reference distribution, and the
emulator's component means at a few parameter points (a rebuilt emulator
must reproduce them, so a file made by other code is refused rather than
silently answering differently). The study writes the shipped copy,
``models/emulator.npz`` (rule ``ship_emulator``, like ``models/default.npz``
for ``predict``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.infer.checks import PPC_DRAWS, reference_seed
from scattermorph.infer.grid import PARAM_LABELS, PARAMS
from scattermorph.infer.posterior import FunctionalEmulator, ScatteringEmulator, StudyCalibration, fit_calibration
from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.modelfile import SHIPPED_MAX_BYTES, _checksum, _jsonable, _provenance
from scattermorph.provenance.records import REPO_ROOT, library_hash, sha256_file

__all__ = [
    "FORMAT",
    "SHIPPED_EMULATOR",
    "save_emulator",
    "load_emulator",
    "write_study_emulator",
    "save_small",
    "shipped_emulator_path",
    "load_shipped_emulator",
    "about_emulator",
]

FORMAT = "scattermorph-emulator"
FORMAT_VERSION = 1
#: the shipped emulator, relative to the repository root
SHIPPED_EMULATOR = Path("models") / "emulator.npz"
_ARRAYS = ("X", "theta", "groups", "values", "q1", "ppc_reference", "check_theta", "check_mean")
#: relative tolerance of the rebuilt emulator's means against the stored ones: a
#: rebuild is one Cholesky factorisation per GP, reproducible to round-off
_REBUILD_RTOL = 1e-6


def save_emulator(path, cal: StudyCalibration, metadata=None) -> dict:
    """Write a fitted calibration model to a single ``.npz``, atomically.

    Parameters
    ----------
    path : path
    cal : StudyCalibration
        Fitted with replicate groups (:func:`scattermorph.infer.posterior.fit_calibration`);
        its check reference is computed here if it has none.
    metadata : dict, optional
        Provenance as for :func:`scattermorph.predict.modelfile.save_model`
        (``dataset``: paths stored with their sha256; ``config``: a dict stored
        with its sha256; anything else under ``extra``, e.g. ``study``, ``rule``).

    Returns
    -------
    dict : the metadata written.
    """
    em, fe = cal.emulator, cal.functionals
    if em.groups_train is None:
        raise ParameterError("the emulator was fitted without replicate groups: it cannot be saved (fit it "
                             "with fit_calibration on a study with replicates)")
    rng = np.random.default_rng(0)
    check_theta = em.lo + rng.random((8, 3)) * (em.hi - em.lo)
    _, groups = np.unique(em.groups_train, return_inverse=True)
    arrays = {"X": em.X_train, "theta": em.theta_train, "groups": groups.ravel(), "values": fe.values_train,
              "q1": fe.q1_train, "ppc_reference": cal.check_reference(), "check_theta": check_theta,
              "check_mean": em.predict(check_theta)[0]}
    arrays = {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    meta = _jsonable({
        "format": FORMAT, "format_version": FORMAT_VERSION, "ndim": cal.ndim, "features": cal.features,
        "targets": fe.targets, "hyper": cal.hyper(), "n_components": em.k, "lo": em.lo, "hi": em.hi,
        "library_sha256": library_hash(), "provenance": _provenance(metadata)})
    meta["checksum"] = _checksum(arrays, meta)
    payload = np.array(json.dumps(meta, sort_keys=True))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta=payload, **arrays)

    atomic_write(path, write)
    return meta


def _fail(path, what):
    raise InputFileError(f"{path}: not a valid scattermorph emulator: {what}")


def _read(path: Path) -> tuple[dict, dict]:
    """The arrays and metadata of an emulator file, checked against format, version and checksum."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("meta", *_ARRAYS) if k not in z.files]
            if missing:
                _fail(path, f"missing array(s) {missing}")
            arrays, text = {k: z[k] for k in _ARRAYS}, str(z["meta"][()])
    except InputFileError:
        raise
    except Exception as exc:  # zip/npy errors, object arrays refused by allow_pickle=False
        raise InputFileError(f"{path}: cannot be read as a scattermorph emulator (.npz): {exc}") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, f"metadata is not valid JSON ({exc})")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, f"format is {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        _fail(path, f"format_version {meta.get('format_version')!r}; this scattermorph reads version "
                    f"{FORMAT_VERSION}: regenerate it with the study (rule ship_emulator)")
    for k, a in arrays.items():
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            _fail(path, f"array {k!r} is not finite floats")
    if meta.get("checksum") != _checksum(arrays, meta):
        _fail(path, "contents do not match the stored sha256 checksum (the file was modified or corrupted)")
    return arrays, meta


def load_emulator(path) -> StudyCalibration:
    """Read an emulator written by :func:`save_emulator` and rebuild its GPs (no optimiser).

    Raises
    ------
    InputFileError
        Missing or unreadable file, wrong format or version, non-finite
        arrays, a checksum mismatch (a modified or corrupted file), or a
        rebuilt emulator whose means differ from the stored ones (a file made
        by other code).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such emulator file")
    t0 = time.perf_counter()
    a, meta = _read(path)
    try:
        hyper, ndim, features = meta["hyper"], int(meta["ndim"]), meta["features"]
        features = {"n_points": int(features["n_points"]), "x_range": tuple(float(v) for v in features["x_range"])}
        em = ScatteringEmulator(seed=0).fit(a["theta"], a["X"], a["groups"].astype(int), hyper=hyper["scattering"],
                                            variance_scale=hyper["variance_scale"])
        fe = FunctionalEmulator(meta["targets"], ndim).fit(a["theta"], a["values"], a["q1"], em.box,
                                                             hyper=hyper["functionals"])
    except (KeyError, TypeError, ValueError, ParameterError, np.linalg.LinAlgError) as exc:
        _fail(path, f"cannot rebuild the emulator ({exc})")
    mean = em.predict(a["check_theta"])[0]
    if mean.shape != a["check_mean"].shape or not np.allclose(mean, a["check_mean"], rtol=_REBUILD_RTOL,
                                                              atol=_REBUILD_RTOL * np.abs(a["check_mean"]).max()):
        _fail(path, "the rebuilt emulator does not reproduce its stored predictions (made by other code): "
                    "regenerate it with the study (rule ship_emulator)")
    cal = StudyCalibration(em, fe, ndim, features, time.perf_counter() - t0, str(path), a["ppc_reference"])
    cal.provenance, cal.checksum = meta.get("provenance", {}), meta["checksum"]
    cal.library_sha256 = meta.get("library_sha256")
    return cal


def write_study_emulator(table_path, curves_path, target, *, features, metadata=None,
                         max_bytes=SHIPPED_MAX_BYTES, seed=0, reference_draws=PPC_DRAWS) -> StudyCalibration:
    """Fit the calibration model on every run of a study and write it (the rule ``ship_emulator``).

    Parameters
    ----------
    table_path, curves_path : path
        The study's ``dataset.csv`` and ``dataset_sq.npz``.
    target : path
        The file to write (``models/emulator.npz``).
    features : dict
        ``n_points`` and ``x_range`` of the scale-free features (``learning.feature_grid``).
    metadata : dict, optional
        Provenance (:func:`save_emulator`); the dataset paths are added.
    max_bytes : int
        The largest file allowed (it is committed to the repository).
    seed : int
        Seed of the check's reference draws (:func:`scattermorph.infer.checks.reference_seed`).
    reference_draws : int
        Prior-predictive draws of the check's reference distribution.

    Raises
    ------
    InputFileError
        The written file is larger than ``max_bytes`` (it is removed).
    """
    table, arrays = load_dataset(table_path, curves_path)
    features = {"n_points": int(features["n_points"]), "x_range": tuple(float(v) for v in features["x_range"])}
    cal = fit_calibration(table, arrays, features, source=str(table_path))
    cal.check_reference(seed=reference_seed(seed), n_draws=reference_draws)
    meta = dict(metadata or {}, dataset=[str(table_path), str(curves_path)],
                n_simulations=int(table["sim_id"].nunique()) if "sim_id" in table else None)
    save_small(target, cal, meta, max_bytes=max_bytes)
    return cal


def save_small(target, cal: StudyCalibration, metadata=None, *, max_bytes=SHIPPED_MAX_BYTES) -> dict:
    """:func:`save_emulator`, then refuse (and remove) a file larger than ``max_bytes``.

    Raises
    ------
    InputFileError
        The file is larger than ``max_bytes`` (a shipped file lives in the git repository).
    """
    meta = save_emulator(target, cal, metadata)
    size = Path(target).stat().st_size
    if size > int(max_bytes):
        Path(target).unlink()
        raise InputFileError(f"{target}: {size / 1e6:.2f} MB, more than the {max_bytes / 1e6:.2f} MB a shipped "
                             "emulator may have")
    return meta


def shipped_emulator_path() -> Path:
    """``$SCATTERMORPH_EMULATOR`` if set, else ``models/emulator.npz`` of the checkout."""
    if os.environ.get("SCATTERMORPH_EMULATOR"):
        return Path(os.environ["SCATTERMORPH_EMULATOR"])
    return REPO_ROOT / SHIPPED_EMULATOR


def load_shipped_emulator() -> tuple[StudyCalibration, Path]:
    """The shipped emulator and its path.

    Raises
    ------
    InputFileError
        No shipped emulator: the message says how to get one.
    """
    path = shipped_emulator_path()
    if not path.is_file():
        raise InputFileError(f"no shipped emulator at {path}: this installation carries none (install the checkout "
                             "editable, `pip install -e .`, from a clone that has models/emulator.npz), or give "
                             "--study DIR (a study folder holding dataset.csv and dataset_sq.npz), or set "
                             "SCATTERMORPH_EMULATOR")
    return load_emulator(path), path


def about_emulator(cal: StudyCalibration, path, *, shipped=False) -> str:
    """``scattermorph infer --about``: what an emulator file is and where it came from."""
    path, prov = Path(path), getattr(cal, "provenance", {})
    extra, em = prov.get("extra", {}), cal.emulator
    runs = extra.get("n_simulations") or "?"
    lines = [f"emulator {path}{' (shipped with scattermorph)' if shipped else ''}: "
             f"{path.stat().st_size / 1e6:.2f} MB, sha256 {sha256_file(path)}",
             f"  study: {extra.get('study', 'not recorded')}" + (f" (rule {extra['rule']})" if extra.get("rule") else ""),
             f"  config sha256: {prov.get('config_sha256', 'not recorded')}",
             f"  code: scattermorph {prov.get('scattermorph_version', '?')}, git commit {prov.get('git_commit')}"
             + (" (uncommitted changes)" if prov.get("git_dirty") else "")
             + f", library sha256 {getattr(cal, 'library_sha256', None) or 'not recorded'}",
             f"  created: {prov.get('created', '?')}",
             f"  training set: {em.X_train.shape[0]} snapshots of {runs} simulations ({cal.ndim}D); "
             f"{em.k} principal components of the scale-free features ({em.X_train.shape[1]} points, q/q1 in "
             f"[{cal.features['x_range'][0]:g}, {cal.features['x_range'][1]:g}])",
             "  parameter box (the prior): " + ", ".join(f"{PARAM_LABELS[p]} [{lo:.4g}, {hi:.4g}]"
                                                         for p, lo, hi in zip(PARAMS, em.lo, em.hi)),
             f"  densities: {', '.join(cal.functionals.targets)}",
             f"  fit check: {cal.ppc_reference.size} reference draws"]
    for d in prov.get("dataset", []):
        lines.append(f"  dataset: {d['path']} sha256 {d['sha256'][:16]}...")
    return "\n".join(lines)
