"""Free-energy models of a phase-separating binary mixture.

A model is only the right-hand side of the Cahn-Hilliard-Cook equation and its
parameters; the time steppers live in :mod:`scattermorph.sim.steppers`.

All quantities are dimensionless. For the polymer blend the length unit is the
statistical segment length ``b``, the energy unit ``k_B T`` per lattice site of
volume ``b^d`` and the time unit ``b^2 / (M k_B T)`` with ``M`` the (constant)
mobility per site. In these units the Cahn-Hilliard-Cook equation reads

.. math::

    \\partial_t \\phi = \\nabla^2 \\mu + \\zeta, \\qquad
    \\mu = \\frac{\\delta F}{\\delta \\phi}, \\qquad
    \\langle \\zeta(r, t) \\zeta(r', t') \\rangle
        = -2 \\epsilon \\nabla^2 \\delta(r - r') \\delta(t - t')

where ``epsilon = 1`` is the fluctuation-dissipation (Cook) amplitude of thermal
noise and ``epsilon = 0`` switches noise off (Cook 1970; Glotzer 1995).

References
----------
.. [1] S. C. Glotzer, "Computer simulations of spinodal decomposition in polymer
   blends", Annual Reviews of Computational Physics II, 1-46 (1995).
.. [2] P.-G. de Gennes, J. Chem. Phys. 72, 4756 (1980): the square-gradient
   coefficient ``kappa(phi) = b^2 / (36 phi (1 - phi))`` of a blend.
.. [3] H. E. Cook, Acta Metall. 18, 297 (1970): the conserved noise.
.. [4] M. Jones and N. Clarke, Soft Matter 17, 9689 (2021).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq

from scattermorph.errors import ParameterError

__all__ = ["FloryHugginsDeGennes", "Landau", "make_model", "GRADIENT_MODES"]

GRADIENT_MODES = ("de_gennes", "constant")


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ParameterError(message)


@dataclass(frozen=True)
class FloryHugginsDeGennes:
    """Symmetric polymer blend with the Flory-Huggins-de Gennes free energy.

    Free energy per site (units of ``k_B T``), both species of degree of
    polymerisation ``N`` (Glotzer 1995, eq. 2.1; de Gennes 1980):

    .. math::

        F = \\int d^d r \\, \\Big[ \\frac{\\phi \\ln \\phi}{N}
            + \\frac{(1-\\phi)\\ln(1-\\phi)}{N} + \\chi \\phi (1-\\phi)
            + \\kappa(\\phi) |\\nabla \\phi|^2 \\Big],
        \\qquad \\kappa(\\phi) = \\frac{b^2}{36 \\phi (1-\\phi)}.

    With ``gradient="de_gennes"`` the gradient term is handled exactly through
    the substitution ``psi = arcsin(2 phi - 1) / 6`` (with ``b = 1``), for which
    ``kappa(phi) |grad phi|^2 = |grad psi|^2`` and hence
    ``mu = f'(phi) - 2 psi'(phi) lap(psi)``. With ``gradient="constant"`` the
    coefficient is frozen at the mean composition, ``kappa = kappa(phi0)``, the
    usual linearisation, giving ``mu = f'(phi) - 2 kappa lap(phi)``.

    Parameters
    ----------
    N : float
        Degree of polymerisation of both species, > 0.
    chi : float
        Flory interaction parameter. Phase separation by spinodal decomposition
        needs ``chi > chi_s = 1 / (2 N phi0 (1 - phi0))``.
    phi0 : float
        Mean volume fraction of species A, in (0, 1).
    gradient : {"de_gennes", "constant"}
        Composition-dependent (de Gennes) or frozen gradient coefficient.
    """

    N: float
    chi: float
    phi0: float
    gradient: str = "de_gennes"

    name = "flory_huggins"

    def __post_init__(self):
        _require(
            np.isfinite(self.N) and self.N > 0,
            f"N={self.N!r} is not a valid degree of polymerisation: need N > 0",
        )
        _require(
            0.0 < self.phi0 < 1.0,
            f"phi0={self.phi0!r} is outside (0, 1): a volume fraction must lie "
            "strictly between 0 and 1",
        )
        _require(
            self.gradient in GRADIENT_MODES,
            f"gradient={self.gradient!r} is not one of {GRADIENT_MODES}",
        )
        _require(
            np.isfinite(self.chi) and self.chi >= 0,
            f"chi={self.chi!r} must be a finite number >= 0",
        )

    def require_unstable(self) -> None:
        """Raise :class:`ParameterError` unless ``phi0`` lies inside the spinodal.

        A one-phase (stable) blend is a valid model (its equilibrium
        fluctuations test the Cook noise) but not a phase-separation run.
        """
        chi_s = self.chi_s
        _require(
            self.chi > chi_s,
            f"chi={self.chi!r} gives no spinodal decomposition at phi0={self.phi0} "
            f"(N={self.N}): need chi > chi_s = 1/(2 N phi0 (1-phi0)) = {chi_s:.6g}; "
            "raise chi or move phi0 towards 0.5",
        )

    # -- thermodynamics -------------------------------------------------------
    @property
    def chi_s(self) -> float:
        """Spinodal Flory parameter at ``phi0``: ``1 / (2 N phi0 (1 - phi0))``."""
        return 1.0 / (2.0 * self.N * self.phi0 * (1.0 - self.phi0))

    @property
    def quench_depth(self) -> float:
        """``chi / chi_s`` (> 1 inside the spinodal)."""
        return self.chi / self.chi_s

    def f(self, phi):
        """Bulk free energy density ``f(phi)`` (k_B T per site)."""
        phi = np.asarray(phi, dtype=float)
        return (
            phi * np.log(phi) / self.N
            + (1 - phi) * np.log1p(-phi) / self.N
            + self.chi * phi * (1 - phi)
        )

    def mu_bulk(self, phi):
        """``f'(phi) = ln(phi / (1 - phi)) / N + chi (1 - 2 phi)``."""
        phi = np.asarray(phi, dtype=float)
        return (np.log(phi) - np.log1p(-phi)) / self.N + self.chi * (1 - 2 * phi)

    def f2(self, phi):
        """``f''(phi) = 1 / (N phi (1 - phi)) - 2 chi``."""
        phi = np.asarray(phi, dtype=float)
        return 1.0 / (self.N * phi * (1 - phi)) - 2.0 * self.chi

    def kappa(self, phi):
        """Square-gradient coefficient (units of b^2); constant if frozen."""
        if self.gradient == "constant":
            return np.full_like(np.asarray(phi, dtype=float), self.kappa0)
        phi = np.asarray(phi, dtype=float)
        return 1.0 / (36.0 * phi * (1 - phi))

    @property
    def kappa0(self) -> float:
        """``kappa(phi0) = 1 / (36 phi0 (1 - phi0))``."""
        return 1.0 / (36.0 * self.phi0 * (1.0 - self.phi0))

    def coexistence(self) -> tuple[float, float]:
        """Binodal compositions ``(phi_-, phi_+)`` at this ``chi``.

        For the symmetric blend the binodal is symmetric about 1/2 and solves
        ``ln(phi / (1 - phi)) = chi N (2 phi - 1)`` (common tangent). Returns
        (0.5, 0.5) when ``chi N <= 2`` (one phase at every composition).
        """
        chin = self.chi * self.N
        if chin <= 2.0:
            return 0.5, 0.5
        g = lambda p: math.log(p / (1 - p)) - chin * (2 * p - 1)  # noqa: E731
        lo = brentq(g, 1e-300, 0.5 - 0.5 * math.sqrt(1 - 2 / chin) - 1e-15)
        return lo, 1.0 - lo

    def stiffness_bounds(self) -> tuple[float, float]:
        """``(max |f''|, max kappa)`` over the composition range the run visits.

        The range is the binodal interval widened by 20 % towards the pure
        phases (noise and interfaces overshoot the binodal slightly); used to
        choose the stabilisation of the semi-implicit scheme and the explicit
        stability limit.
        """
        lo, hi = self.coexistence()
        lo = min(lo, self.phi0, 1 - self.phi0) * 0.8
        grid = np.linspace(lo, 1 - lo, 513)
        return float(np.max(np.abs(self.f2(grid)))), float(np.max(self.kappa(grid)))

    # -- gradient substitution (de Gennes) -----------------------------------
    def psi(self, phi):
        """``psi = arcsin(2 phi - 1) / 6`` so that ``|grad psi|^2 = kappa |grad phi|^2``."""
        return np.arcsin(2 * np.asarray(phi, dtype=float) - 1) / 6.0

    def dpsi(self, phi):
        """``psi'(phi) = 1 / (6 sqrt(phi (1 - phi)))``."""
        phi = np.asarray(phi, dtype=float)
        return 1.0 / (6.0 * np.sqrt(phi * (1 - phi)))

    # -- linear stability -----------------------------------------------------
    def linear_growth_rate(self, k2):
        """Growth rate of a Fourier mode of ``phi - phi0`` in the linearised,
        noise-free equation: ``omega = -k^2 (f''(phi0) + 2 kappa(phi0) k^2)``.

        Parameters
        ----------
        k2 : array_like
            Squared wavenumber (or the symbol of the discrete Laplacian, sign
            flipped), units of ``b^-2``.
        """
        k2 = np.asarray(k2, dtype=float)
        return -k2 * (self.f2(self.phi0) + 2.0 * self.kappa0 * k2)

    @property
    def k_critical(self) -> float:
        """Wavenumber above which modes decay: ``sqrt(-f''(phi0) / (2 kappa0))``."""
        return math.sqrt(-self.f2(self.phi0) / (2.0 * self.kappa0))

    @property
    def time_scale(self) -> float:
        """Inverse of the fastest linear growth rate, ``8 kappa0 / f''(phi0)^2``."""
        return 8.0 * self.kappa0 / self.f2(self.phi0) ** 2

    @property
    def length_scale(self) -> float:
        """Wavelength of the fastest-growing mode, ``2 pi sqrt(2) / k_c``."""
        return 2 * math.pi * math.sqrt(2.0) / self.k_critical

    def params(self) -> dict:
        out = asdict(self)
        out.update(model=self.name, chi_s=self.chi_s, quench_depth=self.quench_depth)
        return out


