"""Cross-simulator test sets: structures the shipped model never trained on.

The shipped model (:func:`scattermorph.predict.modelfile.load_shipped_model`)
is trained on one simulator: the Flory-Huggins-de Gennes blend, the
semi-implicit spectral scheme, one Cook noise amplitude, N = 100, two quench
depths and snapshots between 5 and 60 tau. Each set here changes one of
those, or leaves simulations altogether:

- ``landau``: the dimensionless phi^4 free energy (:class:`~scattermorph.sim.free_energy.Landau`);
- ``explicit``: the forward-Euler finite-difference scheme
  (:class:`~scattermorph.sim.steppers.ExplicitEuler`) with its own noise
  discretisation, at a step just under its stability limit;
- ``fh_n1000``, ``fh_noise``, ``fh_deep``: the blend at N = 1000, at ten times
  the Cook noise, and at chi/chi_s = 2.0;
- ``early``, ``late``: the blend before 5 tau and after 60 tau;
- ``grf``: level cuts of a Gaussian random field with a spectral shell
  (:func:`~scattermorph.measure.reference.gaussian_random_field`);
- ``boolean``: Boolean models of overlapping balls
  (:func:`~scattermorph.measure.reference.boolean_model`).

Every structure is measured as the study measures its snapshots
(:func:`scattermorph.measure.snapshots.measure_field`): the four Minkowski
densities of the binarised field (the truths) and S(q) of the field (the
curve). Lengths are in cells (``dx = 1``): the scale-free model reads the
curve's shape in q/q1 only, so one q grid in 1/cell serves every set, and the
runs keep the study's cells per fastest-growing wavelength. The Gaussian
fields' shell sits at the same 8 cells per wavelength, and the balls' diameter
near that length, so every structure is resolved as the study's are.
"""

from __future__ import annotations

import copy
import itertools
import math
import zlib

import numpy as np
import pandas as pd

from scattermorph import seeds
from scattermorph.errors import ParameterError
from scattermorph.measure.reference import (
    boolean_model,
    gaussian_random_field,
    grf_excursion_expected,
    grf_moments,
    level_cut,
)
from scattermorph.measure.scattering import q_grid
from scattermorph.measure.snapshots import measure_field
from scattermorph.sim.free_energy import model_class
from scattermorph.sim.run import run_simulation
from scattermorph.sim.spec import RunSpec
from scattermorph.sim.steppers import explicit_dt_limit
from scattermorph.sim.sweep import run_cell_size, simulation_table

__all__ = ["DEFAULT_TRANSFER", "KINDS", "Q_RANGE_CELLS", "transfer_settings", "set_names", "set_runs",
           "check_sets",
           "run_set", "measure_structures", "grf_structures", "boolean_structures"]

#: kinds of test set: runs of the Cahn-Hilliard-Cook solver, Gaussian-field
#: level cuts, Boolean models of balls
KINDS = ("simulation", "grf", "boolean")

#: q range of every set's curves, 1/cell: from below the smallest wavenumber of
#: a 64-cell box (2 pi / 64 = 0.098) to the Nyquist wavenumber pi; the study's
#: grid (0.015-0.85 1/b over cells of 3.7-6.8 b) spans 0.055-5.8 1/cell
Q_RANGE_CELLS = (0.05, math.pi)

