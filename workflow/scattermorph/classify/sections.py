"""The 3D structures that the section views are cut from.

:func:`section_structures` lists them (3D Cahn-Hilliard-Cook runs of their
own, Gaussian random fields, or the study's own 3D runs);
:func:`grf_structures` makes the level cuts of one Gaussian random field.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from scattermorph.classify.classifiers import _CHC3D, _GRF3D, rng_for, seed_for
from scattermorph.errors import ParameterError
from scattermorph.measure.reference import gaussian_random_field
from scattermorph.sim.sweep import check_physics

__all__ = ["section_structures", "grf_structures"]


def section_structures(config):
    """Table of the 3D structures of the section views (one row each).

    ``source: chc``: 3D Cahn-Hilliard-Cook runs of the study's model at
    ``sections.phi0`` x ``replicates``, one quench, ``sections.grid`` cells,
    snapshots from ``t_min`` to ``t_max`` tau; their records come from
    :func:`scattermorph.sim.sweep.simulation_table` of a derived configuration
    whose seed is ``seed_for(study.seed, 6)`` (streams disjoint from the
    study's). ``source: grf``: one Gaussian random field per replicate, its
    "snapshots" being level cuts at ``grf.levels``. ``source: study``: the
    study's own (3D) simulations.

    Returns
    -------
    pandas.DataFrame
        Columns ``struct_id``, ``index``, ``phi0``, ``source`` and, for chc
        and study, the simulation record columns (checked by
        :func:`scattermorph.sim.sweep.check_physics`).
    """
    c = config["classification"]["sections"]
    src = c["source"]
    if src == "study":
        table = check_physics(config).copy()
    elif src == "chc":
        # only the sections the simulations need (other stages' checks, e.g.
        # the learning stage's split of the 2D sweep, do not apply here)
        cfg = copy.deepcopy({k: config[k] for k in ("study", "simulation", "measurement")})
        cfg["study"]["dimension"] = 3
        cfg["study"]["seed"] = seed_for(config["study"]["seed"], _CHC3D)
        sim = cfg["simulation"]
        sim["grid"] = int(c["grid"])
        sim["dx"] = float(c["dx"])
        sim["cells_per_wavelength"] = None
        sim["sweep"] = {"phi0": list(c["phi0"]), "quench": [float(c["quench"])],
                        "replicates": int(c["replicates"])}
        sim["time"].update(t_min=c["t_min"], t_max=c["t_max"], n_snapshots=int(c["n_snapshots"]))
        try:
            table = check_physics(cfg).copy()
        except ParameterError as exc:
            raise ParameterError(f"classification.sections: {exc}") from None
    else:
        rows = [
            {"sim_id": f"grf_r{r}", "phi0": float("nan"), "sim_index": r}
            for r in range(int(c["replicates"]))
        ]
        table = pd.DataFrame(rows)
    table = table.rename(columns={"sim_id": "struct_id"})
    if src == "chc":
        table["struct_id"] = "s3_" + table["struct_id"]
    table["index"] = np.arange(len(table))
    table["source"] = src
    return table


def grf_structures(section_cfg, seed, index):
    """Level cuts of one 3D Gaussian random field (the grf stand-in).

    Returns a (L, n, n, n) float32 stack ``f - u_l`` (so the structure is
    ``> 0``; the composition field of a level cut), one per level ``u_l``
    of ``grf.levels``, and a metadata dict. The field comes from
    :func:`scattermorph.measure.reference.gaussian_random_field` (peaked spectrum),
    drawn from ``SeedSequence([seed, STAGE, 7, index])``.
    """
    g = section_cfg["grf"]
    n = int(section_cfg["grid"])
    field = gaussian_random_field(
        (n, n, n), float(section_cfg["dx"]), spectrum="peaked",
        rng=rng_for(seed, _GRF3D, index), k0=float(g["k0"]), width=float(g["width"]),
    )
    stack = np.stack([(field - u).astype(np.float32) for u in g["levels"]])
    meta = {
        "sim_id": f"grf_r{index}",
        "params": {"source": "grf", "shape": [n, n, n], "dx": float(section_cfg["dx"]),
                   "k0": float(g["k0"]), "width": float(g["width"]), "seed": int(seed),
                   "index": int(index)},
        "levels": [float(u) for u in g["levels"]],
        "times": [float(u) for u in g["levels"]],
    }
    return stack, meta
