"""Run one Cahn-Hilliard-Cook simulation from a parameter record and store it.

A *parameter record* is a flat dict (one row of the study's simulation table,
see :func:`scattermorph.sim.sweep.simulation_table`) with the keys documented in
:func:`run_simulation`. A run writes one compressed ``.npz`` holding every
snapshot plus a JSON metadata record (parameters, seed, times, steps, wall time,
package versions), written atomically: the file with the final name appears
only once it is complete.
"""

from __future__ import annotations

import json
import math
import time as _time
import zipfile
import zlib

import numpy as np

from scattermorph._io import _jsonable, atomic_write, versions
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.measure.scattering import characteristic_length
from scattermorph.seeds import simulation_generators
from scattermorph.sim.control import integrate
from scattermorph.sim.free_energy import make_model
from scattermorph.sim.steppers import ExplicitEuler, Grid, SemiImplicitSpectral, initial_condition

__all__ = [
    "build_model",
    "cell_size",
    "snapshot_times",
    "run_simulation",
    "save_simulation",
    "load_simulation",
    "read_metadata",
    "atomic_write",
]

#: largest initial step of the semi-implicit scheme, in units of the linear
#: growth time tau = 1/omega_max. Inside the spinodal the bulk term needs no
#: stabilisation (S = 0), and the implicit gradient term divides the fastest
#: mode's update by 1 + x (x = dt/tau; 1 + x/2 for the de Gennes split), so
#: its per-step factor is 1 + x/(1 + x) instead of exp(x): after the ~5 tau of
#: linear growth its amplitude is within 25 % of exp(5) for x <= 0.04
#: (tests/sim/test_run.py checks this for every model).
MAX_DT_OVER_TAU = 0.04
#: theta of the scale-selective stabiliser (``SemiImplicitSpectral(selective=)``):
#: the stabiliser of a mode is scaled by z / (z + theta), z = dt K^2 L, so it is
#: full (within 1 / (1 + z)) where the explicit terms are stiff (z >> 1) and
#: falls off as z^2 at the domain scale, where the explicit step is accurate.
SELECTIVE_THETA = 1.0
#: largest step cap dt_max, in units of tau: uncapped growth of the step biases
#: late coarsening (see scattermorph.sim.control.step_schedule).
MAX_DT_MAX_OVER_TAU = 1.0


def build_model(p: dict):
    """Model from a parameter record; refuses a blend outside the spinodal."""
    if p["model"] == "flory_huggins":
        # validate N and phi0 (through the model) before using them
        base = make_model(
            "flory_huggins", N=float(p["N"]), chi=0.0, phi0=float(p["phi0"]),
            gradient=p["gradient"],
        )
        if "chi" in p and p["chi"] is not None and not _isnan(p["chi"]):
            chi = float(p["chi"])
        else:
            chi = float(p["quench"]) * base.chi_s
        model = make_model(
            "flory_huggins", N=base.N, chi=chi, phi0=base.phi0, gradient=p["gradient"]
        )
    else:
        model = make_model("landau", phi0=float(p["phi0"]), kappa=float(p["kappa"]))
    model.require_unstable()
    return model


def cell_size(model, dx=None, cells_per_wavelength=None) -> float:
    """Cell size of a run (b): fixed, or a set fraction of its fastest wavelength.

    With ``cells_per_wavelength`` the cell is ``lambda_m / cells_per_wavelength``
    (``lambda_m = model.length_scale``, the fastest-growing wavelength of the
    linear theory, Cahn 1965), so a grid of ``n`` cells holds ``n /
    cells_per_wavelength`` wavelengths whatever the quench: a shallow quench
    (chi / chi_s = 1.15, lambda_m = 54 b at N = 100) and a deeper one (1.5, 30 b)
    are resolved alike at the same cost. Exactly one of the two must be given.

    Parameters
    ----------
    model : FloryHuggins or Landau
        The run's free energy (supplies ``length_scale``).
    dx : float, optional
        Fixed cell size (b).
    cells_per_wavelength : float, optional
        Cells per fastest-growing wavelength.

    Returns
    -------
    float
        Cell size in b.
    """
    if (dx is None) == (cells_per_wavelength is None):
        raise ParameterError(
            f"give exactly one of dx={dx!r} and cells_per_wavelength={cells_per_wavelength!r} "
            "(set the other to null)"
        )
    if dx is not None:
        return float(dx)
    return float(model.length_scale) / float(cells_per_wavelength)


def _isnan(x) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def snapshot_times(p: dict, model) -> np.ndarray:
    """Log-spaced snapshot times in absolute units.

    ``t_min``, ``t_max`` and ``dt`` are in units of ``tau = 1 / omega_max`` (the
    fastest linear growth time) when ``time_unit == "tau"``, so runs at different
    compositions and quench depths are sampled at the same dynamical stages.
    """
    scale = model.time_scale if p.get("time_unit", "tau") == "tau" else 1.0
    return scale * np.geomspace(float(p["t_min"]), float(p["t_max"]), int(p["n_snapshots"]))


