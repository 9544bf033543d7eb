"""A flat background fitted as a nuisance parameter: the value that makes a curve's shape most like the training curves'.

A reduced curve I(q) = S(q) + B carries a flat incoherent background B. The
textbook estimate fits ``I q^(d+1) = K + B q^(d+1)`` in the Porod region (SasView's
invariant tool), but a spinodal curve is not yet Porod-like below 3-6 q1
(measured on the study's curves: over [2, 3] q1 that fit misses B by -160 % of
I(3 q1) in the median, over [3, 6] q1 by -3 %), and most measured curves end
before. Instead B is fitted jointly with the features: the model's training
curves span the shapes a spinodal structure has, so the background is the
value whose subtraction makes the curve's scale-free features most typical of
them, the minimum of the Mahalanobis distance D(B) of the subtracted curve's
features to the training features (Ledoit-Wolf covariance, the model's own
domain metric). With D^2 read as -2 log of a Gaussian density of the
features, the curvature of D^2 at the minimum gives a standard deviation,
scaled by :data:`SIGMA_FACTOR`, measured on held-out simulations. Where D^2
has no interior minimum in the allowed range (the shape does not pin B),
the background is "not determined": its uncertainty is that of a uniform
distribution over the whole range, centred on B = 0 (on held-out
simulations the minimum of a flat distance missed B by more than 0 does),
and ``predict`` says so with the size of that range next to the intensity at
the window's edge.

Where the curve reaches far beyond the window (past 6 q1: a factor 2 beyond
its upper edge 3 q1), the tail itself gives B without the model:
``I = A q^-p + B`` fitted beyond 3 q1 with a free exponent (the simulated
interfaces are diffuse, so p runs from 4 to about 11, not Porod's fixed 4)
and the data's dI (:func:`tail_background`). On 44 of the study's curves (those reaching 6 q1) with
2 % noise and backgrounds of 0-100 % of I(3 q1) it missed B by 0.3-2.3 % of
I(3 q1) rms, against 13-98 % for the shape minimum: it is used first.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares, minimize_scalar

from scattermorph.errors import ParameterError
from scattermorph.learn.features import window_curve

__all__ = ["SIGMA_FACTOR", "B_RANGE", "TAIL", "fit_background", "tail_background", "subtract_background",
           "check_background"]

#: allowed background, in units of the lowest intensity of the curve's points in the model's window: from an
#: over-subtraction as large as that intensity to just below it (a larger B leaves no point of the tail)
B_RANGE = (-1.0, 0.97)
#: factor on the curvature standard deviation: the RMS of (fitted - true) / sigma_curvature on 48 held-out
#: study curves on the full window [0.3, 3] q1 with backgrounds of 0 and 50 % of I at their largest q (1.67);
#: the study's window table (scattermorph.predict.evaluate) reports the z-scores this gives
SIGMA_FACTOR = 1.7
#: a background range below this fraction of I at the window's upper edge is negligible: the curve's own tail
#: (reaching far beyond the window) bounds the background, whatever the shape says
NEGLIGIBLE = 0.01
#: the tail fit: from this multiple of q1, over at least this factor in q, with a standard deviation no
#: smaller than this fraction of I(3 q1) (the fit's own error is optimistic where S(q) -> 0: the rms error
#: on 44 study curves that reach 6 q1 was 0.3-2.3 % of I(3 q1) for backgrounds of 0-100 % of it)
TAIL = {"start": 3.0, "ratio": 2.0, "sigma_floor": 0.02}
#: finite-difference step (units of the lowest intensity) for the curvature of D^2
STEP = 0.02


def check_background(value) -> float:
    """A background given by the user (``--background``): a finite number, in units of the file's I.

    Raises
    ------
    ParameterError
        Not a number, NaN or infinite.
    """
    try:
        b = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"--background {value!r}: give a number in the units of the file's I (0 for "
                             "data whose background is already subtracted)") from None
    if not np.isfinite(b):
        raise ParameterError(f"--background {value!r}: must be finite (0 for data whose background is already "
                             "subtracted)")
    return b


def subtract_background(intensity, background):
    """``I - B`` with the points it leaves at or below zero set to NaN (skipped by the features).

    Parameters
    ----------
    intensity : array_like, shape (..., n)
    background : float or array_like, shape (...,)
        One value per curve.

    Returns
    -------
    ndarray, shape (..., n)
    """
    i = np.asarray(intensity, dtype=float)
    out = i - np.asarray(background, dtype=float)[..., None]
    out[~(out > 0)] = np.nan
    return out


def _d2(model, q, intensity, b) -> float:
    """Squared Mahalanobis distance of the features of ``I - b`` to the model's training features."""
    s = subtract_background(intensity, b)
    if np.isfinite(s).sum() < 4:
        return np.inf
    try:
        X, _, _, _ = model.featurise(q, s[None])
    except ParameterError:
        return np.inf
    return float(model._distances(X)[0][0] ** 2)


