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
.. [5] J. W. Cahn, Acta Metall. 9, 795 (1961); J. W. Cahn, J. Chem. Phys. 42,
   93 (1965): the linear theory of spinodal decomposition, whose growth rate
   ``omega(k) = -k^2 (f''(phi0) + 2 kappa k^2)`` (mobility 1) sets the time and
   length scales of every run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy.optimize import brentq

from scattermorph.errors import ParameterError

__all__ = [
    "FreeEnergy",
    "FloryHugginsDeGennes",
    "Landau",
    "MODELS",
    "model_class",
    "make_model",
    "run_free_energy",
    "GRADIENT_MODES",
]

GRADIENT_MODES = ("de_gennes", "constant")


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ParameterError(message)


def _chi_s(N: float, phi0: float) -> float:
    """Spinodal Flory parameter ``1 / (2 N phi0 (1 - phi0))``."""
    return 1.0 / (2.0 * N * phi0 * (1.0 - phi0))


def _check_phi0(phi0) -> None:
    _require(
        0.0 < phi0 < 1.0,
        f"phi0={phi0!r} is outside (0, 1): a volume fraction must lie "
        "strictly between 0 and 1",
    )


def _check_N(N) -> None:
    _require(
        np.isfinite(N) and N > 0,
        f"N={N!r} is not a valid degree of polymerisation: need N > 0",
    )


class FreeEnergy(ABC):
    """What the two free energies share: the linear theory of spinodal decomposition.

    A model supplies its bulk free energy ``f(phi)`` and derivatives, the
    square-gradient coefficient at the mean composition ``kappa0``, its
    coexisting phases and its parameter record; everything the linear
    theory (Cahn 1961, 1965) derives from the curvature ``f''(phi0)`` and
    ``kappa0`` is written once here. Linearising ``d_t phi = lap(f'(phi) -
    2 kappa0 lap phi)`` about ``phi0`` gives for a Fourier mode of ``phi -
    phi0`` (mobility 1, the module's units)

    .. math::

        \\omega(k) = -k^2 \\big(f''(\\phi_0) + 2 \\kappa_0 k^2\\big),

    which is positive for ``0 < k < k_c = sqrt(-f''(phi0) / (2 kappa0))``
    (inside the spinodal, ``f''(phi0) < 0``) and largest at ``k_m = k_c /
    sqrt(2)``, where ``omega_max = f''(phi0)^2 / (8 kappa0)``.
    """

    #: name of the model in a configuration (``simulation.model``)
    name: ClassVar[str]
    #: short name in simulation ids
    tag: ClassVar[str]
    #: whether runs of this model are swept over the quench depth chi / chi_s
    has_quench: ClassVar[bool]
    #: whether ``f'`` diverges at the pure phases ``phi = 0, 1`` (the entropy
    #: of mixing), so that every cell must stay strictly inside (0, 1)
    bounded: ClassVar[bool]
    #: gradient term: ``"de_gennes"`` (composition-dependent) or ``"constant"``
    gradient: str
    #: mean volume fraction
    phi0: float

    @classmethod
    @abstractmethod
    def for_run(cls, *, phi0: float, N: float, quench: float, gradient: str, kappa: float,
                chi: float | None = None) -> FreeEnergy:
        """The model of one run from the parameters of a simulation record
        (each model takes the ones it has and ignores the others)."""

    @abstractmethod
    def require_unstable(self) -> None:
        """Raise :class:`ParameterError` unless ``phi0`` lies inside the spinodal."""

    @abstractmethod
    def f(self, phi):
        """Bulk free energy density ``f(phi)`` (k_B T per site)."""

    @abstractmethod
    def mu_bulk(self, phi):
        """``f'(phi)``, the bulk chemical potential."""

    @abstractmethod
    def f2(self, phi):
        """``f''(phi)``, the curvature of the bulk free energy."""

    @abstractmethod
    def gradient_coefficient(self, phi):
        """Square-gradient coefficient ``kappa(phi)`` (units of b^2)."""

    @property
    @abstractmethod
    def kappa0(self) -> float:
        """Gradient coefficient at the mean composition, entering ``mu = f' - 2 kappa0 lap(phi)``."""

    @abstractmethod
    def coexistence(self) -> tuple[float, float]:
        """Compositions ``(phi_-, phi_+)`` of the coexisting phases."""

    @abstractmethod
    def stiffness_bounds(self) -> tuple[float, float]:
        """``(max |f''|, max kappa)`` over the composition range the run visits."""

    @abstractmethod
    def params(self) -> dict:
        """The model's parameters and name, JSON-ready."""

    def bulk_stiffness(self) -> tuple[float, float]:
        """``(max(f'', 0), kappa)`` in the coexisting phases.

        ``k^2 (f'' + 2 kappa k^2)`` is the rate at which a composition
        fluctuation of wavenumber ``k`` relaxes inside a phase: at the domain
        wavenumber, the fastest physical process of the coarsening structure.
        Both models are symmetric, so the two phases give the same values.
        """
        lo, _ = self.coexistence()
        return max(0.0, float(self.f2(lo))), float(self.gradient_coefficient(lo))

    # -- linear stability (Cahn 1961, 1965) -----------------------------------
    def linear_growth_rate(self, k2):
        """Growth rate of a Fourier mode of ``phi - phi0`` in the linearised,
        noise-free equation: ``omega = -k^2 (f''(phi0) + 2 kappa(phi0) k^2)``.

        Parameters
        ----------
        k2 : array_like
            Squared wavenumber (or the symbol of the discrete Laplacian, sign
            flipped), units of ``b^-2``.

        Returns
        -------
        ndarray
            Same shape as ``k2``; units of 1 / time.
        """
        k2 = np.asarray(k2, dtype=float)
        return -k2 * (self.f2(self.phi0) + 2.0 * self.kappa0 * k2)

    @property
    def k_critical(self) -> float:
        """Wavenumber above which modes decay: ``sqrt(-f''(phi0) / (2 kappa0))`` (b^-1)."""
        return math.sqrt(-self.f2(self.phi0) / (2.0 * self.kappa0))

    @property
    def time_scale(self) -> float:
        """Inverse of the fastest linear growth rate, ``tau = 8 kappa0 / f''(phi0)^2``."""
        return 8.0 * self.kappa0 / self.f2(self.phi0) ** 2

    @property
    def length_scale(self) -> float:
        """Wavelength of the fastest-growing mode, ``2 pi sqrt(2) / k_c`` (b)."""
        return 2 * math.pi * math.sqrt(2.0) / self.k_critical


