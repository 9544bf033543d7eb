"""The study dataset's summary page (results/<study>/dataset_summary.md): size, parameters, and the functionals and lengths over all snapshots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph._markdown import _need, _section, _source, fmt, md_table

#: Minkowski densities and lengths of the dataset, in the order shown (2D and 3D names)
DATASET_QUANTITIES = (
    "area_density",
    "volume_density",
    "perimeter_density",
    "surface_density",
    "mean_curvature_density",
    "euler_density",
    "L_first_moment",
    "L_peak",
)


def _dropped_text(dropped: pd.DataFrame) -> str:
    """'0', or the count with the simulations and times it came from."""
    if dropped.empty:
        return "0"
    per = dropped.groupby("sim_id")["time_over_tau"].min().sort_index()
    where = "; ".join(f"{s} from t/tau = {fmt(t)}" for s, t in per.items())
    return f"{len(dropped)} ({where})"


def dataset_summary(*, simulations: pd.DataFrame, dataset: pd.DataFrame, sources: dict,
                    dropped: pd.DataFrame | None = None) -> str:
    """The study dataset in numbers.

    Parameters
    ----------
    simulations : DataFrame, one row per simulation
        ``simulations.csv``: columns ``sim_id``, ``phi0``, ``quench``,
        ``replicate``, ``steps`` (``grid``, ``dx`` if present).
    dataset : DataFrame, one row per snapshot
        ``dataset.csv``: ``sim_id``, ``time_over_tau``, ``dimension`` and the
        Minkowski densities (``area_density`` ... in 2D, ``volume_density``
        ... in 3D, units length^-p of the simulation, b) and lengths.
    sources : dict
        ``{"simulations": path, "dataset": path[, "dropped": path]}`` as shown
        on the page.
    dropped : DataFrame, optional
        ``dataset_dropped.csv``: the snapshots left out because their
        characteristic length exceeds the allowed fraction of the box
        (columns ``sim_id``, ``snapshot``, ``time_over_tau``, ``L_over_box``).

    Returns
    -------
    str
        Markdown: counts and parameter ranges (with the dropped snapshots);
        min / median / max of every functional present.
    """
    _need(simulations, ["sim_id", "phi0", "quench", "replicate", "steps"], sources["simulations"])
    _need(dataset, ["sim_id", "time_over_tau"], sources["dataset"])
    sims = simulations.sort_values("sim_id")
    n_sims = len(sims)
    dims = sorted(set(dataset["dimension"])) if "dimension" in dataset else []
    per_sim = dataset.groupby("sim_id").size()
    rows = [
        ("simulations", n_sims),
        ("snapshots (dataset rows)", len(dataset)),
        ("snapshots per simulation", fmt(per_sim.min()) if per_sim.min() == per_sim.max()
         else f"{fmt(per_sim.min())}-{fmt(per_sim.max())}"),
        ("compositions phi0", ", ".join(fmt(v) for v in sorted(set(sims["phi0"])))),
        ("quench depths chi / chi_s", ", ".join(fmt(v) for v in sorted(set(sims["quench"])))),
        ("replicates per point", int(sims.groupby(["phi0", "quench"]).size().max())),
        ("snapshot times t / tau", f"{fmt(dataset['time_over_tau'].min())}-{fmt(dataset['time_over_tau'].max())}"),
        ("time steps per simulation (min / median / max)",
         " / ".join(fmt(float(v), ".6g") for v in (sims["steps"].min(), sims["steps"].median(), sims["steps"].max()))),
    ]
    if dropped is not None:
        rows.insert(2, ("snapshots dropped (L_first_moment > max_length_fraction x box)",
                        _dropped_text(dropped)))
    if "L_first_moment" in dataset and {"grid", "dx"} <= set(dataset.columns):
        ratio = dataset["L_first_moment"] / (dataset["grid"] * dataset["dx"])
        rows.append(("largest L_first_moment / box of the kept snapshots", fmt(float(ratio.max()))))
    if dims:
        rows.insert(2, ("dimension", ", ".join(str(int(d)) for d in dims)))
    if "grid" in sims:
        rows.insert(3, ("grid", ", ".join(sorted(set(map(str, sims["grid"]))))))
    lines = ["# The study dataset: summary"]
    lines += _section("Size and parameters", md_table(["quantity", "value"], rows),
                      _source(sources["simulations"], sources["dataset"],
                              *([sources["dropped"]] if "dropped" in sources else [])))
    qrows = []
    for q in DATASET_QUANTITIES:
        if q in dataset:
            v = dataset[q].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                qrows.append((q, v.min(), np.median(v), v.max()))
    lines += _section("Minkowski functionals and lengths over all snapshots",
                      md_table(["quantity", "min", "median", "max"], qrows), _source(sources["dataset"]),
                      note="Densities per unit area (2D) or volume (3D) in units of b^-p; lengths in b.")
    return "\n".join(lines) + "\n"
