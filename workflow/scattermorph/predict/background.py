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
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from scattermorph.errors import ParameterError
from scattermorph.learn.features import window_curve

__all__ = ["SIGMA_FACTOR", "B_RANGE", "fit_background", "subtract_background", "check_background"]

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


def fit_background(model, q, intensity) -> dict:
    """The flat background of a curve, fitted with the model's training shapes (see the module docstring).

    Parameters
    ----------
    model : FunctionalModel
        A scale-free model (the refit for the curve's window and resolution).
    q, intensity : array_like, shape (n,)
        The curve as measured (I <= 0 or NaN points skipped).

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
