"""The study's simulation table and the physical checks of its configuration.

The config's ``simulation`` section describes a sweep; :func:`simulation_table`
expands it into one row per simulation, each row a complete record of a run
(:class:`scattermorph.sim.spec.RunSpec`, :func:`run_spec`).
:func:`check_physics` makes the record of every run of the sweep (and of the
calibration runs) before any job runs and raises
:class:`~scattermorph.errors.ParameterError` naming the first bad value. The
other stages' parse-time checks are in their own packages;
:func:`scattermorph.plan.plan` runs them all.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from scattermorph.config import setting
from scattermorph.errors import ParameterError
from scattermorph.measure.snapshots import snapshot_ids
from scattermorph.seeds import CALIBRATION
from scattermorph.seeds import sequence as seed_sequence
from scattermorph.sim.free_energy import model_class, run_free_energy
from scattermorph.sim.spec import RunSpec

__all__ = [
    "simulation_table",
    "calibration_table",
    "run_cell_size",
    "run_spec",
    "check_physics",
    "check_runs",
    "snapshot_table",
    "simulation_summary",
]


def _sim_id(model: str, phi0: float, quench: float, rep: int) -> str:
    cls = model_class(model)
    q = f"_q{quench:.2f}" if cls.has_quench else ""
    return f"{cls.tag}_p{phi0:.3f}{q}_r{rep}"


def simulation_table(config: dict) -> pd.DataFrame:
    """One row per simulation of the sweep in ``config["simulation"]``.

    Columns: ``sim_id``, ``sim_index`` (position in the sweep, used with the
    study seed to derive the simulation's random streams), ``seed`` and every
    parameter of the record. Rows are ordered by (phi0, quench, replicate), so
    the table, and hence every seed, does not depend on job scheduling.
    """
    sim = config["simulation"]
    seed = int(config["study"]["seed"])
    sweep = sim["sweep"]
    dim = int(config["study"]["dimension"])
    shape = (int(sim["grid"]),) * dim
    t = sim["time"]
    tol = setting(config, "simulation", "time", "tolerance")
    quenches = sweep["quench"] if model_class(sim["model"]).has_quench else [float("nan")]
    rows = []
    for idx, (phi0, q, rep) in enumerate(
        itertools.product(sweep["phi0"], quenches, range(int(sweep["replicates"])))
    ):
        rows.append(
            {
                "sim_id": _sim_id(sim["model"], phi0, q, rep),
                "sim_index": idx,
                "seed": seed,
                "replicate": rep,
                "model": sim["model"],
                "N": float(sim["N"]),
                "quench": float(q),
                "phi0": float(phi0),
                "gradient": sim["gradient"],
                "kappa": float(sim["landau_kappa"]),
                "noise": float(sim["noise"]),
                "shape": shape,
                "dx": run_cell_size(sim, sim, phi0, q),
                "scheme": sim["scheme"],
                "laplacian": sim["laplacian"],
                "stabilization": float(sim["stabilization"]),
                "stabilizer": setting(config, "simulation", "stabilizer"),
                "init_amplitude": float(sim["init_amplitude"]),
                "time_unit": t["unit"],
                "t_min": float(t["t_min"]),
                "t_max": float(t["t_max"]),
                "n_snapshots": int(t["n_snapshots"]),
                "dt": float(t["dt"]),
                "accuracy": float(t["accuracy"]),
                "dt_max": float(t["dt_max"]),
                # only when set: the records of the default study are unchanged
                **({"tolerance": float(tol)} if tol is not None else {}),
            }
        )
    table = pd.DataFrame(rows)
    dup = table["sim_id"][table["sim_id"].duplicated()]
    if len(dup):
        raise ParameterError(
            f"simulation.sweep lists a value twice (duplicate runs {sorted(set(dup))}); "
            "remove the repeated phi0/quench entry"
        )
    return table


def calibration_table(config: dict) -> pd.DataFrame:
    """Simulations drawn from the inference prior, for simulation-based calibration.

    ``inference.calibration_runs`` runs (none without that key) with phi0 and
    chi/chi_s drawn uniformly over the sweep's ranges (the prior of
    :mod:`scattermorph.infer.posterior`) and their snapshot times shifted at random
    on the sweep's log grid: the sweep's snapshots lie at
    ``log t_min + j D`` (j = 0 .. n-1, D the log spacing); a calibration run's
    n-1 snapshots lie at ``log t_min + (j + u) D`` (j = 0 .. n-2) with
    u ~ U(0, 1) drawn per run, so its times are uniform over the sweep's
    log-time range. Truths drawn from the prior are what the uniformity of
    SBC ranks requires (Talts et al., arXiv:1804.06788); the sweep's own
    points sit on the prior's edges, where ranks pile up by construction.

    Returns
    -------
    DataFrame
        Rows as :func:`simulation_table` (``replicate`` 0, ``sim_index`` the
        run's position, ``seed`` from the stream
        :data:`scattermorph.seeds.CALIBRATION`), ids
        ``<model>_cal<k>_p<phi0>[_q<quench>]``; empty without calibration runs.
    """
    n_runs = int((config.get("inference") or {}).get("calibration_runs", 0) or 0)
    if n_runs == 0:
        return simulation_table(config).iloc[0:0]
    sim = config["simulation"]
    t = sim["time"]
    n = int(t["n_snapshots"])
    if n < 3:
        raise ParameterError(
            f"inference.calibration_runs={n_runs} needs simulation.time.n_snapshots >= 3 "
            f"(a calibration run has n_snapshots - 1 shifted snapshots), got {n}")
    base = simulation_table(config).iloc[0].to_dict()
    seed_ss, draw_ss = seed_sequence(config["study"]["seed"], CALIBRATION).spawn(2)
    rng = np.random.default_rng(draw_ss)
    phi_lo, phi_hi = min(sim["sweep"]["phi0"]), max(sim["sweep"]["phi0"])
    cls = model_class(sim["model"])
    fh = cls.has_quench
    q_lo, q_hi = (min(sim["sweep"]["quench"]), max(sim["sweep"]["quench"])) if fh else (np.nan, np.nan)
    step = np.log(t["t_max"] / t["t_min"]) / (n - 1)
    seed = int(seed_ss.generate_state(1)[0])
    rows = []
    for k in range(n_runs):
        phi0, u = rng.uniform(phi_lo, phi_hi), rng.uniform()
        quench = rng.uniform(q_lo, q_hi) if fh else float("nan")
        qtag = f"_q{quench:.3f}" if fh else ""
        rec = dict(base)
        rec.update(sim_id=f"{cls.tag}_cal{k:03d}_p{phi0:.4f}{qtag}", sim_index=k, seed=seed, replicate=0,
                   phi0=float(phi0), quench=float(quench), dx=run_cell_size(sim, sim, phi0, quench),
                   t_min=float(t["t_min"] * np.exp(u * step)),
                   t_max=float(t["t_min"] * np.exp((n - 2 + u) * step)), n_snapshots=n - 1)
        rows.append(rec)
    return pd.DataFrame(rows)


def run_cell_size(section: dict, sim: dict, phi0, quench, *, key: str = "simulation") -> float:
    """Cell size (b) of one run: ``section["dx"]``, or the run's fastest-growing
    wavelength over ``section["cells_per_wavelength"]``.

    With ``cells_per_wavelength`` the cell is ``lambda_m / cells_per_wavelength``
    (``lambda_m`` the fastest-growing wavelength of the linear theory, Cahn
    1965), so a grid of ``n`` cells holds ``n / cells_per_wavelength``
    wavelengths whatever the quench: a shallow quench (chi / chi_s = 1.15,
    lambda_m = 54 b at N = 100) and a deeper one (1.5, 30 b) are resolved
    alike at the same cost.

    Parameters
    ----------
    section : dict
        The config section that sizes the run (``simulation`` or
        ``emulator``): ``dx`` and ``cells_per_wavelength``, exactly one set.
    sim : dict
        The ``simulation`` section (the run's model: ``model``, ``N``,
        ``gradient``, ``landau_kappa``).
    phi0, quench : float
        The run's composition and quench depth.
    key : str
        The section's name in messages.

    Returns
    -------
    float
        Cell size in b.
    """
    dx, cpw = section.get("dx"), section.get("cells_per_wavelength")
    if dx is not None and cpw is not None:
        raise ParameterError(
            f"{key}.dx={dx} and {key}.cells_per_wavelength={cpw} are both set: give exactly "
            "one (the cell size, or the cells per fastest-growing wavelength) and set the "
            "other to null"
        )
    if cpw is None:
        if dx is None:
            raise ParameterError(
                f"{key}.dx and {key}.cells_per_wavelength are both null: give exactly one"
            )
        return float(dx)
    try:
        model = run_free_energy(sim["model"], phi0=float(phi0), N=float(sim["N"]),
                                quench=float(quench), gradient=sim["gradient"],
                                kappa=float(sim["landau_kappa"]))
    except ParameterError as exc:
        raise ParameterError(f"{key} run at phi0={phi0}, quench={quench}: {exc}") from None
    return float(model.length_scale) / float(cpw)


def run_spec(table: pd.DataFrame, sim_id: str) -> RunSpec:
    """The record of one simulation of a table (:func:`simulation_table`,
    :func:`calibration_table`)."""
    row = table.loc[table["sim_id"] == sim_id]
    if len(row) != 1:
        raise ParameterError(f"sim_id={sim_id!r} is not in the simulation table")
    return RunSpec.from_row(row.iloc[0].to_dict())


def check_physics(config: dict) -> pd.DataFrame:
    """Make the record of every run of the sweep and of the calibration runs
    (:func:`calibration_table`) and check it can run; return the sweep's table.

    Raises
    ------
    ParameterError
        As :func:`check_runs`.
    """
    table = simulation_table(config)
    check_runs(config, table, calibration_table(config))
    return table


def check_runs(config: dict, table: pd.DataFrame, calibration: pd.DataFrame) -> None:
    """Check the ``simulation`` section and every run of the two tables.

    Raises
    ------
    ParameterError
        For an empty snapshot window, or the first simulation whose record
        :class:`~scattermorph.sim.spec.RunSpec` refuses (outside the
        spinodal; a step too large: the explicit stability limit, or the
        semi-implicit bounds ``dt <= 0.04 tau`` and ``dt_max <= tau``;
        ``dt_max < dt``) or whose box holds fewer than four fastest-growing
        wavelengths (:meth:`~scattermorph.sim.spec.RunSpec.check_box`). The
        message names the config key, the value and the allowed range.
    """
    t = config["simulation"]["time"]
    if not t["t_max"] > t["t_min"]:
        raise ParameterError(
            f"simulation.time.t_max={t['t_max']} must exceed t_min={t['t_min']}"
        )
    for row in pd.concat([table, calibration]).to_dict("records"):
        try:
            spec = RunSpec.from_row(row)
        except ParameterError as exc:
            raise ParameterError(f"simulation.sweep ({row['sim_id']}): {exc}") from None
        spec.check_box()


def snapshot_table(metas: list[dict]) -> pd.DataFrame:
    """Tidy index with one row per snapshot from simulation metadata records.

    Columns: those of :func:`snapshot_ids` and the per-snapshot measurements
    recorded by the run (``characteristic_length`` in b, ``phi_mean``,
    ``phi_min``, ``phi_max``).
    """
    rows = []
    for meta in metas:
        summ = meta["snapshot_summary"]
        for i in range(len(meta["times"])):
            rows.append(
                {
                    **snapshot_ids(meta, i),
                    "characteristic_length": summ["characteristic_length"][i],
                    "phi_mean": summ["phi_mean"][i],
                    "phi_min": summ["phi_min"][i],
                    "phi_max": summ["phi_max"][i],
                }
            )
    return pd.DataFrame(rows)


def simulation_summary(metas: list[dict]) -> pd.DataFrame:
    """One row per simulation: parameters, derived scales, cost.

    Columns include ``chi``, ``chi_s``, ``tau`` (linear growth time),
    ``lambda_fastest`` (fastest-growing wavelength, b), ``phi_minus`` /
    ``phi_plus`` (binodal), ``steps`` (total), ``wall_seconds``.
    """
    rows = []
    for meta in metas:
        p, m, d = meta["params"], meta["model"], meta["derived"]
        rows.append(
            {
                "sim_id": meta["sim_id"],
                "model": p["model"],
                "phi0": p["phi0"],
                "quench": p["quench"] if model_class(p["model"]).has_quench else np.nan,
                "chi": m.get("chi", np.nan),
                "chi_s": m.get("chi_s", np.nan),
                "N": m.get("N", np.nan),
                "gradient": m.get("gradient"),
                "replicate": p["replicate"],
                "seed": p["seed"],
                "sim_index": p["sim_index"],
                "grid": "x".join(str(n) for n in p["shape"]),
                "dx": p["dx"],
                "tau": d["time_scale_tau"],
                "lambda_fastest": d["length_scale_fastest"],
                "phi_minus": d["coexistence"][0],
                "phi_plus": d["coexistence"][1],
                "steps": meta["steps"][-1],
                "wall_seconds": meta["wall_seconds"],
            }
        )
    return pd.DataFrame(rows)


