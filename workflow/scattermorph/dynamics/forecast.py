"""Forecasts from a held-out initial condition, and their errors against the true run.

Three forecasters:

* the discovered equation (:class:`~scattermorph.dynamics.weak.Fit`, weak or
  strong form), integrated by :func:`integrate_fit`;
* a purely data-driven linear operator learnt in Fourier space
  (:func:`fit_fourier_operator`): dynamic mode decomposition (Schmid, J. Fluid
  Mech. 656, 5 (2010)) of a translation-invariant system has the Fourier
  modes as its eigenvectors, so DMD on these periodic fields reduces to one
  multiplier per wavenumber shell, fitted by least squares over the training
  runs' successive snapshots;
* Cahn's linear theory, ``phi_hat(q, t) = phi_hat(q, 0) exp(R(q) t)`` with
  ``R(q)`` from the Cahn plot of the training series
  (:mod:`scattermorph.dynamics.linear`).

The project's stepper (:class:`~scattermorph.sim.steppers.SemiImplicitSpectral`)
evaluates only its two free energies' compiled chemical potentials, so a
discovered equation is integrated here by the same kind of scheme:
second-order IMEX (SBDF2) Fourier-spectral, linear terms implicit, the rest explicit
with a linear stabiliser ``S k^2 + A k^4`` on both sides (Chen & Shen,
Comput. Phys. Commun. 108, 147 (1998); Zhu et al., Phys. Rev. E 60, 3564
(1999)). At the true coefficients it reproduces the project's solver
(tests/dynamics).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from scattermorph.dynamics.strong import strong_terms
from scattermorph.errors import ParameterError
from scattermorph.fft import rfft_wavevectors
from scattermorph.measure.minkowski import KEYS, minkowski_batch, threshold
from scattermorph.measure.scattering import radial_profile

__all__ = ["integrate_fit", "fit_fourier_operator", "linear_forecast", "trajectory_errors",
           "shell_index"]


def _k2(shape, dx):
    return sum(k**2 for k in rfft_wavevectors(shape, dx))


def _split(fit, k2):
    """Implicit symbol ``L(k) <= 0`` of the damping linear terms and the other terms' indices.

    A linear term that makes modes grow (``lap(u)`` with a negative
    coefficient: the spinodal instability) stays explicit: treated
    implicitly its factor ``1 - dt L`` would pass through zero.
    """
    L = np.zeros_like(k2)
    explicit = []
    for j, (name, c) in enumerate(zip(fit.names, fit.coef)):
        if c == 0:
            continue
        if name in ("lap(u)", "lap(phi)") and c > 0:
            L = L - c * k2
        elif name == "lap^2(phi)" and c < 0:
            L = L + c * k2**2
        elif name == "phi" and c < 0:
            L = L + c
        else:
            explicit.append(j)
    return L, explicit


def _explicit_rhs(fit, idx, phi, dx, k2):
    """Fourier transform of the explicit part of the right-hand side."""
    axes = tuple(range(phi.ndim))
    out = np.zeros(k2.shape, dtype=complex)
    if fit.method == "strong":
        cols = strong_terms(phi, dx) if idx else None
        for j in idx:
            out += fit.coef[j] * sfft.rfftn(cols[j])
        return out
    # every term is lap(g_j): sum c_j g_j in real space, then one transform
    total = np.zeros(phi.shape)
    for j in idx:
        t, c = fit.terms[j], fit.coef[j]
        if t.kind == "degennes":
            psi = np.arcsin(np.clip(2 * phi - 1, -1, 1)) / 6.0
            lap_psi = sfft.irfftn(-k2 * sfft.rfftn(psi), s=phi.shape, axes=axes)
            total += c * lap_psi / (6.0 * np.sqrt(np.clip(phi * (1 - phi), 1e-300, None)))
        else:
            total += c * t.g(phi)
    if idx:
        out += -k2 * sfft.rfftn(total)
    return out


def _stabiliser(fit, idx, k2, lo, hi):
    """``S k^2 + A k^4``: half the largest stiffness of the explicit terms over [lo, hi]
    (Shen & Yang, Discrete Contin. Dyn. Syst. 28, 1669 (2010): half suffices for energy stability)."""
    grid = np.linspace(lo, hi, 201)
    S = A = 0.0
    for j in idx:
        t, c = fit.terms[j], fit.coef[j]
        if fit.method == "strong":
            continue
        if t.kind == "degennes":
            A += abs(c) * float(np.max(1 / (36 * grid * (1 - grid))))
        else:
            S += abs(c) * float(np.max(np.abs(np.gradient(t.g(grid), grid)))) / 2
    return S * k2 + A * k2**2


def integrate_fit(fit, phi_init, dx: float, times, *, dt: float, margin: float = 0.0):
    """Integrate a discovered equation from ``phi_init``, recording ``times``.

    Parameters
    ----------
    fit : Fit
    phi_init : (M, N[, P]) ndarray
        Initial field (at time ``times[0]``).
    dx : float
    times : (T,) array_like
        Increasing output times; ``times[0]`` is the start.
    dt : float
        Fixed step (shortened to land on each output time).
    margin : float
        The stabiliser takes the stiffness of the explicit terms over the
        composition range of the current field widened by ``margin`` of its
        width on each side (clipped to (0.001, 0.999)), re-evaluated every
        step, as the project's adaptive stabilisation does.

    Returns
    -------
    (T, M, N[, P]) ndarray
        The field at ``times``; NaN from the first output time after the
        equation blew up (a discovered model need not be stable).
    """
    times = np.asarray(times, dtype=float)
    phi = np.array(phi_init, dtype=float)
    if not (np.isfinite(dt) and dt > 0):
        raise ParameterError(f"dt={dt!r} must be > 0")
    k2 = _k2(phi.shape, dx)
    L, idx = _split(fit, k2)
    out = np.full((times.size,) + phi.shape, np.nan)
    out[0] = phi
    state = {"hat": sfft.rfftn(phi), "prev": None, "h": None}
    for i in range(1, times.size):
        n = max(1, int(np.ceil((times[i] - times[i - 1]) / dt - 1e-9)))
        h = (times[i] - times[i - 1]) / n
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                for _ in range(n):
                    w = margin * (phi.max() - phi.min())
                    lo, hi = max(phi.min() - w, 1e-3), min(phi.max() + w, 1 - 1e-3)
                    stab = _stabiliser(fit, idx, k2, lo, max(hi, lo + 1e-6))
                    phi = _sbdf2_step(fit, idx, phi, dx, k2, L, stab, h, state)
        except (FloatingPointError, ValueError):
            return out
        if not np.all(np.isfinite(phi)):
            return out
        out[i] = phi
    return out


def _sbdf2_step(fit, idx, phi, dx, k2, L, stab, h, state):
    """One stabilised SBDF2 step (Ascher, Ruuth & Wetton, SIAM J. Numer. Anal. 32, 797
    (1995)); IMEX Euler when there is no history at this step."""
    nl = _explicit_rhs(fit, idx, phi, dx, k2)
    hat = state["hat"]
    if state["prev"] is None or state["h"] != h:
        new = (hat + h * nl + h * stab * hat) / (1.0 - h * L + h * stab)
    else:
        hat_p, nl_p = state["prev"]
        extrap = 2 * hat - hat_p
        new = (4 * hat - hat_p + 2 * h * (2 * nl - nl_p) + 2 * h * stab * extrap) / (
            3.0 - 2 * h * L + 2 * h * stab)
    state.update(prev=(hat, nl), hat=new, h=h)
    return sfft.irfftn(new, s=phi.shape)


def shell_index(shape, dx: float, edges):
    """Shell (bin of ``|k|`` in ``edges``) of every half-complex mode; -1 outside."""
    kmag = np.sqrt(_k2(shape, dx))
    idx = np.searchsorted(np.asarray(edges, float), kmag, side="right") - 1
    idx[(idx >= len(edges) - 1)] = -1
    return idx


def fit_fourier_operator(runs, times, dx: float, edges):
    """Per-shell growth rate ``r(q)`` of the best linear map ``phi_hat(t+h) = e^(r h) phi_hat(t)``.

    Parameters
    ----------
    runs : list of (T, M, N[, P]) ndarray
        Training series at the same ``times``.
    times : (T,) ndarray
    dx : float
    edges : (Q+1,) array_like
        Shells of ``|k|``.

    Returns
    -------
    (Q,) ndarray
        ``r(q)`` (1 / time): the least-squares multiplier over every pair of
        successive snapshots of every run, as a rate (NaN for an empty shell).
    """
    times = np.asarray(times, float)
    h = np.diff(times)
    if np.ptp(h) > 1e-9 * h.mean():
        raise ParameterError("the Fourier operator needs evenly spaced snapshots")
    idx = shell_index(runs[0].shape[1:], dx, edges)
    nb = len(edges) - 1
    num, den = np.zeros(nb), np.zeros(nb)
    for phi in runs:
        f = sfft.rfftn(phi - phi.mean(axis=tuple(range(1, phi.ndim)), keepdims=True),
                       axes=tuple(range(1, phi.ndim)))
        cross = (np.conj(f[:-1]) * f[1:]).real.sum(0)
        power = (np.abs(f[:-1]) ** 2).sum(0)
        ok = idx >= 0
        num += np.bincount(idx[ok], cross[ok], minlength=nb)
        den += np.bincount(idx[ok], power[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = num / den
        return np.where(a > 0, np.log(np.where(a > 0, a, 1.0)) / h[0], np.nan)


def linear_forecast(phi_init, dx: float, times, edges, rate):
    """Every mode of ``phi_init - mean`` grown as ``exp(r(q) (t - t0))``.

    ``rate`` is one value per shell of ``edges`` (modes in shells with no
    rate, NaN, or outside ``edges`` keep their amplitude), or a callable of
    ``k^2`` evaluated at every mode (e.g.
    :meth:`~scattermorph.sim.free_energy.FreeEnergy.linear_growth_rate`).

    Returns
    -------
    (T, M, N[, P]) ndarray
    """
    phi_init = np.asarray(phi_init, float)
    times = np.asarray(times, float)
    if callable(rate):
        r = rate(_k2(phi_init.shape, dx))
    else:
        idx = shell_index(phi_init.shape, dx, edges)
        r = np.where(idx >= 0, np.nan_to_num(np.asarray(rate, float)[np.maximum(idx, 0)]), 0.0)
    f0 = sfft.rfftn(phi_init - phi_init.mean())
    with np.errstate(over="ignore", invalid="ignore"):
        out = [phi_init.mean() + sfft.irfftn(f0 * np.exp(r * (t - times[0])), s=phi_init.shape)
               for t in times]
    return np.array(out)


def trajectory_errors(pred, true, dx: float, edges) -> dict:
    """Errors of a forecast against the true run, per time.

    Parameters
    ----------
    pred, true : (T, M, N[, P]) ndarray
    dx : float
    edges : (Q+1,) array_like
        Shells of ``S(q)``.

    Returns
    -------
    dict of (T,) ndarray
        ``sq``: relative L2 error of the radially averaged ``S(q)``,
        ``||S_pred - S_true|| / ||S_true||``; for each Minkowski functional
        (2D: area, perimeter, euler; 3D: volume, surface, mean_curvature,
        euler) the absolute error of its density over the largest ``|true|``
        density of the run (the Euler characteristic crosses zero, so a
        relative error per time would blow up there). Both phases are cut at
        the field's mean (:func:`scattermorph.measure.minkowski.threshold`).
        NaN where the forecast blew up.
    """
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    if pred.shape != true.shape:
        raise ParameterError(f"forecast {pred.shape} and truth {true.shape} differ in shape")
    ndim = true.ndim - 1
    ok = np.all(np.isfinite(pred.reshape(pred.shape[0], -1)), axis=1)
    sq = np.full(true.shape[0], np.nan)
    for i in np.flatnonzero(ok):
        sp, _ = radial_profile(pred[i], dx, edges)
        st, _ = radial_profile(true[i], dx, edges)
        good = np.isfinite(st) & np.isfinite(sp)
        sq[i] = np.linalg.norm(sp[good] - st[good]) / np.linalg.norm(st[good])
    mt = minkowski_batch(np.array([threshold(f, "mean") for f in true]), spacing=dx)
    out = {"sq": sq}
    for k in KEYS[ndim]:
        out[k] = np.full(true.shape[0], np.nan)
    if ok.any():
        mp = minkowski_batch(np.array([threshold(f, "mean") for f in pred[ok]]), spacing=dx)
        for k in KEYS[ndim]:
            key = f"{k}_density"
            scale = np.max(np.abs(mt[key])) or 1.0
            out[k][ok] = np.abs(mp[key] - mt[key][ok]) / scale
    return out
