"""The classification stage as its rules call it: one function per rule script.

:func:`check_classification` checks the config's cross-keys;
:func:`build_features` draws the views of one kind with their labels and the
train/test split; :func:`bootstrap_job` and :func:`complexity_job` run one
batch of bootstrap rounds (every model, or the model-complexity sweep);
:func:`decompose_predictions` joins the batches and decomposes the errors
(:mod:`scattermorph.classify.biasvar`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.classify.biasvar import brier_decomposition, class_conditional_errors, domingos, kohavi_wolpert
from scattermorph.classify.classifiers import _SPLIT, _SWEEP, model_specs, rng_for, run_bootstrap, simulation_split
from scattermorph.classify.features import view_dataset
from scattermorph.classify.views import VIEW_KINDS, VOLUME_KINDS, view_ndim
from scattermorph.errors import ParameterError
from scattermorph.sim.run import load_simulation

__all__ = [
    "check_classification",
    "build_features",
    "bootstrap_job",
    "complexity_job",
    "save_predictions",
    "decompose_predictions",
]


def check_classification(config) -> None:
    """Cross-key checks of ``config["classification"]`` the schema cannot express.

    Raises
    ------
    ParameterError
        Naming the key, the value and the fix.
    """
    c = config["classification"]
    dim = int(config["study"]["dimension"])
    kinds = c["views"]["kinds"]
    flat = [k for k in kinds if not k.startswith("section_") and k not in VOLUME_KINDS]
    volume = [k for k in kinds if k in VOLUME_KINDS]
    if dim == 3 and flat:
        raise ParameterError(
            f"classification.views.kinds={kinds}: the study is 3D, so {flat} (views of a "
            "2D image) do not apply; use subvolume_window / subvolume_voxels (3D views "
            "of the snapshots) or section_window / section_pixels (2D sections)"
        )
    if dim != 3 and volume:
        raise ParameterError(
            f"classification.views.kinds={kinds}: {volume} are 3D views of a 3D study's "
            f"snapshots, but study.dimension is {dim}; use window / pixels (or "
            "section_window / section_pixels for sections of 3D structures)"
        )
    src = c["sections"]["source"]
    if src == "study" and dim != 3:
        raise ParameterError(
            "classification.sections.source='study' needs a 3D study (study.dimension: 3); "
            "use chc or grf"
        )
    r = c["radii"]
    if any(b <= a for a, b in zip(r, r[1:])):
        raise ParameterError(f"classification.radii={r} must be strictly increasing")
    cx = c["complexity"]
    if cx["kind"] not in kinds:
        raise ParameterError(
            f"classification.complexity.kind={cx['kind']!r} is not in views.kinds={kinds}"
        )
    if cx["features"] not in c["features"]:
        raise ParameterError(
            f"classification.complexity.features={cx['features']!r} is not in features={c['features']}"
        )
    if not any(abs(cx["fraction"] - f) < 1e-12 for f in c["views"]["fractions"]):
        raise ParameterError(
            f"classification.complexity.fraction={cx['fraction']} must be one of "
            f"views.fractions={c['views']['fractions']}"
        )
    s = c["sections"]
    if not s["t_max"] > s["t_min"]:
        raise ParameterError(
            f"classification.sections.t_max={s['t_max']} must exceed t_min={s['t_min']}"
        )
    sides = []
    if flat:
        sides.append(int(config["simulation"]["grid"]))
    if any(k.startswith("section_") for k in kinds):
        sides.append(int(config["simulation"]["grid"] if src == "study" else s["grid"]))
    if sides and c["raw_grid"] > min(sides):
        raise ParameterError(
            f"classification.raw_grid={c['raw_grid']} exceeds the image side {min(sides)}"
        )
    if volume and c["raw_grid_3d"] > int(config["simulation"]["grid"]):
        raise ParameterError(
            f"classification.raw_grid_3d={c['raw_grid_3d']} exceeds the grid side "
            f"{config['simulation']['grid']} of the sub-volume views"
        )


def build_features(paths, labels, *, kind, settings, seed, level, connectivity=None,
                   source_index=0):
    """Views, features, labels and the train/test split of one view kind.

    Parameters
    ----------
    paths : sequence of str
        Structure files (:func:`scattermorph.sim.run.load_simulation`).
    labels : pandas.DataFrame
        From :func:`scattermorph.classify.labels.label_table` for the same files.
    kind : str
    settings : dict
        The config's ``classification`` section.
    seed : int
        Study seed.
    level, connectivity
        Binarisation rule and Euler connectivity (the measurement stage's).
    source_index : int
        0 for the study's images, 1 for the section structures: keys the
        split and the bootstrap streams.

    Returns
    -------
    dict
        ``rows`` (DataFrame, :func:`scattermorph.classify.features.view_dataset`
        columns plus ``y``, ``test``, ``phi0``), ``raw``, ``physics`` (2D
        arrays), ``kind``.
    """
    section = kind.startswith("section_")
    per = settings["sections"]["per_snapshot"] if section else settings["views"]["per_snapshot"]
    raw_grid = settings["raw_grid_3d"] if view_ndim(kind) == 3 else settings["raw_grid"]
    groups = sorted(labels["group"].unique())
    gidx = {g: i for i, g in enumerate(groups)}
    def items():
        # each structure with its own cell size (runs sized by
        # simulation.cells_per_wavelength have one each): lengths and
        # densities of the features stay in b
        for path in paths:
            phi, _, meta = load_simulation(path)
            dx = float(meta["params"]["dx"])
            for i in range(phi.shape[0]):
                yield gidx[meta["sim_id"]], meta["sim_id"], i, phi[i], dx

    rows, raw, phys = view_dataset(
        items(), kind, settings["views"]["fractions"], per, seed=seed,
        kind_index=VIEW_KINDS.index(kind), spacing=1.0, level=level,
        radii=settings["radii"], raw_grid=raw_grid, connectivity=connectivity,
    )
    col = f"label_{settings['label']}"
    lab = labels.set_index(["group", "snapshot"])
    key = list(zip(rows["group"], rows["snapshot"]))
    rows["y"] = lab.loc[key, col].to_numpy().astype(int)
    rows["phi0"] = lab.loc[key, "phi0"].to_numpy()
    per_group = labels.groupby("group")["phi0"].first()
    strata = ["all" if not np.isfinite(v) else f"{v:.6g}" for v in per_group.loc[groups]]
    test_ids = simulation_split(groups, strata, settings["test_fraction"],
                                rng_for(seed, _SPLIT, source_index))
    rows["test"] = rows["group"].isin(test_ids).to_numpy()
    return {"rows": rows, "raw": raw, "physics": phys, "kind": kind}


def _batch_rounds(batch, settings):
    b = settings["bootstrap"]
    rounds = np.arange(batch * b["batch"], min((batch + 1) * b["batch"], b["rounds"]))
    if rounds.size == 0:
        raise ParameterError(f"bootstrap batch {batch} is empty for {b['rounds']} rounds")
    return rounds


def _test_targets(rows, f_values):
    """Test labels (F, n_test) and mean achieved fraction (F,) per fraction index."""
    test = rows["test"].to_numpy()
    fi = rows["f_index"].to_numpy()
    ys = [rows["y"].to_numpy()[test & (fi == f)] for f in f_values]
    fr = [rows["fraction"].to_numpy()[fi == f].mean() for f in f_values]
    return np.array(ys), np.array(fr)


def bootstrap_job(data, *, features, batch, settings, seed, source_index):
    """One bootstrap batch of every configured model at every fraction.

    Returns a dict for :func:`save_predictions`: ``pred``, ``proba``,
    ``warnings`` (see :func:`scattermorph.classify.classifiers.run_bootstrap`),
    ``rounds``, ``models``, ``fractions`` (requested), ``fraction`` (mean
    achieved), ``y_test`` (F, n_test), ``kind``, ``features``.
    """
    rows = data["rows"]
    rounds = _batch_rounds(batch, settings)
    specs = model_specs(settings["models"], settings["hyper"])
    pred, proba, warn = run_bootstrap(
        data[features], rows["y"], rows["group"], rows["f_index"], rows["test"], rounds,
        specs, seed=seed, source_index=source_index, unit=settings["bootstrap"]["unit"],
    )
    fs = np.unique(rows["f_index"])
    y_test, frac = _test_targets(rows, fs)
    return {
        "pred": pred, "proba": proba, "warnings": warn, "rounds": rounds,
        "models": np.array([s[0] for s in specs]),
        "complexity": np.full(len(specs), np.nan),
        "fractions": np.asarray(settings["views"]["fractions"], float)[fs],
        "fraction": frac, "y_test": y_test, "kind": np.array(data["kind"]),
        "features": np.array(features),
    }


def complexity_job(data, *, batch, settings, seed, source_index):
    """One bootstrap batch of the model-complexity sweep.

    k-NN with every ``complexity.knn_k`` and random forests (``hyper.forest_trees``
    trees) with every ``complexity.forest_depth`` (``None`` = fully grown),
    at ``complexity.fraction`` of ``complexity.kind`` on
    ``complexity.features``. Models get ``random_state = seed_for(seed, 5, m,
    round)``; resamples are those of :func:`bootstrap_job` (same stream).
    Returns the dict of :func:`bootstrap_job`; ``models`` are ``knn`` /
    ``random_forest`` and ``complexity`` holds k or the depth (0 = full).
    """
    cx = settings["complexity"]
    fractions = list(settings["views"]["fractions"])
    j = int(np.argmin([abs(f - cx["fraction"]) for f in fractions]))
    keep = data["rows"]["f_index"].to_numpy() == j
    rows = data["rows"][keep].reset_index(drop=True)
    X = data[cx["features"]][keep]
    specs, comp = [], []
    for k in cx["knn_k"]:
        specs.append(("knn", {"n_neighbors": int(k)}))
        comp.append(int(k))
    for d in cx["forest_depth"]:
        specs.append(("random_forest", {"max_depth": d, "n_estimators": int(settings["hyper"]["forest_trees"])}))
        comp.append(0 if d is None else int(d))
    rounds = _batch_rounds(batch, settings)
    pred, proba, warn = run_bootstrap(
        X, rows["y"], rows["group"], rows["f_index"], rows["test"], rounds, specs,
        seed=seed, source_index=source_index, unit=settings["bootstrap"]["unit"],
        model_stream=lambda m: (_SWEEP, m),
    )
    y_test, frac = _test_targets(rows, [j])
    return {
        "pred": pred, "proba": proba, "warnings": warn, "rounds": rounds,
        "models": np.array([s[0] for s in specs]), "complexity": np.array(comp, float),
        "fractions": np.array([fractions[j]]), "fraction": frac, "y_test": y_test,
        "kind": np.array(data["kind"]), "features": np.array(cx["features"]),
    }


def save_predictions(path, out) -> None:
    """Write a bootstrap batch (:func:`bootstrap_job`) to ``.npz`` atomically."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **out)

    atomic_write(path, write)


def decompose_predictions(paths, *, confidence=0.95):
    """Decompose the errors of every (kind, features, model, fraction).

    Batches of the same (kind, features) are joined along the rounds.
    Returns one row per (kind, features, model, complexity, fraction) with
    the Domingos terms (``loss``, ``bias``, ``variance``,
    ``variance_unbiased``, ``variance_biased``, ``net_variance``), Kohavi &
    Wolpert's (``kw_bias2``, ``kw_variance``), the Brier decomposition
    (``brier``, ``brier_bias``, ``brier_variance``), the class-conditional
    errors of :func:`scattermorph.classify.biasvar.class_conditional_errors`, the
    number of rounds and test points, and the mean convergence warnings.
    """
    parts = {}
    for path in paths:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        parts.setdefault((str(d["kind"]), str(d["features"])), []).append(d)
    rows = []
    for (kind, feats), ds in sorted(parts.items()):
        ds.sort(key=lambda d: int(d["rounds"][0]))
        pred = np.concatenate([d["pred"] for d in ds], axis=2)
        proba = np.concatenate([d["proba"] for d in ds], axis=2)
        warn = np.concatenate([d["warnings"] for d in ds], axis=2)
        d0 = ds[0]
        for m, name in enumerate(d0["models"]):
            for j, f in enumerate(d0["fractions"]):
                y = d0["y_test"][j].astype(int)
                dm = domingos(pred[m, j], y)
                kw = kohavi_wolpert(pred[m, j], y)
                br = brier_decomposition(proba[m, j], y)
                ce = class_conditional_errors(pred[m, j], y, confidence=confidence)
                rows.append({
                    "kind": kind, "features": feats, "model": str(name),
                    "complexity": float(d0["complexity"][m]),
                    "fraction_requested": float(f), "fraction": float(d0["fraction"][j]),
                    "rounds": pred.shape[2], "n_test": y.size,
                    **{k: dm[k] for k in ("loss", "bias", "variance", "variance_unbiased",
                                          "variance_biased", "net_variance")},
                    "kw_bias2": kw["bias2"], "kw_variance": kw["variance"],
                    "brier": br["brier"], "brier_bias": br["bias"],
                    "brier_variance": br["variance"],
                    **ce,
                    "warnings": float(warn[m, j].mean()),
                })
    return pd.DataFrame(rows)
