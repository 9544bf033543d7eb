"""Step control and the driver of a run: the step of every interval between
snapshots, the safeguarded adaptive step, and :func:`integrate`, which runs a
stepper (:mod:`scattermorph.sim.steppers`) and records its field at the
snapshot times.

References
----------
.. [1] R. D. Grigorieff, Numer. Math. 42, 359 (1983): stability of
   variable-step BDF2 (step ratios below 1 + sqrt 2).
"""

from __future__ import annotations

import math
import time as _time

import numpy as np

from scattermorph.errors import ParameterError, SimulationError
from scattermorph.sim.steppers import check_dt

__all__ = ["step_schedule", "check_dt_max", "admissible_range", "StepController", "integrate"]


def check_dt_max(dt: float, dt_max: float, *, prefix: str = "") -> None:
    """Refuse a step cap below the initial step.

    The one check of ``dt_max >= dt``, for :func:`step_schedule`,
    :func:`integrate` and a run's record (which names the config keys with
    ``prefix = "simulation.time."``).

    Raises
    ------
    ParameterError
        Naming both values.
    """
    if dt_max < dt:
        raise ParameterError(f"{prefix}dt_max={dt_max:g} must be >= {prefix}dt={dt:g}")


def step_schedule(times, dt, *, dt_growth=0.0, dt_max=None):
    """Split ``[0, times[-1]]`` into steps that land exactly on every snapshot.

    Within the interval that ends at snapshot ``i`` the step is uniform,
    ``(t_i - t_{i-1}) / n_i``, with ``n_i`` the fewest steps not longer than
    ``clip(dt_growth * t_{i-1}, dt, dt_max)``. With ``dt_growth = 0`` the step is
    ``dt`` throughout (up to the rounding needed to hit each time). Letting the
    step grow in proportion to the elapsed time follows the slowing-down of
    coarsening (domain size ~ t^(1/3)) and costs about
    ``ln(t_end / t_start) / dt_growth`` steps. The cap ``dt_max`` matters: the
    scheme's error at the domain scale grows with the step, and uncapped
    growth biases late coarsening (measured exponent 0.25-0.31 instead of
    1/3 for dt_growth 0.02-0.002, Landau 2D); ``dt_max <= tau`` keeps it at
    0.34 (tests/sim/test_steppers.py), and the study configs use that cap.

    Returns
    -------
    (T,) ndarray of int
        Number of steps in each interval.
    (T,) ndarray of float
        Step used in each interval.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or np.any(times < 0) or np.any(np.diff(times) <= 0):
        raise ParameterError(
            f"snapshot times {np.atleast_1d(times).tolist()} must be a non-empty, "
            "strictly increasing list of times >= 0"
        )
    dt = check_dt(dt)
    dt_max = dt if dt_max is None else float(dt_max)
    check_dt_max(dt, dt_max)
    if not (np.isfinite(dt_growth) and dt_growth >= 0):
        raise ParameterError(f"dt_growth={dt_growth!r} must be >= 0")
    starts = np.concatenate([[0.0], times[:-1]])
    spans = times - starts
    target = np.clip(dt_growth * starts, dt, dt_max)
    n = np.ceil(spans / target * (1 - 1e-12)).astype(np.int64)
    n[spans == 0] = 0
    h = np.where(n > 0, spans / np.maximum(n, 1), dt)
    return n, h


def admissible_range(model) -> tuple[float, float]:
    """Compositions a safeguarded step may produce: ``(lo, hi)``.

    For a model whose ``f'`` diverges at the pure phases
    (:attr:`~scattermorph.sim.free_energy.FreeEnergy.bounded`: the
    Flory-Huggins blend) a quarter of the way from each binodal composition to
    the pure phase, so a step that overshoots further is rejected and retried
    shorter, before a cell can leave (0, 1); unbounded for the phi^4 model.
    """
    if not model.bounded:
        return -math.inf, math.inf
    lo = min(model.coexistence()[0], model.phi0, 1.0 - model.phi0)
    return 0.25 * lo, 1.0 - 0.25 * lo


class StepController:
    """Safeguarded adaptive step of the semi-implicit scheme.

    The step follows the structure, ``dt = accuracy / rate`` with ``rate``
    the stepper's
    :meth:`~scattermorph.sim.steppers.SemiImplicitSpectral.splitting_rate`
    (re-evaluated every ``every`` steps), at most ``growth`` times the last
    accepted step and at most ``dt_max``; the last steps before each snapshot
    are shortened evenly to land on it. Safeguard: every step is tried
    (:meth:`~scattermorph.sim.steppers.SemiImplicitSpectral.try_step`) and
    taken back (``undo``) if the field leaves :func:`admissible_range` or is not finite, then retried
    ``shrink`` times shorter; the step then grows back by ``growth`` per
    step. A rare local fast event (a droplet that evaporates, an interface
    that pinches off) thus costs a few short steps instead of a blown-up run
    or a step kept small everywhere for its sake. A run whose retried step
    falls below 1 % of the initial step, or that is rejected ``max_rejects``
    times in a row, stops with :class:`SimulationError`.

    ``growth <= 1.5`` keeps the variable-step BDF2 zero-stable (step ratios
    below 1 + sqrt 2; Grigorieff 1983).

    Error control (``tolerance`` given): the step is also held to a local
    error estimate. Each second-order step gives ``e`` (the stepper's
    :attr:`~scattermorph.sim.steppers.SemiImplicitSpectral.last_error`): the
    difference in the H^-1 norm between the new field and the linear
    extrapolation of the last two, i.e. the embedded first-order
    (extrapolated Euler) pair of the BDF2 step, on the domain scale (modes
    up to 0.7 k_m), with each mode's noise content taken out and the
    lag-one product of successive differences (what is left of the noise
    averages out), relative to ``max(||phi' - <phi>||, floor)``; the floor
    is the norm of a phase-separated pattern at the fastest wavelength, an
    absolute tolerance for the linear regime; ``e ~ dt^2 |d^2 phi / dt^2| /
    ||phi - <phi>||``. The next step is ``h * safety * sqrt(tolerance / e)``
    (the estimate scales as ``dt^2``), ``growth * h`` where the product finds
    no error above the noise (``e = 0``); a step with ``e > reject *
    tolerance`` is taken back and retried at that length. The tolerance is
    thus the relative change of the composition pattern per step that a
    first-order step would get wrong, a physical quantity the same for every
    model and run. The splitting-rate rule stays as a cap (the study: accuracy
    2, which keeps steps short through local fast events such as an
    evaporating droplet, which the domain-scale estimate does not see;
    docs/model.md).
    """

    def __init__(self, stepper, accuracy: float, dt_max: float, *, growth: float = 1.25,
                 shrink: float = 0.5, every: int = 10, max_rejects: int = 40,
                 tolerance: float | None = None, safety: float = 0.9, reject: float = 4.0):
        if not (np.isfinite(accuracy) and accuracy > 0):
            raise ParameterError(f"accuracy={accuracy!r} must be > 0")
        if tolerance is not None and not (np.isfinite(tolerance) and tolerance > 0):
            raise ParameterError(f"tolerance={tolerance!r} must be > 0 (or None: no error control)")
        self.tolerance, self.safety, self.reject = tolerance, float(safety), float(reject)
        if tolerance is not None:
            stepper.track_noise()  # the estimate of the deterministic error
        self._err_target = math.inf
        self.stepper, self.accuracy, self.dt_max = stepper, float(accuracy), float(dt_max)
        self.growth, self.shrink, self.every = growth, shrink, int(every)
        self.max_rejects = max_rejects
        self.bounds = admissible_range(stepper.model)
        self.dt = stepper.base_dt  # last accepted (or retried) step
        # a run that needs steps 100x below its initial step is failing
        self.dt_min = 1e-2 * stepper.base_dt
        self._target = stepper.base_dt
        self.accepted = 0
        self.rejected = 0

    def _next_dt(self) -> float:
        st = self.stepper
        if self.accepted and self.accepted % self.every == 0:
            rate = st.splitting_rate()
            self._target = self.accuracy / rate if rate > 0 else self.dt_max
        if not self.accepted:
            return st.base_dt
        return min(self._target, self._err_target, self.dt_max, self.growth * self.dt)

    def _error_verdict(self, h: float) -> bool:
        """With a tolerance: set the error rule's next step from the last
        step ``h`` and its estimate; False if that step must be taken back."""
        if self.tolerance is None:
            return True
        e = self.stepper.last_error
        if math.isnan(e):  # a first-order step: no estimate
            return True
        if not e < 1.0:  # "the pattern changed by more than its size": the record diverged
            self.stepper.restart_noise_record()
            return True
        if e <= 0.0:  # no deterministic error above the noise: the rule lets the step grow
            self._err_target = h * self.growth
            return True
        self._err_target = h * min(self.growth, self.safety * math.sqrt(self.tolerance / e))
        return e <= self.reject * self.tolerance

    def advance_to(self, t_end: float, rng=None) -> int:
        """Step from the stepper's time to ``t_end`` exactly; returns the
        number of accepted steps."""
        st, n0, rejects = self.stepper, self.accepted, 0
        while t_end - st.time > 1e-12 * max(1.0, abs(t_end)):
            remaining = t_end - st.time
            dt = self._next_dt() if not rejects else self.dt
            n = math.ceil(remaining / dt * (1 - 1e-12))
            h = remaining / n  # land on t_end with even steps
            st.set_dt(h)
            _, lo, hi = st.try_step(rng)
            inside = self.bounds[0] < lo and hi < self.bounds[1]  # False for NaN
            if inside and not self._error_verdict(h) and self._err_target >= self.dt_min:
                st.undo()  # retried at the error rule's step (below 0.45 h)
                self.rejected += 1
                rejects += 1
                self.dt = self._err_target
                continue
            if inside:
                st.accept()
                self.accepted += 1
                rejects = 0
                self.dt = dt  # the proposal, not a step shortened to land on t_end
                if n == 1:
                    st.time = float(t_end)
                continue
            st.undo()
            if self.tolerance is not None:  # the step was beyond the scheme's stability
                st.restart_noise_record()
            self.rejected += 1
            rejects += 1
            self.dt = h * self.shrink
            if rejects > self.max_rejects or self.dt < self.dt_min:
                raise SimulationError(
                    f"the step control failed at t={st.time:.6g}: {rejects} steps in a "
                    f"row left the admissible range {self.bounds} or blew up (NaN/inf) "
                    f"(last field range [{lo:.4g}, {hi:.4g}], step {h:.3g}, at least "
                    f"{self.dt_min:.3g} allowed); lower the accuracy, the initial step "
                    "or the noise"
                )
        return self.accepted - n0


def integrate(
    stepper, phi_init, times, rng=None, *, dt_growth=0.0, dt_max=None, accuracy=None,
    safeguard=False, dtype=np.float32, log=None, tolerance=None,
):
    """Run ``stepper`` from ``phi_init`` and record the field at ``times``.

    The step starts at the stepper's initial step ``stepper.base_dt`` (so a
    reused stepper starts afresh). Then either

    * ``accuracy`` given (semi-implicit stepper): the step adapts to the
      structure, ``dt = accuracy / splitting_rate`` (see
      :meth:`~scattermorph.sim.steppers.SemiImplicitSpectral.splitting_rate`),
      re-evaluated every 10 steps, growing by at most 25 % per step, capped at ``dt_max``; the
      last steps before each snapshot are shortened evenly to land on it.
      The domain wavenumber k1 shrinks as the structure coarsens, so the step
      grows (as t^(2/3) while the stabilisation is constant); or
    * a fixed schedule, :func:`step_schedule` (``dt_growth``, ``dt_max``).

    Parameters
    ----------
    stepper : SemiImplicitSpectral or ExplicitEuler
    phi_init : (M, N[, P]) ndarray
    times : (T,) array_like of float
        Strictly increasing snapshot times >= 0 (a time 0 records ``phi_init``).
    rng : numpy.random.Generator, optional
        Needed when the stepper has noise.
    dt_growth, dt_max : float, optional
        Step growth with elapsed time, and the largest step.
    accuracy : float, optional
        ``dt * splitting_rate`` per step (dimensionless; 1.5 in the study with
        the selective stabiliser).
    safeguard : bool
        With ``accuracy``: step through :class:`StepController`, which takes
        back and retries shorter any step that leaves
        :func:`admissible_range` (the study's scheme).
    dtype : numpy dtype
        Storage type of the snapshots (float32 halves the files; its relative
        round-off, 6e-8, is far below every downstream tolerance).
    log : callable, optional
        Called with a progress string after each snapshot.
    tolerance : float, optional
        With ``accuracy`` and ``safeguard``: the local-error tolerance of
        :class:`StepController` (relative change of the field per step that
        the embedded first-order step gets wrong); None: the splitting-rate
        rule alone.

    Returns
    -------
    snapshots : (T, M, N[, P]) ndarray of ``dtype``
    steps : (T,) ndarray of int
        Cumulative number of steps at each snapshot.
    """
    times = np.asarray(times, dtype=float)
    adaptive = accuracy is not None
    if adaptive:
        dt_cap = _adaptive_cap(stepper, times, accuracy, dt_max, safeguard)
    else:
        nsteps, h = step_schedule(times, stepper.base_dt, dt_growth=dt_growth, dt_max=dt_max)
    stepper.set_state(phi_init)
    if tolerance is not None and not (adaptive and safeguard):
        raise ParameterError("tolerance (error-controlled steps) needs accuracy and safeguard=True")
    control = (StepController(stepper, accuracy, dt_cap, tolerance=tolerance)
               if adaptive and safeguard else None)
    stepper.set_dt(stepper.base_dt)
    out = np.empty((times.size,) + tuple(stepper.grid.shape), dtype=dtype)
    counts = np.zeros(times.size, dtype=np.int64)
    t0 = _time.perf_counter()
    t, total = 0.0, 0
    for i, tn in enumerate(times):
        if control is not None:
            total += control.advance_to(float(tn), rng)
        elif adaptive:
            t, total = _advance_adaptive(stepper, t, tn, total, accuracy, dt_cap, rng)
        else:
            total += _advance_scheduled(stepper, int(nsteps[i]), float(h[i]), rng)
        counts[i] = total
        stepper.time = float(tn)  # exact, free of accumulated round-off
        field = _finite_field(stepper, tn)
        out[i] = field
        if log is not None:
            log(
                f"snapshot {i + 1}/{times.size}: t={tn:.6g} dt={stepper.dt:.4g} "
                f"steps={total} min={field.min():.4f} max={field.max():.4f} "
                f"wall={_time.perf_counter() - t0:.2f}s"
            )
    return out, counts


def _adaptive_cap(stepper, times, accuracy, dt_max, safeguard) -> float:
    """Check the arguments of an accuracy-controlled run; returns its step cap."""
    if not hasattr(stepper, "suggest_dt") or (safeguard and not hasattr(stepper, "try_step")):
        raise ParameterError("accuracy-controlled steps need the semi-implicit stepper")
    if not (np.isfinite(accuracy) and accuracy > 0):
        raise ParameterError(f"accuracy={accuracy!r} must be > 0")
    step_schedule(times, stepper.base_dt)  # validates the times
    dt_cap = float(dt_max) if dt_max is not None else np.inf
    check_dt_max(stepper.base_dt, dt_cap)
    return dt_cap


def _advance_adaptive(stepper, t, tn, total, accuracy, dt_cap, rng, chunk=10):
    """Step from ``t`` to the snapshot time ``tn`` with ``dt = accuracy /
    splitting_rate`` (no safeguard), ``chunk`` steps between two re-evaluations
    of the rate, the last ones shortened evenly to land on ``tn``; the first
    step of the run is ``stepper.base_dt``.

    Returns
    -------
    t : float
        The time reached (``tn``).
    total : int
        Steps taken since the start of the run.
    """
    while tn - t > 1e-12 * max(1.0, tn):
        target = stepper.suggest_dt(accuracy, dt_cap) if total else stepper.base_dt
        remaining = tn - t
        n = int(math.ceil(remaining / target * (1 - 1e-12)))
        if n <= chunk:
            stepper.set_dt(remaining / n)
            stepper.step(n, rng)
            t = float(tn)
        else:
            stepper.set_dt(target)
            stepper.step(chunk, rng)
            t += chunk * target
            n = chunk
        total += n
    return t, total


def _advance_scheduled(stepper, n: int, dt: float, rng) -> int:
    """``n`` steps of ``dt`` (one interval of :func:`step_schedule`); returns ``n``."""
    if n > 0:
        if dt != stepper.dt:
            stepper.set_dt(dt)
        stepper.step(n, rng)
    return n


def _finite_field(stepper, tn) -> np.ndarray:
    """The stepper's field at snapshot time ``tn``; :class:`SimulationError` if not finite."""
    field = stepper.phi
    if not np.all(np.isfinite(field)):
        raise SimulationError(f"the field is not finite at t={tn:.6g}: reduce dt")
    return field