#: the default ``transfer`` section: each simulation set overrides keys of a
#: row of the study's simulation table (``phi0`` and ``quench`` are lists, the
#: runs are their product times ``replicates``). 48^3 cells of lambda_m / 8
#: hold 6 fastest-growing wavelengths: the first-moment length stays under a
#: quarter of the box to 30 tau (0.24 of it at 30 tau, measured). A smaller
#: box changes the curves themselves (fewer modes per q bin): on 40^3 the
#: study's own simulator had 65 % of its curves inside the model's domain
#: against 94 % on 48^3 (measured), so ``control`` (the study's simulator on
#: the sets' box and seeds) separates the box's effect from the simulator's,
#: and ``explicit_control`` does the same for the forward-Euler runs, which
#: need a small box, coarser cells and short times to stay cheap: their
#: stable step scales as dx^4, ~1/2000 tau at 8 cells per wavelength and
#: (8/6)^4 = 3.2 times longer at 6 (32^3 cells then hold 5.3 wavelengths).
#: The Gaussian fields are cut at levels u >= 0 only: the foreground {f > u}
#: is then the minority phase, as the blend's phase richer in its minority
#: species is in the training set; scattering is blind to which phase is
#: which (Babinet), so a majority foreground would test that convention, not
#: the transfer.
DEFAULT_TRANSFER = {
    "grid": 48,
    "cells_per_wavelength": 8,
    "replicates": 1,
    "n_bins": 128,
    "t_min": 5.0,
    "t_max": 30.0,
    "n_snapshots": 4,
    "sets": {
        "control": {"kind": "simulation", "phi0": [0.3, 0.5], "quench": [1.15, 1.5]},
        "landau": {"kind": "simulation", "model": "landau", "phi0": [0.3, 0.4, 0.5], "replicates": 2,
                   "t_max": 25.0},
        "explicit": {"kind": "simulation", "scheme": "explicit", "laplacian": "fd", "grid": 32,
                     "cells_per_wavelength": 6, "phi0": [0.3, 0.5], "quench": [1.5], "t_min": 5.0, "t_max": 8.0,
                     "n_snapshots": 3},
        "explicit_control": {"kind": "simulation", "grid": 32, "cells_per_wavelength": 6, "phi0": [0.3, 0.5],
                             "quench": [1.5], "t_min": 5.0, "t_max": 8.0, "n_snapshots": 3},
        "fh_n1000": {"kind": "simulation", "N": 1000.0, "phi0": [0.3, 0.5], "quench": [1.15, 1.5]},
        "fh_noise": {"kind": "simulation", "noise": 1.0e-3, "phi0": [0.3, 0.5], "quench": [1.15, 1.5]},
        "fh_deep": {"kind": "simulation", "phi0": [0.3, 0.4, 0.5], "quench": [2.0]},
        "early": {"kind": "simulation", "phi0": [0.3, 0.5], "quench": [1.15, 1.5], "t_min": 1.5, "t_max": 4.0,
                  "n_snapshots": 3},
        "late": {"kind": "simulation", "grid": 64, "phi0": [0.5], "quench": [1.5], "t_min": 60.0,
                 "t_max": 100.0, "n_snapshots": 3},
        "grf": {"kind": "grf", "levels": [0.0, 0.25, 0.5, 0.75, 1.0], "width": 0.25, "realisations": 3},
        "boolean": {"kind": "boolean", "volume_fractions": [0.2, 0.3, 0.4, 0.5], "radius": 3.0,
                    "realisations": 3},
    },
}

#: forward Euler runs at this fraction of its stability limit
EXPLICIT_DT_FRACTION = 0.8


def transfer_settings(config: dict) -> dict:
    """The config's ``transfer`` section, :data:`DEFAULT_TRANSFER` where absent."""
    section = copy.deepcopy(DEFAULT_TRANSFER)
    given = config.get("transfer") or {}
    for key, value in given.items():
        if key != "sets":
            section[key] = value
    if "sets" in given:
        section["sets"] = copy.deepcopy(given["sets"])
    for name, spec in section["sets"].items():
        if spec.get("kind") not in KINDS:
            raise ParameterError(f"transfer.sets.{name}.kind={spec.get('kind')!r}: choose one of {list(KINDS)}")
    return section


def set_names(config: dict) -> list[str]:
    """Names of the test sets, in the config's order."""
    return list(transfer_settings(config)["sets"])


def _set_spec(config: dict, name: str) -> tuple[dict, dict]:
    section = transfer_settings(config)
    if name not in section["sets"]:
        raise ParameterError(f"transfer set {name!r} is not configured: choose one of {list(section['sets'])}")
    return section, section["sets"][name]


def _set_seed(config: dict, name: str) -> int:
    """The set's own seed: ``SeedSequence([study seed, TRANSFER, crc32(name)])``.

    Keyed by the set's name, not its position: the workflow hands the section
    to its jobs with sorted keys, and adding or reordering sets must not
    change the other sets' draws.
    """
    key = zlib.crc32(name.encode())
    return int(seeds.sequence(int(config["study"]["seed"]), seeds.TRANSFER, key).generate_state(1)[0])


