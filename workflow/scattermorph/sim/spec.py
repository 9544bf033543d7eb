"""The record of one simulation, typed and checked once.

A :class:`RunSpec` is one row of the study's simulation table
(:func:`scattermorph.sim.sweep.simulation_table`), with its values cast to
their types and checked when it is made: the free energy inside its
spinodal, the grid, the scheme and stabiliser, and the time steps. It holds
the run's free energy (built once), its time unit and snapshot times, so the
sweep's parse-time check, the rule that runs the simulation and the emulator's
runs all read one object instead of a dictionary.

Time values of the record (``t_min``, ``t_max``, ``dt``, ``dt_max``) are in
units of ``tau = 1 / omega_max``, the fastest linear growth time of the run
(:attr:`~scattermorph.sim.free_energy.FreeEnergy.time_scale`), when
``time_unit == "tau"``, so runs at different compositions and quench depths
are sampled at the same dynamical stages; otherwise in the absolute unit
``b^2 / (M k_B T)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields

import numpy as np

from scattermorph.errors import ParameterError
from scattermorph.sim.control import check_dt_max
from scattermorph.sim.free_energy import FreeEnergy, run_free_energy
from scattermorph.sim.steppers import Grid, check_explicit_dt

__all__ = ["RunSpec", "MAX_DT_OVER_TAU", "MAX_DT_MAX_OVER_TAU", "SCHEMES", "STABILIZERS", "TIME_UNITS"]

#: largest initial step of the semi-implicit scheme, in units of the linear
#: growth time tau = 1/omega_max. Inside the spinodal the bulk term needs no
#: stabilisation (S = 0), and the implicit gradient term divides the fastest
#: mode's update by 1 + x (x = dt/tau; 1 + x/2 for the de Gennes split), so
#: its per-step factor is 1 + x/(1 + x) instead of exp(x): after the ~5 tau of
#: linear growth its amplitude is within 25 % of exp(5) for x <= 0.04
#: (tests/sim/test_run.py checks this for every model).
MAX_DT_OVER_TAU = 0.04
#: largest step cap dt_max, in units of tau: uncapped growth of the step biases
#: late coarsening (see scattermorph.sim.control.step_schedule).
MAX_DT_MAX_OVER_TAU = 1.0
#: time steppers (``simulation.scheme``)
SCHEMES = ("semi_implicit", "explicit")
#: stabilisers of the semi-implicit scheme (``simulation.stabilizer``)
STABILIZERS = ("selective", "uniform")
#: units of the record's times (``simulation.time.unit``)
TIME_UNITS = ("tau", "absolute")
# a float-rounding margin on the step limits: a step set to exactly the limit passes
_LIMIT_MARGIN = 1 + 1e-12


def _real(value) -> float:
    return float(value)


def _integer(value) -> int:
    out = int(value)
    if out != value:
        raise ParameterError(f"{value!r} is not an integer")
    return out


def _text(value) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{value!r} is not a string")
    return value


def _shape(value) -> tuple[int, ...]:
    return tuple(_integer(s) for s in np.atleast_1d(value))


def _optional_real(value) -> float | None:
    return None if value is None else float(value)


# casts of the record's values by field type, and back to what a row of the
# simulation table holds (numbers as numpy scalars: see RunSpec.as_params)
_CASTS = {"float": _real, "int": _integer, "str": _text, "tuple[int, ...]": _shape,
          "float | None": _optional_real}
_AS_ROW = {"float": np.float64, "int": np.int64, "str": str, "tuple[int, ...]": tuple,
           "float | None": np.float64}


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One simulation: its identity, free energy, grid, scheme and times.

    Make it from a row of the simulation table with :meth:`from_row`. The
    constructor checks the record and raises :class:`ParameterError` naming
    the first bad value: an unknown model, scheme, stabiliser or time unit;
    a free energy outside its spinodal
    (:func:`~scattermorph.sim.free_energy.run_free_energy`); a bad grid
    (:class:`~scattermorph.sim.steppers.Grid`); a step that is too large
    (:meth:`check_steps`).

    Attributes
    ----------
    sim_id : str
        Name of the run (and of its file).
    sim_index, seed : int
        The run's random streams: ``SeedSequence([seed, sim_index])``
        (:func:`scattermorph.seeds.simulation_generators`).
    replicate : int
        Replicate number within its (phi0, quench) point.
    model : {"flory_huggins", "landau"}
        Free energy (:mod:`scattermorph.sim.free_energy`).
    N, quench, gradient : float, float, str
        The blend's degree of polymerisation, ``chi / chi_s`` and gradient
        term (ignored by the phi^4 model).
    phi0 : float
        Mean volume fraction.
    kappa : float
        The phi^4 model's gradient coefficient (ignored by the blend).
    noise : float
        Cook noise amplitude (1 = thermal, 0 = none).
    shape : tuple of int
        Cells per side, 2 or 3 sides.
    dx : float
        Cell size (b).
    scheme : {"semi_implicit", "explicit"}
    laplacian : {"spectral", "fd"}
        Symbol of the Laplacian of the semi-implicit scheme.
    stabilization : float
        Multiplier of the semi-implicit stabilisation constants.
    stabilizer : {"selective", "uniform"}
        Stabiliser of the semi-implicit scheme (selective: the study's,
        with the safeguarded step of :class:`~scattermorph.sim.control.StepController`).
    init_amplitude : float
        Half-width of the uniform initial perturbation of ``phi0``.
    time_unit : {"tau", "absolute"}
        Unit of ``t_min``, ``t_max``, ``dt`` and ``dt_max``.
    t_min, t_max : float
        First and last snapshot time.
    n_snapshots : int
        Snapshots, log-spaced between ``t_min`` and ``t_max``.
    dt : float
        Initial time step.
    accuracy : float
        ``dt * splitting_rate`` of the adaptive semi-implicit step.
    dt_max : float
        Largest step of the semi-implicit scheme.
    chi : float, optional
        The blend's Flory parameter, used instead of ``quench`` when given
        (not None or NaN); not a column of the simulation table.
    tolerance : float, optional
        Local-error tolerance of the safeguarded step (relative change of the
        field per step that the embedded first-order step gets wrong;
        :class:`~scattermorph.sim.control.StepController`), on top of the
        ``accuracy`` rule; None (or NaN): the accuracy rule alone. A column of
        the simulation table only when the config sets it.
    """

    sim_id: str
    sim_index: int
    seed: int
    replicate: int
    model: str
    N: float
    quench: float
    phi0: float
    gradient: str
    kappa: float
    noise: float
    shape: tuple[int, ...]
    dx: float
    scheme: str
    laplacian: str
    stabilization: float
    stabilizer: str
    init_amplitude: float
    time_unit: str
    t_min: float
    t_max: float
    n_snapshots: int
    dt: float
    accuracy: float
    dt_max: float
    chi: float | None = None
    tolerance: float | None = None
    _free_energy: FreeEnergy = field(init=False, repr=False, compare=False)
    _grid: Grid = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for name, allowed in (("scheme", SCHEMES), ("stabilizer", STABILIZERS),
                              ("time_unit", TIME_UNITS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ParameterError(
                    f"{name}={value!r}: choose " + " or ".join(repr(a) for a in allowed)
                )
        if self.tolerance is not None and math.isnan(self.tolerance):
            object.__setattr__(self, "tolerance", None)  # a NaN cell of the table: unset
        if self.tolerance is not None and not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ParameterError(
                f"simulation.time.tolerance={self.tolerance!r} must be > 0 (or null: the "
                "accuracy rule alone)"
            )
        model = run_free_energy(self.model, phi0=self.phi0, N=self.N, quench=self.quench,
                                gradient=self.gradient, kappa=self.kappa, chi=self.chi)
        # the run's free energy and grid are built here, once (frozen: set past __setattr__)
        object.__setattr__(self, "_free_energy", model)
        object.__setattr__(self, "_grid", Grid(self.shape, self.dx))
        self.check_steps()

    @classmethod
    def from_row(cls, row: Mapping) -> RunSpec:
        """The run described by a row of the simulation table.

        Parameters
        ----------
        row : mapping
            Every column of :func:`scattermorph.sim.sweep.simulation_table`
            (and optionally ``chi``), values of any numeric type (numpy
            scalars, as a DataFrame row holds them), ``shape`` a list or tuple.

        Raises
        ------
        ParameterError
            For a missing or unknown key, a value of the wrong type, or any
            check of the constructor.
        """
        known = {f.name: f for f in fields(cls) if f.init}
        unknown = sorted(set(row) - set(known))
        if unknown:
            raise ParameterError(
                f"unknown key(s) {unknown} in the record of simulation {row.get('sim_id')!r}; "
                f"allowed: {sorted(known)}"
            )
        missing = [n for n, f in known.items() if n not in row and f.default is MISSING]
        if missing:
            raise ParameterError(
                f"the record of simulation {row.get('sim_id')!r} lacks {missing}: give every "
                "column of the simulation table (scattermorph.sim.sweep.simulation_table)"
            )
        values = {}
        for name, value in row.items():
            try:
                values[name] = _CASTS[known[name].type](value)
            except (TypeError, ValueError, ParameterError) as exc:
                raise ParameterError(f"{name}={value!r} in the record of simulation "
                                     f"{row.get('sim_id')!r}: {exc}") from None
        return cls(**values)

    def as_params(self) -> dict:
        """The record as a row of the simulation table holds it.

        The columns in the table's order (``chi`` last, only when given),
        numbers as ``numpy.float64`` / ``numpy.int64`` and ``shape`` a tuple
        of int. Snakemake reruns a job whose params' ``repr`` changed, so this
        is exactly the dict the rule's params held before the record was
        typed (a Python ``int`` where the row held ``np.int64`` would rerun
        every simulation).
        """
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.init or (f.name in ("chi", "tolerance") and value is None):
                continue
            out[f.name] = _AS_ROW[f.type](value)
        return out

    # -- the run's physics ------------------------------------------------------
    def free_energy(self) -> FreeEnergy:
        """The run's free energy (built and checked once, with the record)."""
        return self._free_energy

    def grid(self) -> Grid:
        """The run's periodic grid: ``shape`` cells of side ``dx`` (b)."""
        return self._grid

    def time_scale(self) -> float:
        """``tau = 1 / omega_max``, the fastest linear growth time of the run."""
        return self._free_energy.time_scale

    def unit_time(self) -> float:
        """One unit of the record's times in absolute units: tau, or 1."""
        return self.time_scale() if self.time_unit == "tau" else 1.0

    def snapshot_times(self) -> np.ndarray:
        """Log-spaced snapshot times, absolute units: (n_snapshots,) ndarray."""
        return self.unit_time() * np.geomspace(self.t_min, self.t_max, self.n_snapshots)

    def initial_dt(self) -> float:
        """The initial step, absolute units."""
        return self.dt * self.unit_time()

    def largest_dt(self) -> float:
        """The step cap, absolute units: ``dt_max``, or ``dt`` for the explicit
        scheme (forward Euler cannot take growing steps)."""
        if self.scheme == "explicit":
            return self.initial_dt()
        return self.dt_max * self.unit_time()

    # -- checks ------------------------------------------------------------------
    def check_steps(self) -> None:
        """The checks of the run's time steps (made by the constructor).

        For the explicit scheme the forward-Euler stability limit
        (:func:`~scattermorph.sim.steppers.check_explicit_dt`); for the
        semi-implicit scheme ``dt <= MAX_DT_OVER_TAU tau`` (the early linear
        growth resolved) and ``dt_max <= MAX_DT_MAX_OVER_TAU tau`` (the late
        coarsening unbiased); then ``dt_max >= dt``
        (:func:`~scattermorph.sim.control.check_dt_max`).

        Raises
        ------
        ParameterError
            Naming the config key, its value and unit, the limit and the fix.
        """
        unit = " tau" if self.time_unit == "tau" else " (absolute units)"
        if self.scheme == "explicit":
            check_explicit_dt(self._free_energy, self._grid, self.dt, unit_time=self.unit_time(),
                              name="simulation.time.dt", unit=unit)
        else:
            tau = self.time_scale()
            for name, value, limit, why in (
                ("dt", self.dt, MAX_DT_OVER_TAU, "the early linear growth would not be resolved"),
                ("dt_max", self.dt_max, MAX_DT_MAX_OVER_TAU, "larger steps bias the late coarsening"),
            ):
                if value * self.unit_time() > limit * tau * _LIMIT_MARGIN:
                    bound = f"{limit:g} tau" + ("" if self.time_unit == "tau" else f" = {limit * tau:.4g}")
                    raise ParameterError(
                        f"simulation.time.{name}={value}{unit} exceeds {bound} (tau = {tau:.4g} "
                        f"here): {why}; lower {name}"
                    )
        check_dt_max(self.dt, self.dt_max, prefix="simulation.time.")

    def check_box(self) -> None:
        """The study's box rule: at least four fastest-growing wavelengths
        (:attr:`~scattermorph.sim.free_energy.FreeEnergy.length_scale`) fit
        along the first side. Not a condition of a valid run (small test
        boxes run), so not made by the constructor.

        Raises
        ------
        ParameterError
            Naming the box, the wavelength and the fix.
        """
        box = self.shape[0] * self.dx
        lam = self._free_energy.length_scale
        if lam > box / 4:
            raise ParameterError(
                f"simulation.grid * simulation.dx = {box:g} is too small for {self.sim_id}: "
                f"the fastest-growing wavelength is {lam:.4g}, and at least 4 must fit in "
                "the box; raise grid or dx"
            )
