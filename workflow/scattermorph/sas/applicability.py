"""Can a scattering curve come from a phase-separated (spinodal, coarsening) blend?

A blend quenched into its spinodal region develops a bicontinuous pattern with one
dominant length L; its scattering ``I(q)`` has a maximum at ``q1 ~ 2 pi / L``,
falls towards ``q = 0`` (the order parameter is conserved: ``I ~ q^4`` for
Cahn-Hilliard, Furukawa's scaling form ``~ q^2``) and falls steeply beyond the
peak (``q^-4`` at the latest, Porod's law for sharp interfaces, steeper while the
interfaces are diffuse: Furukawa, Adv. Phys. 34, 703 (1985); Bray, Adv. Phys.
43, 357 (1994)). Structures of other kinds give other shapes: a one-phase blend
the Ornstein-Zernike (Lorentzian) ``I0 / (1 + (q xi)^2)`` without a peak; dilute
particles a decreasing curve with form-factor oscillations; fractals, coils and
rough surfaces power laws shallower than ``q^-4``; concentrated liquids of
particles a peak followed by secondary maxima.

:func:`assess_curve` measures these features on a curve as a facility writes it
(any q range, noise dI, resolution dQ, a flat incoherent background) and returns
an :class:`Applicability`: ``"refused"`` when the curve has no maximum the
model can be applied to (nothing to predict), ``"flagged"`` when it has one but
its shape is outside what the study's simulated curves show (the prediction is
an extrapolation), ``"ok"`` otherwise, each with the reasons in words.

The thresholds are tuned on the study's own simulated curves (64^3, Flory-Huggins
Cahn-Hilliard-Cook, 5-60 tau) degraded with resolution, noise, backgrounds and q
windows, on half of the simulations, and checked on the other half and on curves
of other structures from sasmodels (``benchmarks/bench_applicability.py``,
``docs/predict.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import find_peaks

from scattermorph.errors import ParameterError

__all__ = ["Applicability", "assess_curve", "VERDICTS", "THRESHOLDS"]

VERDICTS = ("ok", "flagged", "refused")

#: tuned thresholds (see the module docstring and ``docs/predict.md``): each is
#: the study's simulated curves' extreme with a margin
THRESHOLDS = {
    # smoothing: Gaussian kernel in ln q, at least this wide (and at least the resolution)
    "smooth_ln_q": 0.07,
    # an interior maximum counts when it stands this many noise sigmas and this factor above both ends
    "peak_sigmas": 2.5,
    "peak_ratio": 1.05,
    # a fitted model "describes" a curve when its rms log residual is within this factor of the noise
    "fit_noise_factor": 1.5,
    # and at most this rms in ln I (a few per cent: a model off by more is not the curve)
    "fit_rms_max": 0.05,
    # peak shape: half-height points q/q1 (the study's curves, smeared with dQ/q <= 10 %, stay inside: measured
    # 0.51-0.77 and 1.24-1.88 on the tuning simulations in all windows and backgrounds; the high side's widest
    # are late curves whose 64^3 box scatters by tens of per cent between bins beyond the peak)
    "half_low_min": 0.45,
    "half_high_max": 2.0,
    # ... and no narrower than theirs: the full width at half height ln(q+/q-) (both points measured; the
    # study's at least 0.27, resolution 0-10 % included; a liquid's or a lattice's first peak can be narrower)
    "width_min": 0.25,
    # low-q side: I(x q1) / I(q1) at most these at x = 0.3 and 0.5 (a conserved order parameter: I -> 0 as q -> 0;
    # the tuning simulations' 99.9th percentiles 0.084 and 0.70, medians 0.004 and 0.055)
    "low_q_ratio_max": {0.3: 0.2, 0.5: 0.6},
    # the q range around the peak must reach below and above these (q/q1) to judge its shape
    "short_range": (0.85, 1.3),
    # ... and below 0.5 q1 it falls towards q = 0 at least this steeply (d ln I / d ln q above the background
    # bound; the tuning simulations' 2.1-8.7, 99.8 % above 2.4, with the tail bound; 4.4 and steeper with the
    # largest bound but for one window whose background equals I(1.5 q1); 2.2 on the example's coarse grid)
    "low_q_slope_min": 2.0,
    # high-q slope beyond 1.8 q1 (flat background fitted beside it): the study's curves fall faster than
    # Porod's q^-4 there (diffuse interfaces; the shallowest fitted -4.0 to -4.1, but never above -4.5 by one
    # standard error); flagged above this by ``tail_slope_sigmas`` standard errors
    "tail_slope_max": -4.25,
    "tail_slope_sigmas": 1.0,
    # secondary maxima beyond the peak standing this many noise sigmas above their neighbours
    "secondary_sigmas": 5.0,
    # ... and by this factor at least (form-factor minima are deep; a few-mode wiggle of a small box is not)
    "secondary_ratio": 1.15,
}


@dataclass(frozen=True)
class Applicability:
    """Whether a curve can come from a phase-separated structure like the study's.

    Attributes
    ----------
    verdict : str
        ``"ok"``, ``"flagged"`` (predict with a warning) or ``"refused"`` (no answer).
    reasons : tuple of (str, str)
        ``(code, sentence)`` pairs; empty for ``"ok"``.
    diagnostics : dict
        What was measured (JSON-ready floats, None where not measurable):
        ``q_peak`` (q unit of the curve), ``peak_over_low_end``,
        ``peak_over_high_end``, ``half_low``/``half_high`` (q/q_peak where the
        curve falls to half its peak), ``tail_slope`` (fitted exponent of
        ``A q^slope + B`` beyond 1.8 q_peak), ``n_secondary_maxima``,
        ``noise_ln`` (noise of ln I per point), ``oz_rms``/``power_law_rms``/
        ``power_law_exponent`` (for curves without a peak), ``background``.
    """

    verdict: str
    reasons: tuple = ()
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: ``verdict``, ``reasons`` [{code, reason}], ``diagnostics``."""
        return {"verdict": self.verdict, "reasons": [{"code": c, "reason": r} for c, r in self.reasons],
                "diagnostics": dict(self.diagnostics)}

    def text(self) -> str:
        """The reasons as one paragraph (empty for ``"ok"``)."""
        return " ".join(r for _, r in self.reasons)


