"""Dense time series of Cahn-Hilliard-Cook runs, and what degrades them.

A series is the field at evenly spaced times, stored densely enough for the
time integrals of the weak form (:mod:`scattermorph.dynamics.weak`) to be
accurate. It is made with the project's own stepper
(:class:`~scattermorph.sim.steppers.SemiImplicitSpectral`, second order in
time, fixed step) so that the discovered equation is compared with the one
the study simulates.
"""

from __future__ import annotations

import numpy as np

from scattermorph.errors import ParameterError
from scattermorph.sim.control import integrate
from scattermorph.sim.steppers import Grid, SemiImplicitSpectral, initial_condition

__all__ = ["simulate_series", "add_measurement_noise", "coarse_grain", "subsample_times"]


def simulate_series(model, shape, dx: float, times, *, dt: float, rng: np.random.Generator,
                    noise: float = 0.0, amplitude: float = 0.01, phi_init=None):
    """Run ``model`` on a periodic grid and record the field at ``times``.

    Parameters
    ----------
    model : FreeEnergy
        :class:`~scattermorph.sim.free_energy.Landau` or
        :class:`~scattermorph.sim.free_energy.FloryHugginsDeGennes`.
    shape : tuple of int
        Cells per side (2 or 3 sides, even, >= 8).
    dx : float
        Cell size (b).
    times : (T,) array_like of float
        Increasing snapshot times (absolute units, ``b^2 / (M k_B T)``).
    dt : float
        Fixed time step; the second-order scheme's error in the recorded
        field scales as ``dt^2``.
    rng : numpy.random.Generator
        Draws the initial perturbation (unless ``phi_init`` is given) and
        the Cook noise.
    noise : float
        Cook noise amplitude (1 = thermal, 0 = none).
    amplitude : float
        Half-width of the uniform initial perturbation of ``phi0``.
    phi_init : (M, N[, P]) ndarray, optional
        Initial field instead of a random one.

    Returns
    -------
    (T, M, N[, P]) ndarray of float64
    """
    grid = Grid(shape, dx)
    if phi_init is None:
        phi_init = initial_condition(model, grid, rng, amplitude)
    elif np.shape(phi_init) != grid.shape:
        raise ParameterError(f"phi_init has shape {np.shape(phi_init)}; the grid is {grid.shape}")
    stepper = SemiImplicitSpectral(model, grid, dt, noise=noise)
    snaps, _ = integrate(stepper, np.asarray(phi_init, dtype=float), times, rng,
                         dtype=np.float64)
    return snaps


def add_measurement_noise(phi, level: float, rng: np.random.Generator):
    """White Gaussian noise of standard deviation ``level * std(phi)`` on every cell.

    The noise of an imaging measurement (independent between pixels and
    frames), unlike the Cook noise, which is part of the dynamics.
    """
    if not (np.isfinite(level) and level >= 0):
        raise ParameterError(f"measurement noise level={level!r} must be >= 0")
    phi = np.asarray(phi, dtype=float)
    return phi + level * float(phi.std()) * rng.standard_normal(phi.shape)


def coarse_grain(phi, factor: int):
    """Block averages of ``factor``^d cells: a detector of coarser pixels.

    Parameters
    ----------
    phi : (T, M, N[, P]) ndarray
    factor : int
        Must divide every side; the coarse cell is ``factor * dx``.

    Returns
    -------
    (T, M / factor, N / factor[, P / factor]) ndarray
    """
    phi = np.asarray(phi, dtype=float)
    factor = int(factor)
    if factor < 1 or any(n % factor for n in phi.shape[1:]):
        raise ParameterError(
            f"coarse-graining factor={factor} must be >= 1 and divide every side "
            f"of the grid {phi.shape[1:]}"
        )
    new = [phi.shape[0]]
    for n in phi.shape[1:]:
        new += [n // factor, factor]
    return phi.reshape(new).mean(axis=tuple(range(2, 2 * phi.ndim - 1, 2)))


def subsample_times(phi, times, stride: int):
    """Every ``stride``-th snapshot: a slower camera / detector."""
    stride = int(stride)
    if stride < 1 or stride >= len(times):
        raise ParameterError(f"time stride={stride} must be >= 1 and below the {len(times)} snapshots")
    return np.asarray(phi)[::stride], np.asarray(times)[::stride]