@dataclass(frozen=True)
class FloryHugginsDeGennes(FreeEnergy):
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
    tag = "fh"
    has_quench = True
    bounded = True

    def __post_init__(self):
        _check_N(self.N)
        _check_phi0(self.phi0)
        _require(
            self.gradient in GRADIENT_MODES,
            f"gradient={self.gradient!r} is not one of {GRADIENT_MODES}",
        )
        _require(
            np.isfinite(self.chi) and self.chi >= 0,
            f"chi={self.chi!r} must be a finite number >= 0",
        )

    @classmethod
    def at_quench(cls, N: float, phi0: float, quench: float, gradient: str = "de_gennes"):
        """The blend at ``chi = quench * chi_s(phi0)``.

        ``N`` and ``phi0`` are checked before ``chi_s`` is computed from them.
        """
        _check_N(N)
        _check_phi0(phi0)
        return cls(N=N, chi=quench * _chi_s(N, phi0), phi0=phi0, gradient=gradient)

    @classmethod
    def for_run(cls, *, phi0, N, quench, gradient, kappa=None, chi=None):
        """The run's blend: at ``chi`` when given (not None or NaN), else at
        ``quench * chi_s``; ``kappa`` (the phi^4 model's) is ignored."""
        if chi is not None and not math.isnan(chi):
            return cls(N=N, chi=chi, phi0=phi0, gradient=gradient)
        return cls.at_quench(N, phi0, quench, gradient)

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
        return _chi_s(self.N, self.phi0)

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

    def gradient_coefficient(self, phi):
        """``kappa(phi)``: composition-dependent (de Gennes) or frozen at ``phi0``."""
        return self.kappa(phi)

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

    def params(self) -> dict:
        """``N``, ``chi``, ``phi0``, ``gradient``, the model's name, ``chi_s`` and the quench depth."""
        out = asdict(self)
        out.update(model=self.name, chi_s=self.chi_s, quench_depth=self.quench_depth)
        return out