def run_simulation(p: dict, *, log=None, threads: int | None = None):
    """Run the simulation described by the parameter record ``p``.

    Parameters
    ----------
    p : dict
        ``model`` ("flory_huggins" | "landau"), ``N``, ``chi`` or ``quench``
        (chi / chi_s), ``phi0``, ``gradient`` ("de_gennes" | "constant"),
        ``kappa`` (Landau), ``noise`` (Cook amplitude), ``shape`` (tuple),
        ``dx``, ``dt``, ``accuracy``, ``dt_max``, ``t_min``, ``t_max``,
        ``n_snapshots``, ``time_unit``, ``scheme`` ("semi_implicit" |
        "explicit"), ``laplacian``, ``stabilization``, ``init_amplitude``,
        ``seed`` (int) and ``sim_id``.
    log : callable, optional
        Receives progress lines.
    threads : int, optional
        Threads of the semi-implicit stepper (FFTs and pointwise passes);
        default ``p["threads"]`` if present, else 1. The fields are
        bit-identical whatever the count, so it is an execution setting, not
        part of the metadata.

    Returns
    -------
    snapshots : (T, M, N[, P]) ndarray of float32
        Volume fraction field at each snapshot.
    meta : dict
        JSON-serialisable metadata (parameters, derived quantities, times,
        steps, seed, wall time, versions).
    """
    model = build_model(p)
    grid = Grid(tuple(p["shape"]), float(p["dx"]))
    scale = model.time_scale if p.get("time_unit", "tau") == "tau" else 1.0
    dt = float(p["dt"]) * scale
    dt_max = float(p.get("dt_max", p["dt"])) * scale
    times = snapshot_times(p, model)
    scheme = p.get("scheme", "semi_implicit")
    stabilizer = p.get("stabilizer", "selective")
    if stabilizer not in ("selective", "uniform"):
        raise ParameterError(f"stabilizer={stabilizer!r}: choose 'selective' or 'uniform'")
    if scheme == "semi_implicit":
        if dt > MAX_DT_OVER_TAU * model.time_scale * (1 + 1e-12):
            raise ParameterError(
                f"dt={dt:g} is too large for this model: the linear growth time is "
                f"tau={model.time_scale:.4g} and dt must be <= {MAX_DT_OVER_TAU} tau "
                f"= {MAX_DT_OVER_TAU * model.time_scale:.4g} to resolve the early growth"
            )
        if dt_max > MAX_DT_MAX_OVER_TAU * model.time_scale * (1 + 1e-12):
            raise ParameterError(
                f"dt_max={dt_max:g} exceeds {MAX_DT_MAX_OVER_TAU:g} tau = "
                f"{MAX_DT_MAX_OVER_TAU * model.time_scale:.4g}: larger steps bias the "
                "late coarsening; lower dt_max"
            )
        stepper = SemiImplicitSpectral(
            model,
            grid,
            dt,
            noise=float(p["noise"]),
            laplacian=p.get("laplacian", "spectral"),
            stabilization=float(p.get("stabilization", 1.0)),
            threads=int(threads if threads is not None else p.get("threads", 1)),
            selective=SELECTIVE_THETA if stabilizer == "selective" else 0.0,
        )
    elif scheme == "explicit":
        stepper = ExplicitEuler(model, grid, dt, noise=float(p["noise"]))
        dt_max = dt  # forward Euler cannot take growing steps
    else:
        raise ParameterError(f"scheme={scheme!r}: choose 'semi_implicit' or 'explicit'")
    # One independent stream per simulation: (study seed, simulation index)
    rng_init, rng_noise = simulation_generators(p["seed"], p.get("sim_index", 0))
    phi_init = initial_condition(model, grid, rng_init, float(p.get("init_amplitude", 0.01)))
    t0 = _time.perf_counter()
    snaps, steps = integrate(
        stepper,
        phi_init,
        times,
        rng_noise,
        accuracy=float(p["accuracy"]) if scheme == "semi_implicit" else None,
        safeguard=scheme == "semi_implicit" and stabilizer == "selective",
        dt_max=dt_max,
        log=log,
    )
    wall = _time.perf_counter() - t0
    summary = {
        "characteristic_length": [characteristic_length(f, grid.dx) for f in snaps],
        "phi_mean": [float(f.mean(dtype=np.float64)) for f in snaps],
        "phi_min": [float(f.min()) for f in snaps],
        "phi_max": [float(f.max()) for f in snaps],
    }
    meta = {
        "sim_id": p.get("sim_id", "sim"),
        "params": {k: _jsonable(v) for k, v in p.items()},
        "model": {k: _jsonable(v) for k, v in model.params().items()},
        "derived": {
            "time_scale_tau": model.time_scale,
            "length_scale_fastest": model.length_scale,
            "k_critical": model.k_critical,
            "coexistence": list(model.coexistence()),
            "box_length": [n * grid.dx for n in grid.shape],
            "fft_backend": getattr(getattr(stepper, "fft", None), "backend", "none"),
            "stabilization_S": getattr(stepper, "S", None),
            "stabilization_kappa": getattr(stepper, "kappa_s", None),
        },
        "times": times.tolist(),
        "steps": steps.tolist(),
        "snapshot_summary": summary,
        "wall_seconds": wall,
        "versions": versions(),
    }
    return snaps, meta


def save_simulation(path, snapshots: np.ndarray, meta: dict) -> None:
    """Write snapshots and metadata to a compressed ``.npz`` atomically."""
    payload = json.dumps(meta, sort_keys=True)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                phi=snapshots,
                times=np.asarray(meta["times"], dtype=float),
                meta=np.array(payload),
            )

    atomic_write(path, write)


def read_metadata(path) -> dict:
    """Metadata record of a simulation file, without reading the snapshots."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputFileError(
            f"{path}: not a scattermorph simulation file ({exc}); rerun the "
            "simulate_microstructure rule to regenerate it"
        ) from exc


def load_simulation(path):
    """Read a simulation file written by :func:`save_simulation`.

    Returns
    -------
    phi : (T, M, N[, P]) ndarray of float32
    times : (T,) ndarray
    meta : dict
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            phi, times, meta = z["phi"], z["times"], json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputFileError(
            f"{path}: not a scattermorph simulation file ({exc}); rerun the "
            "simulate_microstructure rule to regenerate it"
        ) from exc
    return phi, times, meta