def tail_background(q, intensity, error, q1) -> dict | None:
    """The flat background from the curve's tail beyond 3 q1: ``I = A q^-p + B``, p free in [2, 14].

    Parameters
    ----------
    q, intensity : ndarray, shape (n,)
        The curve as measured (NaN points skipped).
    error : ndarray, shape (n,) or None
        dI; None: 2 % of I.
    q1 : float
        The curve's peak position (unit of q).

    Returns
    -------
    dict or None
        As :func:`fit_background` (``range`` and ``distance`` None, ``exponent``
        the fitted p); None when the curve does not reach a factor
        ``TAIL["ratio"]`` beyond ``TAIL["start"]`` q1 with at least 8 points.
    """
    m = (q > TAIL["start"] * q1) & np.isfinite(intensity)
    if m.sum() < 8 or q[m][-1] < TAIL["ratio"] * q[m][0]:
        return None
    qq, ii = q[m], intensity[m]
    ee = np.abs(error[m]) if error is not None else 0.02 * np.abs(ii)
    ee = np.where(ee > 0, ee, np.max(ee[ee > 0], initial=1.0))
    x = qq / qq[0]

    def resid(p):
        return (np.exp(p[0]) * x ** -p[1] + p[2] - ii) / ee
    p0 = [np.log(max(ii[0] - ii[-1], 0.1 * abs(ii[0]), 1e-300)), 5.0, 0.5 * ii[-1]]
    res = least_squares(resid, p0, bounds=([-np.inf, 2.0, -np.inf], [np.inf, 14.0, np.inf]))
    chi2 = float(np.sum(res.fun ** 2)) / max(int(m.sum()) - 3, 1)
    cov = np.linalg.pinv(res.jac.T @ res.jac) * max(chi2, 1.0)
    edge = float(np.interp(TAIL["start"] * q1, q[np.isfinite(intensity)], intensity[np.isfinite(intensity)]))
    sigma = float(np.hypot(np.sqrt(abs(cov[2, 2])), TAIL["sigma_floor"] * abs(edge - res.x[2])))
    return {"value": float(res.x[2]), "sigma": sigma, "determined": True,
            "method": f"tail fit A q^-p + B beyond {TAIL['start']:g} q1 (p = {res.x[1]:.2f})",
            "range": None, "distance": None, "exponent": float(res.x[1])}


def fit_background(model, q, intensity, error=None) -> dict:
    """The flat background of a curve: from its tail where it reaches far enough, else fitted with the
    model's training shapes (see the module docstring).

    Parameters
    ----------
    model : FunctionalModel
        A scale-free model (the refit for the curve's window and resolution).
    q, intensity : array_like, shape (n,)
        The curve as measured (I <= 0 or NaN points skipped).
    error : array_like, shape (n,), optional
        dI, for the tail fit.

    Returns
    -------
    dict
        ``value``, ``sigma`` (units of I), ``determined`` (bool), ``method``,
        ``range`` [lo, hi] searched, ``distance`` (D at the minimum).
    """
    q, i = np.asarray(q, dtype=float), np.asarray(intensity, dtype=float)
    ok = np.isfinite(i) & (i > 0)
    unit = float(np.min(i[ok]))  # I = S + B > B: the lowest intensity bounds the background
    lo, hi = B_RANGE

    def f(x):
        return _d2(model, q, i, x * unit)

    _, sw, _ = window_curve(q[ok], i[ok], model.ndim, model.features["x_range"])
    # the peak, not the features' moment q1: a flat background shifts a moment of I by a factor of several
    q1 = float(q[ok][np.argmax(i[ok])])
    tail = tail_background(q[ok], i[ok], None if error is None else np.asarray(error, dtype=float)[ok], q1)
    if tail is not None:
        return tail
    if unit < NEGLIGIBLE * sw[-1]:
        return {"value": 0.0, "sigma": float((hi - lo) / np.sqrt(12) * unit), "determined": True,
                "method": "bounded by the curve's lowest intensity, negligible in the window",
                "range": [lo * unit, hi * unit], "distance": None}
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    x, d0 = float(res.x), float(res.fun)
    h = STEP
    lo_h, hi_h = max(lo, x - h), min(hi, x + h)
    curv = (f(hi_h) - 2 * d0 + f(lo_h)) / ((hi_h - x) * (x - lo_h)) if hi_h > x > lo_h else -1.0
    sigma = SIGMA_FACTOR * np.sqrt(2 / curv) if curv > 0 else np.inf
    at_edge = x - lo < 2 * h or hi - x < 2 * h
    determined = bool(np.isfinite(sigma) and not at_edge and sigma < (hi - lo) / np.sqrt(12))
    if not determined:  # the shape does not pin B: 0, with the uncertainty of a uniform B over the range
        # (keeping the flat minimum instead missed B by 0.6-1.0 of I at the window's edge on held-out
        # simulations against 0.1-0.7 for 0: the minimum of a flat distance is noise)
        x, sigma = 0.0, (hi - lo) / np.sqrt(12)
    return {"value": x * unit, "sigma": float(sigma * unit), "determined": determined,
            "method": "minimum of the Mahalanobis distance of the subtracted curve's features to the "
                      "training features", "range": [lo * unit, hi * unit], "distance": float(np.sqrt(d0))}
