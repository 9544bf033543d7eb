"""PFHub benchmark 1a (spinodal decomposition, periodic square) in the
project's Landau model.

The benchmark (Jokisaari et al. 2017) evolves a concentration ``c`` by

.. math::

    \\partial_t c = \\nabla\\cdot(M \\nabla \\mu_c), \\quad
    \\mu_c = \\frac{\\delta F_c}{\\delta c}, \\quad
    F_c = \\int \\big[\\rho_s (c - c_\\alpha)^2 (c_\\beta - c)^2
          + \\tfrac{\\kappa_c}{2} |\\nabla c|^2\\big] \\, dA

with ``rho_s = 5``, ``c_alpha = 0.3``, ``c_beta = 0.7``, ``kappa_c = 2``,
``M = 5`` on a 200 x 200 periodic square (``dx = 1``) from
``c0 + epsilon [cos(0.105 x) cos(0.11 y) + (cos(0.13 x) cos(0.087 y))^2 +
cos(0.025 x - 0.15 y) cos(0.07 x - 0.02 y)]``, ``c0 = 0.5``, ``epsilon = 0.01``.

Mapping onto :class:`~scattermorph.sim.free_energy.Landau`
----------------------------------------------------------
Write ``c = c_alpha + (c_beta - c_alpha) phi = 0.3 + 0.4 phi``, i.e. the
project's stored field ``phi = (1 + psi) / 2`` with ``c = 0.5 + 0.2 psi``.
Lengths are unchanged (``dx = 1``).

* Bulk: ``c - c_alpha = 0.4 phi`` and ``c_beta - c = 0.4 (1 - phi)``, so
  ``rho_s (c - c_alpha)^2 (c_beta - c)^2 = 5 x 0.4^4 phi^2 (1 - phi)^2 =
  0.128 phi^2 (1 - phi)^2``. The Landau bulk density in ``phi`` is
  ``(psi^2 - 1)^2 / 16 = phi^2 (1 - phi)^2`` (``psi^2 - 1 = -4 phi (1 - phi)``).
* Gradient: ``kappa_c / 2 |grad c|^2 = 0.16 |grad phi|^2``; the Landau model
  carries ``kappa0 |grad phi|^2`` with ``kappa0 = kappa / 2``, so
  ``0.128 kappa / 2 = 0.16`` gives ``kappa = 2.5`` (``psi``-form gradient
  coefficient, as :class:`~scattermorph.sim.free_energy.Landau` takes it).
* Hence ``F_c = 0.128 F`` with ``F`` the project's
  :func:`~scattermorph.sim.steppers.free_energy` of ``phi``, and
  ``mu_c = dF_c / dc = (0.128 / 0.4) mu = 0.32 mu``.
* Dynamics: ``d_t phi = d_t c / 0.4 = (M / 0.4) lap(0.32 mu) = 4 lap(mu)``,
  while the project's equation is ``d_s phi = lap(mu)`` (unit mobility): the
  model time is ``s = 4 t``.

The benchmark's fastest linear growth time is then ``tau = 8 kappa0 /
f''(phi0)^2 = 10`` model units (``f''(1/2) = -1``, ``kappa0 = 1.25``), 2.5
benchmark time units.

References
----------
.. [1] A. M. Jokisaari, P. W. Voorhees, J. E. Guyer, J. Warren and
   O. G. Heinonen, Comput. Mater. Sci. 126, 139 (2017): benchmark problems
   for phase-field codes (problem 1: spinodal decomposition).
.. [2] https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb/
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from scattermorph.errors import ParameterError
from scattermorph.sim.free_energy import Landau
from scattermorph.sim.steppers import Grid, free_energy

__all__ = [
    "SIDE",
    "LANDAU_KAPPA",
    "TIME_SCALE",
    "ENERGY_SCALE",
    "pfhub1a_model",
    "pfhub1a_grid",
    "pfhub1a_initial",
    "pfhub1a_free_energy",
    "load_reference",
]

#: side of the benchmark's square (benchmark length units = the model's)
SIDE = 200.0
#: the Landau model's gradient coefficient of the benchmark (module docstring)
LANDAU_KAPPA = 2.5
#: model time per unit of benchmark time, ``s = 4 t``
TIME_SCALE = 4.0
#: benchmark free energy per unit of the model's, ``F_c = 0.128 F``
ENERGY_SCALE = 0.128
_C_ALPHA, _C_BETA, _C0, _EPSILON = 0.3, 0.7, 0.5, 0.01


def pfhub1a_model() -> Landau:
    """The benchmark's free energy: :class:`Landau` with ``phi0 = 1/2``, ``kappa = 2.5``."""
    return Landau(phi0=0.5, kappa=LANDAU_KAPPA)


def pfhub1a_grid(n: int = 200) -> Grid:
    """``n x n`` periodic cells spanning the benchmark's 200 x 200 square
    (``dx = 200 / n``; the benchmark's own grid is ``n = 200``)."""
    return Grid((n, n), SIDE / n)


def pfhub1a_initial(grid: Grid) -> np.ndarray:
    """The benchmark's initial condition as the stored field ``phi = (c - 0.3) / 0.4``.

    Parameters
    ----------
    grid : Grid
        2D grid; cell ``(i, j)`` sits at ``x = i dx``, ``y = j dx`` (the
        convention of the spectral codes, e.g. CabanaPF).

    Returns
    -------
    (n, n) ndarray of float
    """
    if grid.ndim != 2:
        raise ParameterError(f"PFHub 1a is a 2D benchmark; got a grid of shape {grid.shape}")
    x = np.arange(grid.shape[0])[:, None] * grid.dx
    y = np.arange(grid.shape[1])[None, :] * grid.dx
    c = _C0 + _EPSILON * (
        np.cos(0.105 * x) * np.cos(0.11 * y)
        + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
        + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y)
    )
    return (c - _C_ALPHA) / (_C_BETA - _C_ALPHA)


def pfhub1a_free_energy(phi: np.ndarray, dx: float) -> float:
    """The benchmark's total free energy ``F_c`` (its units) of the field ``phi``
    (spectral gradient)."""
    return ENERGY_SCALE * free_energy(pfhub1a_model(), phi, dx)


def load_reference(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Published PFHub 1a free energies from a CSV of ``code,time,free_energy``
    rows (``#`` comment lines give the sources).

    Returns
    -------
    dict
        ``{code: (times, energies)}``, benchmark units, sorted by time.
    """
    rows: dict[str, list[tuple[float, float]]] = {}
    with Path(path).open() as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            rows.setdefault(row["code"], []).append((float(row["time"]), float(row["free_energy"])))
    return {code: tuple(np.array(v) for v in zip(*sorted(pts))) for code, pts in rows.items()}