# --------------------------------------------------------------------------
# smoothing and noise
# --------------------------------------------------------------------------
def _smooth(lnq, lni, width):
    """Gaussian-kernel local-linear smooth of ln I against ln q (a Savitzky-Golay that tolerates uneven steps)."""
    d = lnq[None, :] - lnq[:, None]
    w = np.exp(-0.5 * (d / width) ** 2)
    sw, sd, sdd = w.sum(1), (w * d).sum(1), (w * d * d).sum(1)
    sy, sdy = (w * lni).sum(1), (w * d * lni[None, :]).sum(1)
    det = sw * sdd - sd ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        fit = np.where(det > 1e-12 * sw * sdd, (sdd * sy - sd * sdy) / det, sy / sw)
    n_eff = sw ** 2 / (w ** 2).sum(1)
    return fit, n_eff


def _noise_ln(lni, smooth, rel_error):
    """Noise of ln I per point: the larger of the stated dI/I and the scatter about the smooth curve."""
    resid = lni - smooth
    scatter = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    stated = float(np.median(rel_error)) if rel_error is not None else 0.0
    return max(scatter, stated, 1e-3)


# --------------------------------------------------------------------------
# fits for curves without a peak
# --------------------------------------------------------------------------
def _fit_rms(model, p0, lo, hi, q, intensity, weights, *, full=False, weighted=False):
    """Rms of ln I - ln model after a bounded, weighted least-squares fit (robust soft-L1 loss).

    With ``full`` also the standard errors of the parameters (from the Jacobian, scaled by the rms);
    with ``weighted`` the rms of the weighted residuals (with weights I/dI: the reduced chi of the fit).
    """
    def resid(p):
        m = model(p, q)
        return weights * (np.log(np.maximum(m, 1e-300)) - np.log(intensity))
    try:
        res = least_squares(resid, p0, bounds=(lo, hi), loss="soft_l1", f_scale=0.05, x_scale="jac",
                            max_nfev=400)
    except ValueError:
        return (np.inf, None, None) if full else (np.inf, None)
    r = resid(res.x) if weighted else resid(res.x) / weights
    rms = float(np.sqrt(np.mean(r ** 2)))
    if not full:
        return rms, res.x
    dof = max(q.size - len(p0), 1)
    cov = np.linalg.pinv(res.jac.T @ res.jac) * float(np.sum(r ** 2)) / dof
    return rms, res.x, np.sqrt(np.abs(np.diag(cov)))


