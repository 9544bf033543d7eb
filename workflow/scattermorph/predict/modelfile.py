"""The fitted model's file: a checksummed npz with the training data, kernels and provenance; the shipped model and its stated domain."""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from scattermorph import __version__
from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn.estimators import GP_KERNELS
from scattermorph.learn.features import SCALE_COLUMNS
from scattermorph.predict.model import FEATURE_KINDS, FunctionalModel, _build_kernel, _refit
from scattermorph.provenance.records import REPO_ROOT, git_state, package_versions, sha256_file

FORMAT = "scattermorph-model"


#: version 2 adds the optional training curves (``train_*`` arrays,
#: inside the checksum); version 1 files (without them) are still read
FORMAT_VERSION = 2


READ_VERSIONS = (1, 2)


_ARRAYS = ("X", "Y", "scaler_mean", "scaler_scale", "grid", "domain_location", "domain_precision",
           "domain_lo", "domain_hi")


#: optional arrays: the training curves (resolution-aware refits, :func:`resolution_model`)
_CURVE_ARRAYS = ("train_q", "train_s_q", "train_values", "train_groups")


# --------------------------------------------------------------------------
# saving and loading
# --------------------------------------------------------------------------
def _checksum(arrays: dict, meta: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    h.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    return h.hexdigest()


def _provenance(metadata: dict | None) -> dict:
    extra = dict(metadata or {})
    prov = {}
    if "dataset" in extra:
        paths = extra.pop("dataset")
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        prov["dataset"] = [{"path": str(p), "sha256": sha256_file(p)} for p in paths]
    if "config" in extra:
        cfg = extra.pop("config")
        prov["config"] = cfg
        prov["config_sha256"] = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
    commit, dirty = git_state(REPO_ROOT)
    prov.update(scattermorph_version=__version__, git_commit=commit, git_dirty=dirty,
                packages=package_versions(), python=sys.version.split()[0], platform=platform.platform(),
                created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if extra:
        prov["extra"] = extra
    return prov


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def save_model(path, model: FunctionalModel, metadata=None, *, curves=True) -> dict:
    """Write a model to a single ``.npz`` (no pickles), atomically.

    Parameters
    ----------
    path : path
        Output file (``.npz`` recommended; written as given).
    model : FunctionalModel
    curves : bool
        Store the training curves (``train_q``, ``train_s_q``,
        ``train_values``, ``train_groups``) when the model has them, so that
        :func:`resolution_model` can refit it on smeared curves (default).
    metadata : dict, optional
        Provenance of the training run, stored as JSON. Special keys:
        ``dataset`` (a path or list of paths: stored with their sha256) and
        ``config`` (a dict: stored with its sha256); everything else goes
        under ``provenance["extra"]``. The scattermorph version, git commit,
        package versions, Python, platform and date are added.

    Returns
    -------
    dict
        The metadata written (``meta`` JSON of the file).
    """

    arrays = {"X": model.X, "Y": model.Y, "scaler_mean": model.domain["scaler_mean"],
              "scaler_scale": model.domain["scaler_scale"], "grid": model.grid,
              "domain_location": model.domain["location"], "domain_precision": model.domain["precision"],
              "domain_lo": model.domain["lo"], "domain_hi": model.domain["hi"]}
    if curves and model.curves is not None:
        arrays.update(train_q=model.curves["q"], train_s_q=model.curves["s_q"], train_values=model.curves["values"])
        if model.curves.get("groups") is not None:
            arrays["train_groups"] = model.curves["groups"]
    arrays = {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    domain = {k: v for k, v in model.domain.items()
              if k not in ("scaler_mean", "scaler_scale", "location", "precision", "lo", "hi")}
    meta = _jsonable({
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "features": model.features, "targets": model.targets,
        "target_space": ("density / q1^p (scale_free_targets)" if model.kind != "log_sq"
                         else "density in (training q unit)^p"),
        "models": model.specs, "domain": domain, "training": model.training,
        "provenance": _provenance(metadata),
    })
    meta["checksum"] = _checksum(arrays, meta)
    payload = np.array(json.dumps(meta, sort_keys=True, indent=1))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta=payload, **arrays)

    atomic_write(path, write)
    model.provenance = meta["provenance"]
    model.checksum = meta["checksum"]
    return meta


def _fail(path, what):
    raise InputFileError(f"{path}: not a valid scattermorph model: {what}")


def load_model(path) -> FunctionalModel:
    """Read a model written by :func:`save_model` (``allow_pickle=False``) and rebuild its GPs.

    Every GP is rebuilt from its kernel spec with ``optimizer=None`` and refitted
    on the stored training data, which reproduces the saved model's predictions
    to round-off.

    Raises
    ------
    InputFileError
        Missing or unreadable file, wrong format name or version, missing or
        malformed arrays, non-finite values, unknown kernels, targets or
        feature kinds, or contents that do not match the stored checksum or
        the stored normalisations (a modified file). The message names the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such model file")
    arrays, meta_text = _read_npz(path)
    meta = _read_meta(path, meta_text)
    _check_arrays(path, arrays, meta)
    features, targets, specs, domain = _model_meta(path, meta)
    n = _check_shapes(path, arrays, features, targets)
    pipelines = _rebuild_gps(path, arrays, targets, specs)
    domain.update(scaler_mean=arrays["scaler_mean"], scaler_scale=arrays["scaler_scale"],
                  location=arrays["domain_location"], precision=arrays["domain_precision"],
                  lo=arrays["domain_lo"], hi=arrays["domain_hi"])
    for k in ("distance_threshold", "neighbour_threshold", "min_coverage"):
        if not isinstance(domain.get(k), (int, float)) or not np.isfinite(domain[k]):
            _fail(path, f"domain {k} missing or not a finite number")
    return FunctionalModel(features=features, grid=arrays["grid"], targets=targets, X=arrays["X"], Y=arrays["Y"],
                           pipelines=pipelines, specs=specs, domain=domain, training=meta.get("training", {}),
                           provenance=meta.get("provenance", {}), curves=_stored_curves(path, arrays, n, len(targets)),
                           checksum=meta["checksum"])


def _read_npz(path: Path) -> tuple[dict, str]:
    """The arrays (required and optional) and the metadata text of a model file, read without pickles."""
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = [k for k in ("meta", *_ARRAYS) if k not in files]
            if missing:
                _fail(path, f"missing array(s) {missing}")
            arrays = {k: z[k] for k in _ARRAYS}
            arrays.update({k: z[k] for k in _CURVE_ARRAYS if k in files})
            return arrays, str(z["meta"][()])
    except InputFileError:
        raise
    except Exception as exc:  # zip/npy errors, object arrays refused by allow_pickle=False
        raise InputFileError(f"{path}: cannot be read as a scattermorph model (.npz): {exc}") from None


def _read_meta(path: Path, text: str) -> dict:
    """The metadata of a model file, checked to be JSON of a format and version this code reads."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, f"metadata is not valid JSON ({exc})")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, f"format is {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r}")
    if meta.get("format_version") not in READ_VERSIONS:
        _fail(path, f"format_version {meta.get('format_version')!r}; this scattermorph reads versions "
                    f"{', '.join(map(str, READ_VERSIONS))}: retrain the model or use a matching scattermorph")
    return meta


def _check_arrays(path: Path, arrays: dict, meta: dict) -> None:
    """Float, finite arrays (the training curves may hold NaN = empty bin) that match the stored checksum."""
    for k, a in arrays.items():
        if a.dtype.kind != "f":
            _fail(path, f"array {k!r} has dtype {a.dtype}, expected float")
        if not np.all(np.isfinite(a)) and not (k == "train_s_q" and not np.any(np.isinf(a))):
            _fail(path, f"array {k!r} holds NaN or inf")
    if meta.get("checksum") != _checksum(arrays, meta):
        _fail(path, "contents do not match the stored sha256 checksum (the file was modified or corrupted)")


def _model_meta(path: Path, meta: dict):
    """``(features, targets, specs, domain)`` of the metadata: a known feature kind, 2D or 3D, and
    one kernel spec per target, each a density of that dimension."""
    try:
        features, targets, specs = meta["features"], list(meta["targets"]), meta["models"]
        domain = dict(meta["domain"])
        kind, ndim = features["kind"], int(features["ndim"])
    except (KeyError, TypeError, ValueError) as exc:
        _fail(path, f"metadata lacks {exc}")
    if kind not in FEATURE_KINDS:
        _fail(path, f"unknown feature kind {kind!r} (known: {FEATURE_KINDS})")
    if ndim not in (2, 3):
        _fail(path, f"ndim {ndim!r} is not 2 or 3")
    unknown = [t for t in targets if t not in FUNCTIONALS[ndim]]
    if unknown or not targets or set(specs) != set(targets):
        _fail(path, f"targets {targets} must be {ndim}D densities {FUNCTIONALS[ndim]}, one kernel spec each")
    return features, targets, specs, domain


def _check_shapes(path: Path, arrays: dict, features: dict, targets: list) -> int:
    """The number of training rows n, after checking every array's shape against X (n, p)."""
    X = arrays["X"]
    n, p = X.shape if X.ndim == 2 else (0, 0)
    expected = {"Y": (n, len(targets)), "scaler_mean": (p,), "scaler_scale": (p,), "grid": (p,),
                "domain_location": (p,), "domain_precision": (p, p), "domain_lo": (p,), "domain_hi": (p,)}
    if X.ndim != 2 or n < 2:
        _fail(path, f"X has shape {X.shape}, expected (n_samples >= 2, n_features)")
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            _fail(path, f"array {k!r} has shape {arrays[k].shape}, expected {shape}")
    kind = features["kind"]
    if kind != "log_sq" and p != int(features.get("n_points", -1)) + len(SCALE_COLUMNS[kind]):
        _fail(path, f"{p} features but n_points = {features.get('n_points')}")
    return n


def _rebuild_gps(path: Path, arrays: dict, targets: list, specs: dict):
    """A callable giving one pipeline per target, refitted from its kernel spec on the stored X, Y (no optimiser).

    What the file must satisfy is checked now: the stored feature scaler and
    each GP's y normalisation must be what the stored X and Y give
    (otherwise the file was modified), every kernel spec must build. The
    refits (a Cholesky factorisation of the n x n kernel matrix per target,
    a quarter of a second for the shipped model) run on the first use of
    :attr:`FunctionalModel.pipelines`: ``predict`` on a curve whose window or
    resolution needs a refit never uses the base model's GPs.
    """
    X, Y = arrays["X"], arrays["Y"]
    sc = StandardScaler().fit(X)
    if not (np.allclose(sc.mean_, arrays["scaler_mean"], rtol=1e-12, atol=0)
            and np.allclose(sc.scale_, arrays["scaler_scale"], rtol=1e-12, atol=0)):
        _fail(path, "the stored scaler does not match the stored training inputs X")
    for j, name in enumerate(targets):
        spec = specs[name]
        if spec.get("kernel") not in GP_KERNELS:
            _fail(path, f"unknown kernel {spec.get('kernel')!r} for {name} (known: {GP_KERNELS})")
        try:
            _build_kernel(spec, X.shape[1])
            float(spec["alpha"])
            normalize = bool(spec["normalize_y"])
        except InputFileError as exc:
            _fail(path, f"{name}: {exc}")
        except (KeyError, TypeError, ValueError) as exc:
            _fail(path, f"{name}: cannot rebuild the GP ({exc})")
        # scikit-learn's normalize_y: the mean and the standard deviation of y (a zero one counts as 1)
        mean, std = (float(np.mean(Y[:, j])), float(np.std(Y[:, j]))) if normalize else (0.0, 1.0)
        std = std if std >= 10 * np.finfo(float).eps else 1.0
        if not (np.isclose(mean, spec["y_mean"], rtol=1e-12, atol=1e-300)
                and np.isclose(std, spec["y_std"], rtol=1e-12, atol=1e-300)):
            _fail(path, f"{name}: the stored y normalisation does not match the stored targets Y")

    def build() -> dict:
        pipelines = {}
        for j, name in enumerate(targets):
            try:
                pipelines[name] = _refit(specs[name], X, Y[:, j])
            except (InputFileError, np.linalg.LinAlgError, ValueError) as exc:
                _fail(path, f"{name}: cannot rebuild the GP ({exc})")
        return pipelines
    return build


def _stored_curves(path: Path, arrays: dict, n: int, n_targets: int) -> dict | None:
    """The training curves kept in the file (``q`` (B,), ``s_q`` (n, B), ``values`` (n, t),
    ``groups`` (n,) or None), or None for a file without them."""
    if "train_s_q" not in arrays:
        return None
    tq, ts, tv = (arrays.get(k) for k in ("train_q", "train_s_q", "train_values"))
    tg = arrays.get("train_groups")
    if (tq is None or tv is None or tq.ndim != 1 or ts.shape != (n, tq.size) or tv.shape != (n, n_targets)
            or (tg is not None and tg.shape != (n,))):
        _fail(path, f"training curves of shapes {None if tq is None else tq.shape}, {ts.shape}, "
                    f"{None if tv is None else tv.shape} do not match {n} training rows and {n_targets} targets")
    return {"q": tq, "s_q": ts, "values": tv, "groups": tg}


def model_summary(model: FunctionalModel) -> str:
    """A few lines describing a model (for the CLI)."""
    buf = io.StringIO()
    f = model.features
    print(f"{model.kind} model, {model.ndim}D, {model.X.shape[0]} training curves, "
          f"{model.X.shape[1]} features, training q unit {f['q_unit']}", file=buf)
    for name in model.targets:
        print(f"  {name}: {model.specs[name]['repr']}", file=buf)
    return buf.getvalue().rstrip()


# --------------------------------------------------------------------------
# the shipped model (scattermorph predict without --model)
# --------------------------------------------------------------------------
#: the shipped model, relative to the repository root (written by the study's
#: ship_model step when learning.ship_model is true)
SHIPPED_MODEL = Path("models") / "default.npz"


def shipped_model_path() -> Path:
    """Where ``scattermorph predict`` looks for its default model.

    ``$SCATTERMORPH_MODEL`` if set, else ``models/default.npz`` of the
    checkout the package is installed from (the package lives in
    ``<repo>/workflow/scattermorph``; the install is editable, so the file
    is found next to the code it was made with).
    """
    if os.environ.get("SCATTERMORPH_MODEL"):
        return Path(os.environ["SCATTERMORPH_MODEL"])
    return REPO_ROOT / SHIPPED_MODEL


def load_shipped_model() -> tuple[FunctionalModel, Path]:
    """The shipped model and its path.

    Raises
    ------
    InputFileError
        No shipped model (a checkout without ``models/default.npz``, or a
        non-editable install, which does not carry the repository's
        ``models/`` folder): the message says how to get one.
    """
    path = shipped_model_path()
    if not path.is_file():
        raise InputFileError(
            f"no shipped model at {path}: this installation carries no default model (install the checkout "
            "editable, `pip install -e .`, from a clone that has models/default.npz), or pass --model FILE "
            "(a model from `scattermorph train` or results/<study>/models/scale_free_gp.npz), or set "
            "SCATTERMORPH_MODEL"
        )
    return load_model(path), path


#: the shipped model must stay small (it lives in the git repository)
SHIPPED_MAX_BYTES = 2_000_000


def study_domain(table, model: FunctionalModel, study=None) -> dict:
    """The simulations a model was trained on, for :func:`training_domain`.

    Parameters
    ----------
    table : pandas.DataFrame
        The study's dataset table (columns ``sim_id``, ``phi0``, ``quench``).
    model : FunctionalModel
        Fitted on the rows of ``table`` (its q1 range is taken from its features).
    study : str, optional
        The study's name.

    Returns
    -------
    dict: ``study``, ``phi0`` and ``quench`` [min, max], ``n_simulations``,
    ``n_snapshots``, ``q1`` [min, max] of the training curves (training q unit).
    """
    out = {"study": study, "n_snapshots": int(len(table))}
    if "sim_id" in table:
        out["n_simulations"] = int(table["sim_id"].nunique())
    for key in ("phi0", "quench"):
        if key in table:
            v = pd.to_numeric(table[key], errors="coerce").dropna()
            if len(v):
                out[key] = [float(v.min()), float(v.max())]
    if model.kind in SCALE_COLUMNS and model.curves is not None:
        _, q1, _, _ = model.featurise(model.curves["q"], model.curves["s_q"])
        out["q1"] = [float(np.min(q1)), float(np.max(q1))]
    return out


def ship_model(source, target, *, max_bytes=SHIPPED_MAX_BYTES) -> FunctionalModel:
    """Copy a study's model to the shipped location, after checking it.

    The file must load (checksum, kernels), hold its training curves (for
    resolution-aware refits) and be at most ``max_bytes`` (it is committed to
    the repository). Written atomically.

    Raises
    ------
    InputFileError
        The model is invalid, lacks its training curves or is too large.
    """
    source = Path(source)
    model = load_model(source)
    if model.curves is None:
        raise InputFileError(f"{source}: holds no training curves; a shipped model needs them for --resolution")
    size = source.stat().st_size
    if size > int(max_bytes):
        raise InputFileError(f"{source}: {size / 1e6:.2f} MB, more than the {max_bytes / 1e6:.2f} MB a shipped "
                             "model may have")
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
    return model
