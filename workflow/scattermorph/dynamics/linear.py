"""Cahn's linear theory from a time series S(q, t), and the late-stage growth law.

Early after a quench each Fourier mode of ``phi - phi0`` grows as
``exp(R(q) t)`` with (Cahn, Acta Metall. 9, 795 (1961); J. Chem. Phys. 42, 93
(1965); the project's units, :class:`~scattermorph.sim.free_energy.FreeEnergy`)

.. math::

    R(q) = -M q^2 \\big(f''(\\phi_0) + 2 \\kappa_0 q^2\\big),

so ``S(q, t) = S(q, 0) exp(2 R(q) t)`` and ``R(q) = d ln S / (2 dt)``. The
Cahn plot ``R(q) / q^2`` against ``q^2`` is a straight line of intercept
``-M f''(phi0)`` and slope ``-2 M kappa0``. With the de Gennes gradient
coefficient ``kappa0 = 1 / (36 phi0 (1 - phi0))`` known from ``phi0`` (b = 1),
the slope gives the mobility ``M``, the intercept then ``f''(phi0)``, and with
``N`` the Flory parameter ``chi = (1 / (N phi0 (1 - phi0)) - f'') / 2``, hence
``chi / chi_s``. Late, the structure coarsens self-similarly and the peak
moves as ``q1 ~ t^-alpha`` (Lifshitz-Slyozov: alpha = 1/3 for diffusive
coarsening).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from scattermorph.errors import ParameterError

__all__ = ["growth_rates", "cook_growth_rates", "CahnPlot", "cahn_plot", "joint_cahn_fit", "cook_model",
           "blend_parameters", "growth_exponent"]


def growth_rates(t, s_qt, *, t_max: float | None = None):
    """``R(q)`` from the slope of ``ln S(q, t)`` over the early times.

    Parameters
    ----------
    t : (T,) array_like
        Times of the curves.
    s_qt : (T, Q) array_like
        ``S(q, t)``, one curve per time; every value > 0.
    t_max : float, optional
        Use only ``t <= t_max`` (the linear regime); default all.

    Returns
    -------
    rate : (Q,) ndarray
        ``R(q)`` (1 / time), half the slope of ``ln S`` in ``t`` (least squares).
    stderr : (Q,) ndarray
        Standard error of each ``R`` from the residuals of its line.
    """
    t = np.asarray(t, dtype=float)
    s = np.asarray(s_qt, dtype=float)
    if s.ndim != 2 or s.shape[0] != t.size:
        raise ParameterError(f"S(q, t) has shape {s.shape}; need ({t.size}, Q): one curve per time")
    use = t <= (t_max if t_max is not None else np.inf)
    if use.sum() < 3:
        raise ParameterError(f"{use.sum()} curves at t <= t_max={t_max}: need >= 3 early curves")
    if np.any(~np.isfinite(s[use])) or np.any(s[use] <= 0):
        raise ParameterError("S(q, t) must be finite and > 0 at the fitted times (take the log)")
    x = t[use] - t[use].mean()
    y = np.log(s[use])
    slope = x @ (y - y.mean(0)) / (x @ x)
    resid = y - y.mean(0) - np.outer(x, slope)
    dof = max(x.size - 2, 1)
    se = np.sqrt((resid**2).sum(0) / dof / (x @ x))
    return slope / 2, se / 2


def cook_growth_rates(t, s_qt, *, t_max: float | None = None):
    """``R(q)`` from ``S(q, t) = A exp(2 R t) + C`` per q: Cook's linear theory with noise.

    Thermal noise feeds every mode at a constant rate, so the linearised
    Cahn-Hilliard-Cook equation gives ``dS/dt = 2 R S + 2 M epsilon q^2`` and
    ``S = A exp(2 R t) + C`` with ``C = -M epsilon q^2 / R`` (Cook, Acta
    Metall. 18, 297 (1970)); the plain fit of ``ln S`` (:func:`growth_rates`)
    mistakes the approach to ``C`` of a decaying mode, or the noise floor
    under a slowly growing one, for the rate. Fitted per q by least squares
    on relative residuals, started from the plain fit.

    Parameters
    ----------
    t, s_qt, t_max
        As :func:`growth_rates`.

    Returns
    -------
    rate, stderr : (Q,) ndarray
        ``R(q)`` and its standard error (from the Jacobian at the optimum).
    """
    rate0, _ = growth_rates(t, s_qt, t_max=t_max)
    t = np.asarray(t, dtype=float)
    use = t <= (t_max if t_max is not None else np.inf)
    if use.sum() < 4:
        raise ParameterError(f"{use.sum()} curves at t <= t_max={t_max}: the Cook fit needs >= 4")
    tt, s = t[use] - t[use][0], np.asarray(s_qt, dtype=float)[use]
    span = float(tt[-1])
    rate, se = np.empty(s.shape[1]), np.empty(s.shape[1])
    for j in range(s.shape[1]):
        rate[j], se[j] = _cook_fit(tt / span, s[:, j], rate0[j] * span)
    return rate / span, se / span


def _cook_fit(x, y, r0):
    """``(R, se)`` of ``y = A exp(2 R x) + C`` (x in units of the window), the best of a few starts
    (a mode that decays within the first interval leaves a flat curve: the plain fit's start fails)."""
    scale = float(np.abs(y).max())

    def resid(p):
        # the optimiser may try steep rates on its way: clip the exponent, not the answer
        return (p[0] * np.exp(np.clip(2 * p[1] * x, -700, 700)) + p[2] - y / scale) * scale / y

    best = None
    for r in (r0, -1.0, -5.0, -25.0, 1.0, 5.0):
        e = np.exp(2 * r * x)
        A = np.column_stack([e, np.ones_like(x)]) * (scale / y)[:, None]
        a, c = np.linalg.lstsq(A, np.ones_like(x), rcond=None)[0]   # A, C linear given R
        fit = least_squares(resid, [a, r, c], method="lm")
        if best is None or fit.cost < best.cost:
            best = fit
    dof = max(x.size - 3, 1)
    cov = np.linalg.pinv(best.jac.T @ best.jac) * (2 * best.cost / dof)
    return float(best.x[1]), float(np.sqrt(max(cov[1, 1], 0.0)))


@dataclass(frozen=True)
class CahnPlot:
    """The straight line ``R / q^2 = intercept + slope q^2``, with its covariance.

    Attributes
    ----------
    intercept : float
        ``-M f''(phi0)`` (1 / time, times b^2 in the project's units).
    slope : float
        ``-2 M kappa0``.
    cov : (2, 2) ndarray
        Covariance of ``(intercept, slope)``.
    """

    intercept: float
    slope: float
    cov: np.ndarray

    @property
    def q_critical(self) -> float:
        """``q_c = sqrt(-intercept / slope)``: the largest growing wavenumber."""
        return float(np.sqrt(-self.intercept / self.slope))


def cahn_plot(q, rate, *, stderr=None, q_max: float | None = None) -> CahnPlot:
    """Fit the Cahn plot ``R(q) / q^2`` against ``q^2``.

    Parameters
    ----------
    q : (Q,) array_like
        Wavenumbers (> 0).
    rate : (Q,) array_like
        ``R(q)`` (:func:`growth_rates`).
    stderr : (Q,) array_like, optional
        Standard errors of ``R``: weighted least squares with weights
        ``q^4 / stderr^2``.
    q_max : float, optional
        Fit only ``q <= q_max`` (beyond ``q_c`` the modes decay into the
        noise floor, where ``ln S`` is no longer linear in t).

    Returns
    -------
    CahnPlot
    """
    q = np.asarray(q, dtype=float)
    rate = np.asarray(rate, dtype=float)
    use = (q > 0) & np.isfinite(rate) & (q <= (q_max if q_max is not None else np.inf))
    if use.sum() < 3:
        raise ParameterError(f"{use.sum()} usable wavenumbers: the Cahn plot needs >= 3 with q > 0")
    x, y = q[use] ** 2, rate[use] / q[use] ** 2
    w = np.ones_like(x) if stderr is None else (q[use] ** 2 / np.asarray(stderr, float)[use]) ** 2
    A = np.column_stack([np.ones_like(x), x])
    Aw = A * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(Aw, y * np.sqrt(w), rcond=None)
    resid = y - A @ coef
    s2 = (w * resid**2).sum() / max(x.size - 2, 1)
    cov = np.linalg.inv(Aw.T @ Aw) * (s2 if stderr is None else max(s2, 1.0))
    return CahnPlot(float(coef[0]), float(coef[1]), cov)


def cook_model(t, q, log_s0, intercept, slope, g):
    """Cook's linearised ``S(q, t)`` with the Cahn rate ``R = q^2 (intercept + slope q^2)``.

    ``S = S0 e^(2 R t) + g q^2 (e^(2 R t) - 1) / R``: the initial spectrum
    amplified, plus the conserved thermal noise (strength ``g = M epsilon``)
    integrated (Cook, Acta Metall. 18, 297 (1970)); for ``R < 0`` it relaxes
    to the Ornstein-Zernike ``S_eq = -g q^2 / R``, at ``R = 0`` it grows as
    ``2 g q^2 t``.

    Parameters
    ----------
    t : (T,) array_like
        Times since the quench.
    q : (Q,) array_like
    log_s0 : (Q,) array_like
        ``ln S(q, 0)``.
    intercept, slope, g : float

    Returns
    -------
    (T, Q) ndarray
    """
    t, q = np.asarray(t, float)[:, None], np.asarray(q, float)[None]
    rate = q ** 2 * (intercept + slope * q ** 2)
    x = np.clip(2 * rate * t, -300, 300)  # an optimiser's trial rates may be steep: no overflow on the way
    small = np.abs(x) < 1e-8
    growth = np.where(small, 1.0, np.expm1(x) / np.where(small, 1.0, x))  # (e^x - 1) / x, 1 at x = 0
    return np.exp(np.clip(np.asarray(log_s0, float)[None] + x, -700, 700)) + g * q ** 2 * 2 * t * growth


def _joint_residuals(p, t, q, log_s, w):
    a, b, log_g = p[:3]
    model = cook_model(t, q, p[3:], a, b, np.exp(min(log_g, 300.0)))
    return ((np.log(np.maximum(model, 1e-300)) - log_s) * w).ravel()


def _joint_solve(t, q, log_s, w, start, noise):
    """Least squares of ln S over every (t, q) for (intercept, slope, ln g, ln S0(q)).

    ``start``: (intercept, slope, g); without ``noise`` g stays 0 (the ideal series).
    """
    head = [start[0], start[1]]
    if not noise:
        def fun(p):
            return _joint_residuals(np.concatenate([p[:2], [-np.inf], p[2:]]), t, q, log_s, w)

        x = least_squares(fun, np.concatenate([head, log_s[0]]), method="lm").x
        return np.concatenate([x[:2], [-np.inf], x[2:]])
    p0 = np.concatenate([head, [np.log(max(start[2], 1e-30))], log_s[0]])
    return least_squares(_joint_residuals, p0, args=(t, q, log_s, w), method="lm").x


def joint_cahn_fit(t, q, s_qt, *, modes=None, t_max: float | None = None, q_max: float | None = None,
                   noise: bool = True):
    """The Cahn plot fitted to every early curve at once, with Cook's noise term.

    Instead of one growth rate per q shell, then a line through the rates
    (:func:`growth_rates`, :func:`cook_growth_rates`, :func:`cahn_plot`), the
    whole early series ``ln S(q, t)`` is fitted by :func:`cook_model` with the
    Cahn-plot line itself as the rate, ``R(q) = q^2 (intercept + slope q^2)``,
    one noise strength ``g`` and one initial ``S(q, 0)`` per shell. The line's
    two numbers are then set by every shell and time together, and the noise
    floor the shells approach is the one the line implies, not a free constant
    per shell: a low-q shell with few modes, whose own rate is noisy, weighs
    only as much as its modes do (residuals in ln S weighted by
    ``sqrt(modes)``: the relative scatter of a mean of ``n`` exponential
    mode powers is ``1 / sqrt(n)``). The covariance of (intercept, slope) is a
    jackknife over shells (Efron & Stein, Ann. Stat. 9, 586 (1981)): the modes
    of different shells are independent, the times of one shell are not.

    Parameters
    ----------
    t : (T,) array_like
        Times of the curves (any origin: the model starts at the first used curve).
    q : (Q,) array_like
        Shell wavenumbers (> 0).
    s_qt : (T, Q) array_like
        ``S(q, t)`` (> 0 where used).
    modes : (Q,) array_like, optional
        Modes per shell (:func:`scattermorph.measure.scattering.radial_average`'s
        counts); default equal weights (a macroscopic sample's shells).
    t_max, q_max : float, optional
        Fit only ``t <= t_max`` and ``q <= q_max``.
    noise : bool
        Fit the noise term (False: ``g = 0``, the noise-free series).

    Returns
    -------
    plot : CahnPlot
        The line and its jackknife covariance.
    g : float
        The noise strength ``M epsilon`` (0 without ``noise``).
    """
    t, q, s = np.asarray(t, float), np.asarray(q, float), np.asarray(s_qt, float)
    use_t = t <= (t_max if t_max is not None else np.inf)
    use_q = (q > 0) & (q <= (q_max if q_max is not None else np.inf)) & np.all(np.isfinite(s[use_t]) & (s[use_t] > 0),
                                                                                axis=0)
    if use_t.sum() < 4 or use_q.sum() < 4:
        raise ParameterError(f"{use_t.sum()} early curves and {use_q.sum()} usable shells: the joint fit needs "
                             ">= 4 of each (t <= t_max, 0 < q <= q_max, S > 0)")
    t, q, s = t[use_t] - t[use_t].min(), q[use_q], s[use_t][:, use_q]  # Cook's solution from the first curve on
    w = np.sqrt(np.ones(q.size) if modes is None else np.asarray(modes, float)[use_q])[None]
    rate, _ = growth_rates(t, s)
    start = cahn_plot(q, rate)
    g0 = float(np.median(np.abs(np.diff(s, axis=0)).mean(0) / np.diff(t).mean() / q ** 2)) / 2
    p = _joint_solve(t, q, np.log(s), w, (start.intercept, start.slope, g0), noise)
    best = (p[0], p[1], np.exp(p[2]))
    jack = np.array([_joint_solve(t, np.delete(q, j), np.log(np.delete(s, j, axis=1)), np.delete(w, j, axis=1),
                                  best, noise)[:2] for j in range(q.size)])
    n = q.size
    cov = (n - 1) / n * (jack - jack.mean(0)).T @ (jack - jack.mean(0))
    return CahnPlot(float(p[0]), float(p[1]), cov), float(np.exp(p[2]))


def blend_parameters(plot: CahnPlot, *, phi0: float, N: float, kappa0: float | None = None):
    """Mobility, ``f''(phi0)``, ``chi`` and ``chi / chi_s`` from a Cahn plot.

    Parameters
    ----------
    plot : CahnPlot
    phi0 : float
        Mean volume fraction, in (0, 1).
    N : float
        Degree of polymerisation of both species.
    kappa0 : float, optional
        Gradient coefficient at ``phi0``; default the de Gennes value
        ``1 / (36 phi0 (1 - phi0))``.

    Returns
    -------
    dict
        ``mobility``, ``f2``, ``chi``, ``quench`` (``chi / chi_s``) and their
        standard deviations ``*_sd`` (first-order propagation of ``plot.cov``).
    """
    if not 0 < phi0 < 1 or not N > 0:
        raise ParameterError(f"phi0={phi0!r} must lie in (0, 1) and N={N!r} be > 0")
    k0 = 1.0 / (36 * phi0 * (1 - phi0)) if kappa0 is None else float(kappa0)
    a, b = plot.intercept, plot.slope
    M = -b / (2 * k0)
    f2 = -a / M                      # = 2 k0 a / b
    chi = (1 / (N * phi0 * (1 - phi0)) - f2) / 2
    chi_s = 1 / (2 * N * phi0 * (1 - phi0))
    jac_M = np.array([0.0, -1 / (2 * k0)])
    jac_f2 = np.array([2 * k0 / b, -2 * k0 * a / b**2])
    sd = lambda j: float(np.sqrt(j @ plot.cov @ j))  # noqa: E731
    return {"mobility": M, "mobility_sd": sd(jac_M), "f2": f2, "f2_sd": sd(jac_f2),
            "chi": chi, "chi_sd": sd(jac_f2) / 2, "quench": chi / chi_s,
            "quench_sd": sd(jac_f2) / 2 / chi_s}


def growth_exponent(t, q1, *, t_min: float = 0.0):
    """``alpha`` of ``q1 ~ t^-alpha`` by least squares in log-log, with its standard error.

    Parameters
    ----------
    t, q1 : (T,) array_like
        Times (> 0) and peak positions (> 0).
    t_min : float
        Fit only ``t >= t_min`` (the late, self-similar stage).

    Returns
    -------
    (float, float)
        ``alpha`` and its standard error.
    """
    t = np.asarray(t, dtype=float)
    q1 = np.asarray(q1, dtype=float)
    use = (t >= t_min) & (t > 0) & np.isfinite(q1) & (q1 > 0)
    if use.sum() < 3:
        raise ParameterError(f"{use.sum()} usable times >= t_min={t_min}: need >= 3")
    x, y = np.log(t[use]), np.log(q1[use])
    (slope, _), cov = np.polyfit(x, y, 1, cov=True) if use.sum() > 3 else (np.polyfit(x, y, 1), np.zeros((2, 2)))
    return float(-slope), float(np.sqrt(cov[0, 0]))