def set_runs(config: dict, name: str) -> pd.DataFrame:
    """The simulation records of one simulation set.

    Each row is the study's first simulation record
    (:func:`scattermorph.sim.sweep.simulation_table`) with the set's changes:
    its model, N, noise, scheme and times, its own grid, the cell
    ``lambda_m / cells_per_wavelength`` of each run's own free energy, and the
    set's seed (:func:`_set_seed`). Forward-Euler runs step at
    :data:`EXPLICIT_DT_FRACTION` of their stability limit.

    Returns
    -------
    DataFrame
        One row per run, the columns of the simulation table; every row makes
        a valid :class:`~scattermorph.sim.spec.RunSpec`.
    """
    section, spec = _set_spec(config, name)
    if spec["kind"] != "simulation":
        raise ParameterError(f"transfer set {name!r} is a {spec['kind']} set, not simulations")
    base = simulation_table(config).iloc[0].to_dict()
    sim = dict(config["simulation"], **{k: spec[k] for k in ("model", "N") if k in spec})
    model = spec.get("model", base["model"])
    quenches = spec.get("quench", [1.5]) if model_class(model).has_quench else [float("nan")]
    grid = int(spec.get("grid", section["grid"]))
    sizing = {"dx": None, "cells_per_wavelength": spec.get("cells_per_wavelength", section["cells_per_wavelength"])}
    rows = []
    points = itertools.product(spec["phi0"], quenches, range(int(spec.get("replicates", section["replicates"]))))
    for k, (phi0, quench, rep) in enumerate(points):
        row = dict(base)
        row.update(sim_id=f"{name}_p{phi0:.3f}_q{quench:.2f}_r{rep}", sim_index=k, seed=_set_seed(config, name),
                   replicate=rep, model=model, N=float(spec.get("N", base["N"])), quench=float(quench),
                   phi0=float(phi0), noise=float(spec.get("noise", base["noise"])), shape=(grid,) * 3,
                   dx=run_cell_size(sizing, sim, phi0, quench, key=f"transfer.sets.{name}"),
                   scheme=spec.get("scheme", base["scheme"]), laplacian=spec.get("laplacian", base["laplacian"]),
                   t_min=float(spec.get("t_min", section["t_min"])), t_max=float(spec.get("t_max", section["t_max"])),
                   n_snapshots=int(spec.get("n_snapshots", section["n_snapshots"])))
        if row["scheme"] == "explicit":
            row["dt"] = _explicit_dt(row)
        rows.append(row)
    return pd.DataFrame(rows)


def check_sets(config: dict) -> list[str]:
    """Make the record of every run of every simulation set (the parse-time check).

    Returns
    -------
    list of str
        The set names.

    Raises
    ------
    ParameterError
        Naming the set and the first bad value (e.g. a composition outside the
        spinodal, or a step the explicit scheme cannot take).
    """
    section = transfer_settings(config)
    for name, spec in section["sets"].items():
        if spec["kind"] != "simulation":
            continue
        for row in set_runs(config, name).to_dict("records"):
            try:
                RunSpec.from_row(row)
            except ParameterError as exc:
                raise ParameterError(f"transfer.sets.{name}: {exc}") from None
    return list(section["sets"])


def _explicit_dt(row: dict) -> float:
    """The forward-Euler step of a record, in its time unit: a fraction of the stability limit."""
    probe = RunSpec.from_row({**row, "scheme": "semi_implicit"})
    limit = explicit_dt_limit(probe.free_energy(), probe.grid()) / probe.unit_time()
    return float(EXPLICIT_DT_FRACTION * limit)


