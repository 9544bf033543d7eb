"""Run one Cahn-Hilliard-Cook simulation from its record and store it.

A run is described by a :class:`~scattermorph.sim.spec.RunSpec` (one row of
the study's simulation table, typed and checked). It writes one compressed
``.npz`` holding every snapshot plus a JSON metadata record (parameters,
seed, times, steps, wall time, package versions), written atomically: the
file with the final name appears only once it is complete.
"""

from __future__ import annotations

import json
import time as _time
import zipfile
import zlib

import numpy as np

from scattermorph._io import _jsonable, atomic_write, versions
from scattermorph.errors import InputFileError
from scattermorph.measure.scattering import characteristic_length
from scattermorph.seeds import simulation_generators
from scattermorph.sim.control import integrate
from scattermorph.sim.spec import RunSpec
from scattermorph.sim.steppers import ExplicitEuler, SemiImplicitSpectral, initial_condition

__all__ = [
    "SELECTIVE_THETA",
    "make_stepper",
    "run_simulation",
    "snapshot_summary",
    "run_metadata",
    "save_simulation",
    "load_simulation",
    "read_metadata",
]

#: theta of the scale-selective stabiliser (``SemiImplicitSpectral(selective=)``):
#: the stabiliser of a mode is scaled by z / (z + theta), z = dt K^2 L, so it is
#: full (within 1 / (1 + z)) where the explicit terms are stiff (z >> 1) and
#: falls off as z^2 at the domain scale, where the explicit step is accurate.
SELECTIVE_THETA = 1.0


def make_stepper(spec: RunSpec, threads: int = 1, fft_plan: str = "estimate", fft_wisdom=None):
    """The run's time stepper, at its initial step.

    Parameters
    ----------
    spec : RunSpec
    threads : int
        Threads of the semi-implicit stepper (FFTs and pointwise passes).
    fft_plan, fft_wisdom
        FFTW plans of the semi-implicit stepper and the wisdom cache of
        ``"measure"`` plans (:class:`~scattermorph.sim.steppers.SemiImplicitSpectral`).

    Returns
    -------
    SemiImplicitSpectral or ExplicitEuler
        ``spec.scheme``'s stepper of ``spec.free_energy()`` on ``spec.grid()``.
    """
    model, grid = spec.free_energy(), spec.grid()
    if spec.scheme == "explicit":
        return ExplicitEuler(model, grid, spec.initial_dt(), noise=spec.noise)
    return SemiImplicitSpectral(
        model,
        grid,
        spec.initial_dt(),
        noise=spec.noise,
        laplacian=spec.laplacian,
        stabilization=spec.stabilization,
        threads=threads,
        selective=SELECTIVE_THETA if spec.stabilizer == "selective" else 0.0,
        fft_plan=fft_plan,
        fft_wisdom=fft_wisdom,
    )


def run_simulation(spec: RunSpec, *, log=None, threads: int = 1, fft_plan: str = "estimate",
                   fft_wisdom=None):
    """Run the simulation described by ``spec``.

    Parameters
    ----------
    spec : RunSpec
        The run's record (:meth:`RunSpec.from_row` of a row of the
        simulation table).
    log : callable, optional
        Receives progress lines.
    threads : int
        Threads of the semi-implicit stepper (FFTs and pointwise passes). The
        fields are bit-identical whatever the count, so it is an execution
        setting, not part of the metadata.
    fft_plan : {"estimate", "measure"}
        FFTW plans (config ``simulation.fft_plan``); recorded in the metadata,
        since ``"measure"`` plans can change the last bits of the fields.
    fft_wisdom : str or Path, optional
        Wisdom cache of ``"measure"`` plans (config ``simulation.fft_wisdom``).

    Returns
    -------
    snapshots : (T, M, N[, P]) ndarray of float32
        Volume fraction field at each snapshot (T = ``spec.n_snapshots``).
    meta : dict
        JSON-serialisable metadata (:func:`run_metadata`).
    """
    semi_implicit = spec.scheme == "semi_implicit"
    times = spec.snapshot_times()
    stepper = make_stepper(spec, threads, fft_plan, fft_wisdom)
    rng_init, rng_noise = simulation_generators(spec.seed, spec.sim_index)
    phi_init = initial_condition(spec.free_energy(), spec.grid(), rng_init, spec.init_amplitude)
    t0 = _time.perf_counter()
    snaps, steps = integrate(
        stepper,
        phi_init,
        times,
        rng_noise,
        accuracy=spec.accuracy if semi_implicit else None,
        safeguard=semi_implicit and spec.stabilizer == "selective",
        dt_max=spec.largest_dt(),
        log=log,
        tolerance=spec.tolerance if semi_implicit and spec.stabilizer == "selective" else None,
    )
    wall = _time.perf_counter() - t0
    return snaps, run_metadata(spec, stepper, times, steps, snapshot_summary(snaps, spec.dx), wall)


def snapshot_summary(snaps: np.ndarray, dx: float) -> dict:
    """Per-snapshot measurements recorded with a run.

    Parameters
    ----------
    snaps : (T, M, N[, P]) ndarray
        The snapshots.
    dx : float
        Cell size (b).

    Returns
    -------
    dict of list of float
        ``characteristic_length`` (b; :func:`scattermorph.measure.scattering.characteristic_length`),
        ``phi_mean``, ``phi_min``, ``phi_max``, one value per snapshot.
    """
    return {
        "characteristic_length": [characteristic_length(f, dx) for f in snaps],
        "phi_mean": [float(f.mean(dtype=np.float64)) for f in snaps],
        "phi_min": [float(f.min()) for f in snaps],
        "phi_max": [float(f.max()) for f in snaps],
    }


def run_metadata(spec: RunSpec, stepper, times, steps, summary: dict, wall: float) -> dict:
    """The metadata record of a finished run.

    Parameters
    ----------
    spec : RunSpec
    stepper : SemiImplicitSpectral or ExplicitEuler
        The run's stepper (its FFT backend and stabilisation constants).
    times : (T,) ndarray
        Snapshot times, absolute units.
    steps : (T,) ndarray of int
        Cumulative steps at each snapshot.
    summary : dict
        :func:`snapshot_summary` of the snapshots.
    wall : float
        Solver wall time (s).

    Returns
    -------
    dict
        JSON-serialisable: ``sim_id``, ``params`` (the record), ``model``
        (the free energy's parameters), ``derived`` (tau, fastest
        wavelength, critical wavenumber, binodal, box, FFT backend,
        stabilisation constants), ``times``, ``steps``, ``snapshot_summary``,
        ``wall_seconds``, ``versions``.
    """
    model, grid = spec.free_energy(), spec.grid()
    return {
        "sim_id": spec.sim_id,
        "params": {k: _jsonable(v) for k, v in spec.as_params().items()},
        "model": {k: _jsonable(v) for k, v in model.params().items()},
        "derived": {
            "time_scale_tau": model.time_scale,
            "length_scale_fastest": model.length_scale,
            "k_critical": model.k_critical,
            "coexistence": list(model.coexistence()),
            "box_length": [n * grid.dx for n in grid.shape],
            "fft_backend": getattr(getattr(stepper, "fft", None), "backend", "none"),
            "fft_plan": getattr(getattr(stepper, "fft", None), "plan", "none"),
            "stabilization_S": getattr(stepper, "S", None),
            "stabilization_kappa": getattr(stepper, "kappa_s", None),
        },
        "times": times.tolist(),
        "steps": steps.tolist(),
        "snapshot_summary": summary,
        "wall_seconds": wall,
        "versions": versions(),
    }


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