@dataclass(frozen=True)
class Landau:
    """Dimensionless phi^4 (Ginzburg-Landau) Cahn-Hilliard model.

    .. math::

        F = \\int d^d r \\, \\Big[ \\frac{(\\psi^2 - 1)^2}{4}
            + \\frac{\\kappa}{2} |\\nabla \\psi|^2 \\Big], \\qquad
        \\mu = \\psi^3 - \\psi - \\kappa \\nabla^2 \\psi.

    The order parameter ``psi`` lies near -1 and +1 in the two phases; the
    stored field is the volume fraction ``phi = (1 + psi) / 2`` so that both
    models are measured the same way downstream.

    Parameters
    ----------
    phi0 : float
        Mean volume fraction ``(1 + mean psi) / 2``; spinodal decomposition
        needs ``|2 phi0 - 1| < 1/sqrt(3)``.
    kappa : float
        Gradient coefficient (sets the interface width ``sqrt(2 kappa)``), > 0.
    """

    phi0: float
    kappa: float = 1.0

    name = "landau"
    gradient = "constant"

    def __post_init__(self):
        _require(
            0.0 < self.phi0 < 1.0,
            f"phi0={self.phi0!r} is outside (0, 1): a volume fraction must lie "
            "strictly between 0 and 1",
        )
        _require(
            np.isfinite(self.kappa) and self.kappa > 0,
            f"kappa={self.kappa!r} must be > 0",
        )

    def require_unstable(self) -> None:
        """Raise :class:`ParameterError` unless ``phi0`` lies inside the spinodal."""
        m = 2 * self.phi0 - 1
        lim = 1 / math.sqrt(3)
        _require(
            abs(m) < lim,
            f"phi0={self.phi0!r} is outside the spinodal of the phi^4 model: "
            f"need |2 phi0 - 1| < 1/sqrt(3), i.e. phi0 in "
            f"({(1 - lim) / 2:.4f}, {(1 + lim) / 2:.4f})",
        )

    # The solvers evolve the stored field phi = (1 + psi) / 2. From
    # d_t psi = lap(psi^3 - psi - kappa lap psi) follows d_t phi = lap(mu) with
    # mu = (psi^3 - psi) / 2 - kappa lap(phi) = f'(phi) - 2 kappa0 lap(phi).
    def mu_bulk(self, phi):
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return 0.5 * (psi**3 - psi)

    def f(self, phi):
        """Bulk free energy per unit volume in phi units: ``(psi^2 - 1)^2 / 16``.

        Chosen so that ``d f / d phi = mu_bulk`` (with ``psi = 2 phi - 1``).
        """
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return (psi**2 - 1) ** 2 / 16.0

    def f2(self, phi):
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return 3 * psi**2 - 1

    @property
    def kappa0(self) -> float:
        # F written in phi: (kappa/2)|grad psi|^2 = 2 kappa |grad phi|^2 and the
        # phi equation carries half of mu_psi, so the phi gradient coefficient
        # entering mu = f' - 2 k0 lap(phi) is k0 = kappa / 2.
        return self.kappa / 2.0

    def coexistence(self) -> tuple[float, float]:
        return 0.0, 1.0

    def stiffness_bounds(self) -> tuple[float, float]:
        # psi ranges over about [-1.1, 1.1] including overshoot
        return float(3 * 1.1**2 - 1), self.kappa0

    def linear_growth_rate(self, k2):
        k2 = np.asarray(k2, dtype=float)
        return -k2 * (self.f2(self.phi0) + 2.0 * self.kappa0 * k2)

    @property
    def k_critical(self) -> float:
        return math.sqrt(-self.f2(self.phi0) / (2.0 * self.kappa0))

    @property
    def time_scale(self) -> float:
        return 8.0 * self.kappa0 / self.f2(self.phi0) ** 2

    @property
    def length_scale(self) -> float:
        return 2 * math.pi * math.sqrt(2.0) / self.k_critical

    @property
    def quench_depth(self) -> float:
        return float("nan")

    def params(self) -> dict:
        out = asdict(self)
        out.update(model=self.name, gradient="constant")
        return out


def make_model(name: str, **params):
    """Build a model by name (``"flory_huggins"`` or ``"landau"``).

    Unknown names and unknown parameters raise :class:`ParameterError`.
    """
    models = {"flory_huggins": FloryHugginsDeGennes, "landau": Landau}
    if name not in models:
        raise ParameterError(f"model={name!r} is unknown; choose one of {sorted(models)}")
    cls = models[name]
    allowed = set(cls.__dataclass_fields__)
    extra = set(params) - allowed
    if extra:
        raise ParameterError(
            f"unknown parameter(s) {sorted(extra)} for model {name!r}; "
            f"allowed: {sorted(allowed)}"
        )
    return cls(**params)