def _fit_oz(q, intensity, weights, *, weighted=False):
    """Ornstein-Zernike with a flat background: ``I0 / (1 + (q xi)^2) + B`` (rms in ln I, xi q_max)."""
    imax = intensity.max()
    p0 = [np.log(intensity[0] * 1.1), np.log(1.0 / q[q.size // 2]), 0.1 * intensity[-1]]

    def model(p, qq):
        return np.exp(p[0]) / (1 + (qq * np.exp(p[1])) ** 2) + p[2]
    rms, p = _fit_rms(model, p0, [np.log(imax) - 5, np.log(1e-3 / q[-1]), 0.0],
                      [np.log(imax) + 10, np.log(1e3 / q[0]), imax], q, intensity, weights, weighted=weighted)
    return rms, (None if p is None else float(np.exp(p[1])))


def _debye(x2):
    """Debye's function of a Gaussian coil, g_D = 2 (e^-x + x - 1) / x^2 with x = (q Rg)^2 (series near 0)."""
    x2 = np.asarray(x2, dtype=float)
    small = x2 < 1e-4
    safe = np.where(small, 1.0, x2)
    return np.where(small, 1 - x2 / 3 + x2 ** 2 / 12, 2 * (np.expm1(-safe) + safe) / safe ** 2)


def _fit_rpa(q, intensity, weights, *, weighted=False):
    """One-phase binary blend in the random-phase approximation, with a flat background.

    For a symmetric blend (equal chain lengths and radii of gyration) de Gennes'
    RPA gives S(q)^-1 proportional to 1/g_D(q Rg) - chi/chi_s (de Gennes,
    *Scaling Concepts in Polymer Physics*, 1979, ch. IX): ``I = K / (1/g_D(q Rg) -
    c) + B`` with ``c = chi/chi_s < 1`` in the one-phase region. Its small-q
    limit is Ornstein-Zernike; beyond q Rg ~ 1 it follows the coils' q^-2.

    Returns
    -------
    rms : float
        In ln I.
    params : (float, float) or None
        ``Rg`` (1/q unit) and ``c`` (chi/chi_s).
    """
    imax = intensity.max()
    p0 = [np.log(intensity[0] * 0.5), np.log(1.0 / q[q.size // 2]), 0.5, 0.1 * intensity[-1]]

    def model(p, qq):
        return np.exp(p[0]) / (1.0 / _debye((qq * np.exp(p[1])) ** 2) - p[2]) + p[3]
    rms, p = _fit_rms(model, p0, [np.log(imax) - 12, np.log(1e-3 / q[-1]), -5.0, 0.0],
                      [np.log(imax) + 5, np.log(1e3 / q[0]), 0.999, imax], q, intensity, weights,
                      weighted=weighted)
    return rms, (None if p is None else (float(np.exp(p[1])), float(p[2])))


def _fit_power_law(q, intensity, weights):
    """``A q^-p + B`` over the whole range (rms in ln I, p)."""
    imax = intensity.max()
    slope = -np.polyfit(np.log(q), np.log(intensity), 1)[0]
    p0 = [np.log(intensity[0]) + max(slope, 0.1) * np.log(q[0]), max(slope, 0.1), 0.1 * intensity[-1]]

    def model(p, qq):
        return np.exp(p[0] - p[1] * np.log(qq)) + p[2]
    rms, p = _fit_rms(model, p0, [-np.inf, 0.0, 0.0], [np.inf, 8.0, imax], q, intensity, weights)
    return rms, (None if p is None else float(p[1]))


def _tail_slope(q, intensity, weights, q_peak):
    """Exponent of ``A q^s + B`` fitted beyond 1.8 q_peak, its standard error, and the fit's rms in ln I.

    (None, None, None) with fewer than 8 points or less than a factor 2 in q
    there: over a shorter range a power law and a flat background trade off.
    """
    m = q > 1.8 * q_peak
    if m.sum() < 8 or q[m][-1] < 2.0 * q[m][0]:
        return None, None, None
    qq, ii, ww = q[m], intensity[m], weights[m]
    p0 = [np.log(ii[0]) + 4 * np.log(qq[0]), 4.0, 0.1 * ii[-1]]

    def model(p, x):
        return np.exp(p[0] - p[1] * np.log(x)) + p[2]
    rms, p, err = _fit_rms(model, p0, [-np.inf, 0.0, 0.0], [np.inf, 12.0, ii.max()], qq, ii, ww, full=True)
    return (None, None, None) if p is None else (-float(p[1]), float(err[1]), rms)


# --------------------------------------------------------------------------
# the features of a peak
# --------------------------------------------------------------------------
def _excess(lnq, smooth, k):
    """ln of the smoothed I / I(q_peak) less a flat-background bound, and which bound was taken.

    When the curve reaches 2 q_peak the bound is the lowest smoothed I beyond the
    peak (there the tail has fallen well below the peak, so what is left is
    mostly background: ``"tail"``). A curve that stops before 2 q_peak cannot
    tell its tail from a background; the bound is then the lowest smoothed I
    anywhere in the range (``"largest"``), the largest flat background the
    data allow. Either way the peak's width and its low-q side are measured on
    the rest, so that a flat incoherent background (up to the intensity at the
    largest q) neither widens the peak nor lifts its low-q side, and with the
    largest bound a low-q side that stays high is one no flat background can
    explain. Points at or below the bound get -inf.
    """
    lin = np.exp(smooth - smooth[k])
    reaches = lnq[-1] - lnq[k] >= np.log(2.0)
    floor = 0.999 * (lin[k:].min() if reaches else lin.min())
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(lin - floor, 0.0)), ("tail" if reaches else "largest")


def _half_point(lnq, smooth, k, step):
    """q/q_peak where the curve (``_excess``) first falls to half its peak value, walking by ``step``; None if never."""
    target = smooth[k] - np.log(2)
    i = k
    while 0 <= i + step < lnq.size:
        if smooth[i + step] <= target:
            a, b = smooth[i], smooth[i + step]
            x = lnq[i] + (target - a) / (b - a) * (lnq[i + step] - lnq[i])
            return float(np.exp(x - lnq[k]))
        i += step
    return None


def _low_q_ratios(lnq, smooth, k):
    """Smoothed I(x q_peak) / I(q_peak) at the reference x of ``THRESHOLDS["low_q_ratio_max"]`` inside the range."""
    out = {}
    for x in THRESHOLDS["low_q_ratio_max"]:
        at = lnq[k] + np.log(x)
        if at >= lnq[0]:
            i = np.searchsorted(lnq, at)
            lo = max(i - 1, 0)
            # linear in I between the two neighbours (smooth is -inf where the excess vanishes)
            a, b = np.exp(smooth[lo] - smooth[k]), np.exp(smooth[i] - smooth[k])
            f = 0.0 if i == lo else (at - lnq[lo]) / (lnq[i] - lnq[lo])
            out[x] = float(a + f * (b - a))
    return out


def _low_q_slope(lnq, excess, k):
    """d ln I / d ln q below 0.5 q_peak (on ``_excess``); None with < 4 points or < a factor 1.5 in q there."""
    m = (lnq <= lnq[k] + np.log(0.5)) & np.isfinite(excess)
    if m.sum() < 4 or lnq[m][-1] - lnq[m][0] < np.log(1.5):
        return None
    return float(np.polyfit(lnq[m], excess[m], 1)[0])


def _secondary_maxima(smooth, k, noise_eff):
    """Maxima of the smoothed curve beyond the peak that stand clear of their neighbours."""
    after = smooth[k:]
    if after.size < 5:
        return 0
    found, _ = find_peaks(after, prominence=max(THRESHOLDS["secondary_sigmas"] * noise_eff,
                                                np.log(THRESHOLDS["secondary_ratio"])))
    return int(found.size)


def _peak(lnq, lni, smooth, n_eff, noise, width):
    """The interior maximum of the smoothed curve and how far it stands above both ends.

    Interior: at least one smoothing ``width`` (in ln q) from either end, so that
    the end of a decreasing curve bent by noise or smoothing is not a peak.
    """
    k = int(np.argmax(smooth))
    sig = noise / np.sqrt(n_eff)
    end_lo, end_hi = smooth[0], smooth[-1]
    over_lo, over_hi = smooth[k] - end_lo, smooth[k] - end_hi
    z_lo = over_lo / np.hypot(sig[k], sig[0])
    z_hi = over_hi / np.hypot(sig[k], sig[-1])
    need = np.log(THRESHOLDS["peak_ratio"])
    interior = (lnq[k] - lnq[0] >= width and lnq[-1] - lnq[k] >= width and z_lo >= THRESHOLDS["peak_sigmas"] and z_hi >= THRESHOLDS["peak_sigmas"]
                and over_lo >= need and over_hi >= need)
    return k, bool(interior), float(np.exp(over_lo)), float(np.exp(over_hi))


# --------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------
def _inputs(q, intensity, error, background, dq):
    """Checked float arrays (increasing q, I - background > 0 where kept) and the relative error."""
    q = np.asarray(q, dtype=float).ravel()
    intensity = np.asarray(intensity, dtype=float).ravel()
    if q.size != intensity.size or q.size < 10:
        raise ParameterError(f"q and I must have the same length of at least 10 points (got {q.size} and "
                             f"{intensity.size})")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(intensity))) or np.any(q <= 0) or np.any(np.diff(q) <= 0):
        raise ParameterError("q must be finite, positive and increasing and I finite: read the curve with "
                             "scattermorph.sas.curves.check_curve first")
    err = None if error is None else np.asarray(error, dtype=float).ravel()
    if background is not None:
        intensity = intensity - float(background)
    keep = intensity > 0
    if err is not None:  # points indistinguishable from zero after the background carry no shape
        keep &= intensity > 2 * err
    if keep.sum() < 10:
        raise ParameterError(f"only {int(keep.sum())} points stay clearly above zero after the background "
                             f"{background!r}: check the background")
    rel = None if err is None else np.maximum(err[keep] / intensity[keep], 0)
    rel_dq = None if dq is None else float(np.median(np.asarray(dq, dtype=float).ravel()[keep] / q[keep]))
    return q[keep], intensity[keep], rel, rel_dq


def _no_peak_reasons(q, intensity, weights, noise, smooth, k, diag, rel=None):
    """Why a curve without an interior maximum is not a phase-separating blend (the best description first).

    A one-phase form describes the curve when its rms log residual is within
    the noise tolerance, or, with stated errors ``rel`` (dI/I), when its fit
    weighted by them has a reduced chi within ``fit_noise_factor``: real
    curves' errors grow tenfold towards high q, where an unweighted rms
    counts the noisiest points most.
    """
    tol = min(THRESHOLDS["fit_rms_max"], max(THRESHOLDS["fit_noise_factor"] * noise, 0.01))
    fits = {"oz": _fit_oz(q, intensity, weights), "rpa": _fit_rpa(q, intensity, weights)}
    how = {name: f"within {100 * rms:.1f}% rms" if rms <= tol else None for name, (rms, _) in fits.items()}
    if rel is not None and np.all(rel > 0):
        w = 1.0 / np.maximum(rel, 1e-3)
        for name, fit in (("oz", _fit_oz), ("rpa", _fit_rpa)):
            chi, par = fit(q, intensity, w, weighted=True)
            diag[f"{name}_chi"] = chi
            if how[name] is None and chi <= THRESHOLDS["fit_noise_factor"]:
                fits[name], how[name] = (fits[name][0], par), f"within its errors (reduced chi {chi:.2f})"
    (oz_rms, xi), (rpa_rms, rpa) = fits["oz"], fits["rpa"]
    pl_rms, expo = _fit_power_law(q, intensity, weights)
    diag.update(oz_rms=oz_rms, oz_xi=xi, rpa_rms=rpa_rms, rpa_rg=None if rpa is None else rpa[0],
                rpa_chi_over_chi_s=None if rpa is None else rpa[1], power_law_rms=pl_rms, power_law_exponent=expo)
    if k == intensity.size - 1 or smooth[-1] >= smooth.max() - 1e-12:
        return [("no_peak_rising", "I(q) rises up to the largest q measured: a peak, if there is one, lies beyond "
                 "the q range; measure to larger q")]
    out = []
    if how["oz"]:
        out.append(("one_phase_oz", f"the curve is an Ornstein-Zernike (Lorentzian) I0/(1+(q xi)^2) + B with xi = "
                    f"{xi:.3g} (1/q unit), {how['oz']}: a one-phase mixture's concentration "
                    "fluctuations, no spinodal structure"))
    elif how["rpa"]:
        out.append(("one_phase_rpa", f"the curve is a one-phase polymer blend's random-phase-approximation "
                    f"scattering K / (1/g_D(q Rg) - chi/chi_s) + B (de Gennes) with Rg = {rpa[0]:.3g} (1/q unit) "
                    f"and chi/chi_s = {rpa[1]:.2f} (fitted as a symmetric blend; < 1: below the spinodal), {how['rpa']}: "
                    "concentration fluctuations of a one-phase mixture, no spinodal structure"))
    elif pl_rms <= tol:
        out.append(("power_law", f"the curve is a single power law q^-{expo:.2f} (+ flat background) over the whole "
                    f"range, within {100 * pl_rms:.1f}% rms: no characteristic length in this q range (fractal, "
                    "coils, surfaces or a peak below the lowest q)"))
    return out


def assess_curve(q, intensity, error=None, *, background=None, dq=None, ndim=3) -> Applicability:
    """Decide whether a curve ``I(q)`` can come from a phase-separated structure like the study's.

    Parameters
    ----------
    q : array_like, shape (n,)
        Increasing, positive scattering vectors (any unit; n >= 10).
    intensity : array_like, shape (n,)
        I(q), any scale.
    error : array_like, shape (n,), optional
        Standard uncertainty dI (same unit as I).
    background : float, optional
        A known flat background, subtracted first. Without it the fits carry a
        flat background of their own; the peak test does not need one (a
        constant cannot make a maximum).
    dq : array_like, shape (n,), optional
        Resolution (one standard deviation, unit of q): the smoothing is at
        least as wide as the median dQ/q.
    ndim : int
        2 or 3, the dimension of the structures (the study's); kept in the diagnostics.

    Returns
    -------
    Applicability

    Raises
    ------
    ParameterError
        Arrays of different length, fewer than 10 usable points, q not increasing.
    """
    q, intensity, rel, rel_dq = _inputs(q, intensity, error, background, dq)
    lnq, lni = np.log(q), np.log(intensity)
    width = max(THRESHOLDS["smooth_ln_q"], rel_dq or 0.0, 1.5 * float(np.median(np.diff(lnq))))
    smooth, n_eff = _smooth(lnq, lni, width)
    noise = _noise_ln(lni, smooth, rel)
    weights = np.ones_like(q)
    k, interior, over_lo, over_hi = _peak(lnq, lni, smooth, n_eff, noise, width)
    diag = {"ndim": int(ndim), "n_points": int(q.size), "noise_ln": noise, "smoothing_ln_q": width,
            "dq_over_q": rel_dq, "background": None if background is None else float(background),
            "q_peak": float(q[k]) if interior else None, "peak_over_low_end": over_lo, "peak_over_high_end": over_hi,
            "q_range_over_q_peak": [float(q[0] / q[k]), float(q[-1] / q[k])] if interior else None}
    if not interior:
        reasons = _no_peak_reasons(q, intensity, weights, noise, smooth, k, diag, rel)
        reasons.append(("no_peak", f"I(q) has no maximum inside the q range ({q[0]:.3g}-{q[-1]:.3g}) standing clear "
                        f"of the noise (peak over the low-q end {over_lo:.2f}x, over the high-q end {over_hi:.2f}x): "
                        "a phase-separating blend shows a peak at q1 ~ 2 pi / L; if yours lies outside the q range, "
                        "measure a wider q range"))
        return Applicability("refused", tuple(reasons), diag)
    reasons = _peak_shape_reasons(q, lnq, intensity, weights, smooth, n_eff, noise, k, diag)
    return Applicability("flagged" if reasons else "ok", tuple(reasons), diag)


def _peak_shape_reasons(q, lnq, intensity, weights, smooth, n_eff, noise, k, diag):
    """Reasons a curve with a peak is unlike the study's (empty when it is like them)."""
    t = THRESHOLDS
    excess, floor = _excess(lnq, smooth, k)
    lo, hi = _half_point(lnq, excess, k, -1), _half_point(lnq, excess, k, +1)
    slope, slope_err, tail_rms = _tail_slope(q, intensity, weights, q[k])
    n_sec = _secondary_maxima(smooth, k, noise / np.sqrt(np.median(n_eff)))
    low = _low_q_ratios(lnq, excess, k)
    low_slope = _low_q_slope(lnq, excess, k)
    diag.update(half_low=lo, half_high=hi, tail_slope=slope, tail_slope_error=slope_err, n_secondary_maxima=n_sec,
                tail_rms_over_noise=None if tail_rms is None else tail_rms / noise, background_bound=floor,
                low_q_ratio={f"{x:g}": v for x, v in low.items()}, low_q_slope=low_slope)
    out = []
    span = (float(np.exp(lnq[0] - lnq[k])), float(np.exp(lnq[-1] - lnq[k])))
    if span[0] > t["short_range"][0] or span[1] < t["short_range"][1]:
        out.append(("short_range", f"the q range covers {span[0]:.2f}-{span[1]:.2f} q1 around the maximum: too little "
                    f"on one side of it (at least {t['short_range'][0]:g}-{t['short_range'][1]:g} q1 are needed) to "
                    "tell a coarsening blend's peak from a liquid's or a lattice's; measure a wider q range"))
    if low_slope is not None and low_slope < t["low_q_slope_min"]:
        out.append(("low_q_plateau", f"below 0.5 q1 the intensity falls towards q = 0 only as q^{low_slope:.2f}; the "
                    f"study's curves fall at least as q^{t['low_q_slope_min']:g} there (a conserved composition: "
                    "I ~ q^4 at small q, Yeung 1988), while a finite I(0) (a liquid of particles, a microemulsion, "
                    "a one-phase blend) levels off"))
    high = {x: v for x, v in low.items() if v > t["low_q_ratio_max"][x]}
    if high:
        x, v = min(high.items())
        out.append(("low_q_intensity", f"below the peak I(q) stays high: at q = {x:g} q1 it is {v:.2f} of the peak, "
                    f"the study's curves at most {t['low_q_ratio_max'][x]:g} (a phase-separating blend conserves its "
                    "composition, so I(q) falls towards q = 0): a liquid of particles or aggregates, a microemulsion "
                    "near its one-phase limit, or scattering from larger structures"))
    if lo is not None and hi is not None and np.log(hi / lo) < t["width_min"]:
        out.append(("narrow_peak", f"the peak is narrower than the study's: half height at {lo:.3f} and {hi:.3f} q1 "
                    f"(full width {np.log(hi / lo):.3f} in ln q, the study's curves at least {t['width_min']:g}): "
                    "long-range order (a lattice or lamellar stack), not a coarsening pattern with its spread of "
                    "domain sizes"))
    if (lo is not None and lo < t["half_low_min"]) or (hi is not None and hi > t["half_high_max"]):
        out.append(("broad_peak", f"the peak is broader than the study's: it falls to half height at "
                    f"{_fmt(lo)} and {_fmt(hi)} q1, the study's curves (resolution dQ/q up to 10 % included) within "
                    f"{t['half_low_min']:g}-{t['half_high_max']:g} q1: a broad correlation peak (microemulsion, "
                    "ionomer, a liquid of particles) rather than a coarsening bicontinuous pattern"))
    if slope is not None and slope - t["tail_slope_sigmas"] * slope_err > t["tail_slope_max"]:
        out.append(("porod_tail", f"beyond 1.8 q1 I(q) falls as q^{slope:.2f} +- {slope_err:.2f}: Porod's q^-4 of sharp "
                    "interfaces or shallower (fractal or rough surfaces, chains); the study's simulated blends fall "
                    f"faster than q^{t['tail_slope_max']:g} there (interfaces still diffuse at 5-60 tau), so this "
                    "shape is outside what the model was trained on"))
    if n_sec:
        out.append(("secondary_maxima", f"{n_sec} further maxima beyond the peak: form-factor oscillations of "
                    "particles or higher orders of a lattice (lamellae, a liquid of spheres); a coarsening blend "
                    "shows one peak"))
    return out


def _fmt(x):
    return "-" if x is None else f"{x:.2f}"