@dataclass(frozen=True)
class Landau(FreeEnergy):
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
    tag = "ld"
    has_quench = False
    bounded = False
    gradient = "constant"

    def __post_init__(self):
        _check_phi0(self.phi0)
        _require(
            np.isfinite(self.kappa) and self.kappa > 0,
            f"kappa={self.kappa!r} must be > 0",
        )

    @classmethod
    def for_run(cls, *, phi0, kappa, N=None, quench=None, gradient=None, chi=None):
        """The run's phi^4 model (``N``, ``quench``, ``gradient`` and ``chi``,
        the blend's, are ignored)."""
        return cls(phi0=phi0, kappa=kappa)

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
        """``f'(phi) = (psi^3 - psi) / 2`` with ``psi = 2 phi - 1``."""
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return 0.5 * (psi**3 - psi)

    def f(self, phi):
        """Bulk free energy per unit volume in phi units: ``(psi^2 - 1)^2 / 16``.

        Chosen so that ``d f / d phi = mu_bulk`` (with ``psi = 2 phi - 1``).
        """
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return (psi**2 - 1) ** 2 / 16.0

    def f2(self, phi):
        """``f''(phi) = 3 psi^2 - 1`` with ``psi = 2 phi - 1``."""
        psi = 2 * np.asarray(phi, dtype=float) - 1
        return 3 * psi**2 - 1

    def gradient_coefficient(self, phi):
        """The constant ``kappa0`` at every composition."""
        return np.full_like(np.asarray(phi, dtype=float), self.kappa0)

    @property
    def kappa0(self) -> float:
        """``kappa / 2``: the gradient coefficient of the phi equation."""
        # F written in phi: (kappa/2)|grad psi|^2 = 2 kappa |grad phi|^2 and the
        # phi equation carries half of mu_psi, so the phi gradient coefficient
        # entering mu = f' - 2 k0 lap(phi) is k0 = kappa / 2.
        return self.kappa / 2.0

    def coexistence(self) -> tuple[float, float]:
        """``(0, 1)``: the phases ``psi = -1`` and ``psi = +1``."""
        return 0.0, 1.0

    def stiffness_bounds(self) -> tuple[float, float]:
        """``(max |f''|, kappa0)`` for ``psi`` in [-1.1, 1.1]."""
        # psi ranges over about [-1.1, 1.1] including overshoot
        return float(3 * 1.1**2 - 1), self.kappa0

    @property
    def quench_depth(self) -> float:
        """Not defined for the phi^4 model: NaN."""
        return float("nan")

    def params(self) -> dict:
        """``phi0``, ``kappa``, the model's name and its (constant) gradient."""
        out = asdict(self)
        out.update(model=self.name, gradient="constant")
        return out


#: the free energies by their configuration name (``simulation.model``)
MODELS: dict[str, type[FreeEnergy]] = {
    FloryHugginsDeGennes.name: FloryHugginsDeGennes,
    Landau.name: Landau,
}


def model_class(name: str) -> type[FreeEnergy]:
    """The free-energy class of a configuration name; :class:`ParameterError` if unknown."""
    if name not in MODELS:
        raise ParameterError(f"model={name!r} is unknown; choose one of {sorted(MODELS)}")
    return MODELS[name]


def make_model(name: str, **params) -> FreeEnergy:
    """Build a model by name (``"flory_huggins"`` or ``"landau"``).

    Unknown names and unknown parameters raise :class:`ParameterError`.
    """
    cls = model_class(name)
    allowed = set(cls.__dataclass_fields__)
    extra = set(params) - allowed
    if extra:
        raise ParameterError(
            f"unknown parameter(s) {sorted(extra)} for model {name!r}; "
            f"allowed: {sorted(allowed)}"
        )
    return cls(**params)


def run_free_energy(name: str, *, phi0: float, N: float, quench: float, gradient: str,
                    kappa: float, chi: float | None = None) -> FreeEnergy:
    """The free energy of one run, refused unless ``phi0`` lies inside its spinodal.

    Parameters
    ----------
    name : {"flory_huggins", "landau"}
    phi0 : float
        Mean volume fraction.
    N, quench, gradient : float, float, str
        The blend's degree of polymerisation, ``chi / chi_s`` and gradient term.
    kappa : float
        The phi^4 model's gradient coefficient.
    chi : float, optional
        The blend's Flory parameter, instead of ``quench`` (None or NaN: use ``quench``).

    Raises
    ------
    ParameterError
        Naming the bad value (the model's own checks and :meth:`FreeEnergy.require_unstable`).
    """
    model = model_class(name).for_run(phi0=phi0, N=N, quench=quench, gradient=gradient,
                                      kappa=kappa, chi=chi)
    model.require_unstable()
    return model