def _q_edges(n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    return q_grid(Q_RANGE_CELLS[0], Q_RANGE_CELLS[1], int(n_bins), "log")


def measure_structures(fields, *, level, n_bins: int, ids: list[dict]):
    """Minkowski densities and S(q) of structures, in cell units.

    Parameters
    ----------
    fields : iterable of (n, n, n) ndarray
        Composition fields, or 0/1 indicator fields.
    level : {"mean", "equal_volume"} or float
        Binarisation threshold (:func:`scattermorph.measure.minkowski.threshold`).
    n_bins : int
        Log-spaced q bins over :data:`Q_RANGE_CELLS`.
    ids : list of dict
        Columns that identify each structure (one dict per field).

    Returns
    -------
    table : DataFrame
        ``ids`` and the columns of :func:`~scattermorph.measure.snapshots.measure_field`
        (densities in cell^-p), plus ``grid`` and ``L_over_box``.
    q : (B,) ndarray
        Bin centres, 1/cell.
    s_q : (rows, B) ndarray
        S(q), NaN in empty bins.
    """
    edges, centres = _q_edges(n_bins)
    rows, curves = [], []
    for field, ident in zip(fields, ids, strict=True):
        row, s_q, _ = measure_field(field, 1.0, q_edges=edges, q_centres=centres, level=level, periodic=True)
        n = field.shape[0]
        rows.append({**ident, **row, "grid": n, "L_over_box": row["L_first_moment"] / n})
        curves.append(s_q)
    return pd.DataFrame(rows), centres, np.asarray(curves)


def _simulate_and_measure(config: dict, name: str, section: dict, log=None):
    runs = set_runs(config, name)
    tables, curves, q = [], [], None
    for row in runs.to_dict("records"):
        spec = RunSpec.from_row(row)
        snaps, meta = run_simulation(spec)
        times = np.asarray(meta["times"]) / spec.unit_time()
        ids = [{"structure": f"{spec.sim_id}_s{i}", "sim_id": spec.sim_id, "model": spec.model,
                "scheme": spec.scheme, "N": spec.N, "noise": spec.noise, "phi0": spec.phi0,
                "quench": spec.quench, "time_over_tau": float(t), "dx_b": spec.dx}
               for i, t in enumerate(times)]
        table, q, s_q = measure_structures(snaps, level="mean", n_bins=section["n_bins"], ids=ids)
        tables.append(table)
        curves.append(s_q)
        if log is not None:
            log(f"{spec.sim_id}: {len(times)} snapshots, {meta['steps'][-1]} steps, {meta['wall_seconds']:.1f} s")
    return pd.concat(tables, ignore_index=True), q, np.concatenate(curves)


def grf_structures(grid: int, cells_per_wavelength: float, *, levels, width: float, realisations: int, rng):
    """Level cuts of Gaussian random fields with a spectral shell, as 0/1 fields.

    Parameters
    ----------
    grid : int
        Cells per side of the periodic cube.
    cells_per_wavelength : float
        The shell's wavelength ``2 pi / k0`` in cells.
    levels : list of float
        Cut levels in standard deviations (volume fraction ``Phi_bar(u)``).
    width : float
        Width of the shell over ``k0``.
    realisations : int
        Independent fields; each is cut at every level.
    rng : numpy.random.Generator

    Returns
    -------
    fields : list of (grid, grid, grid) ndarray of float
    ids : list of dict
        ``structure``, ``level``, ``realisation`` and the closed-form
        densities (:func:`~scattermorph.measure.reference.grf_excursion_expected`)
        as ``expected_<name>``.
    """
    k0 = 2 * math.pi / float(cells_per_wavelength)
    shape = (int(grid),) * 3
    params = {"k0": k0, "width": float(width) * k0}
    lambda2 = grf_moments(shape, 1.0, "peaked", **params)["lambda2"]
    fields, ids = [], []
    for r in range(int(realisations)):
        field = gaussian_random_field(shape, 1.0, spectrum="peaked", rng=rng, **params)
        for u in levels:
            fields.append(level_cut(field, float(u)).astype(float))
            expected = grf_excursion_expected(3, float(u), lambda2)
            ids.append({"structure": f"grf_u{u:+.2f}_r{r}", "level": float(u), "realisation": r,
                        **{f"expected_{k}": v for k, v in expected.items()}})
    return fields, ids


def boolean_structures(grid: int, *, volume_fractions, radius: float, realisations: int, rng):
    """Boolean models of balls of one radius at given volume fractions, as 0/1 fields.

    The germ intensity of volume fraction ``f`` is ``-ln(1 - f) / (4/3 pi r^3)``
    (Poisson void probability).

    Returns
    -------
    fields : list of (grid, grid, grid) ndarray of float
    ids : list of dict
        ``structure``, ``target_fraction``, ``realisation``, ``radius`` (cells).
    """
    shape = (int(grid),) * 3
    fields, ids = [], []
    for f in volume_fractions:
        intensity = -math.log(1 - float(f)) / (4 / 3 * math.pi * float(radius) ** 3)
        for r in range(int(realisations)):
            fields.append(boolean_model(shape, 1.0, intensity=intensity, radius=float(radius), rng=rng).astype(float))
            ids.append({"structure": f"boolean_f{f:.2f}_r{r}", "target_fraction": float(f), "realisation": r,
                        "radius": float(radius)})
    return fields, ids


def run_set(config: dict, name: str, *, log=None):
    """Make and measure every structure of one test set.

    Parameters
    ----------
    config : dict
        The study config (``study.seed``, ``simulation``, optional ``transfer``).
    name : str
        A set of :func:`set_names`.
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    table : DataFrame
        One row per structure: ``set``, ``kind``, identifiers, the Minkowski
        densities (cell^-p) and the scattering estimators of
        :func:`~scattermorph.measure.snapshots.measure_field`.
    q : (B,) ndarray
        Bin centres (1/cell).
    s_q : (rows, B) ndarray
    """
    section, spec = _set_spec(config, name)
    if spec["kind"] == "simulation":
        table, q, s_q = _simulate_and_measure(config, name, section, log)
    else:
        rng = np.random.default_rng(_set_seed(config, name))
        grid = int(spec.get("grid", section["grid"]))
        if spec["kind"] == "grf":
            fields, ids = grf_structures(grid, section["cells_per_wavelength"], levels=spec["levels"],
                                         width=spec["width"], realisations=spec["realisations"], rng=rng)
        else:
            fields, ids = boolean_structures(grid, volume_fractions=spec["volume_fractions"], radius=spec["radius"],
                                             realisations=spec["realisations"], rng=rng)
        table, q, s_q = measure_structures(fields, level=0.5, n_bins=section["n_bins"], ids=ids)
    table.insert(0, "kind", spec["kind"])
    table.insert(0, "set", name)
    return table, q, s_q
