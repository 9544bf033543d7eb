"""Ideal curves made to look measured: a q window, resolution, a flat background, noise.

Used to validate the applicability check (:mod:`scattermorph.sas.applicability`)
on simulated curves and on curves of other structures under the conditions of
real reduced data. The noise model is Gaussian with a relative floor and a
counting-like part that grows where the intensity is low:

.. math::

    \\sigma_i = I_i \\sqrt{r^2 + r^2 I_{end} / I_i},

``I_end`` the (background-including) intensity at the largest q, so the relative
error is about ``r`` at the peak and ``sqrt(2) r`` at the largest q, as in SANS
data whose counts fall with q. The stated error dI is this sigma.
"""

from __future__ import annotations

import numpy as np

from scattermorph.errors import ParameterError
from scattermorph.sas.resolution import PINHOLE_N_SIGMA, smear_pinhole

__all__ = ["as_measured"]


def as_measured(q, intensity, rng, *, window=None, resolution=0.0, noise=0.0, background=0.0, min_points=10,
                trim=True):
    """A noise-free curve as an instrument would record it.

    Parameters
    ----------
    q : array_like, shape (B,)
        Increasing, positive q (NaN intensities are dropped first).
    intensity : array_like, shape (B,)
        Noise-free I(q) > 0.
    rng : numpy.random.Generator
        Draws the noise.
    window : (float, float), optional
        Keep only ``window[0] <= q <= window[1]`` (after smearing, so the ends
        are smeared with the curve beyond them).
    resolution : float
        Relative pinhole resolution dQ/q (one standard deviation); 0: none.
    noise : float
        Relative noise ``r`` of the model above (0: none, dI then None).
    background : float
        Flat background as a fraction of the windowed, smeared intensity at its largest q.
    min_points : int
        Fewer points in the window give None.
    trim : bool
        Drop the points whose resolution support (:data:`scattermorph.sas.resolution.PINHOLE_N_SIGMA`)
        reaches beyond the ends of the ideal curve: their smeared value
        averages only the bins on one side (an instrument averages both), a
        bias that can make a maximum at the end of a decreasing curve.

    Returns
    -------
    (q, I, dI, dQ) or None
        ndarrays of shape (n,) (dI None without noise, dQ None without
        resolution); None when the window holds fewer than ``min_points``.
    """
    q = np.asarray(q, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    good = np.isfinite(intensity) & (intensity > 0)
    q, intensity = q[good], intensity[good]
    if resolution < 0 or noise < 0 or background < 0:
        raise ParameterError(f"resolution {resolution}, noise {noise} and background {background} must be >= 0")
    dq = resolution * q
    if resolution > 0:
        intensity = smear_pinhole(q, intensity, dq)
    keep = np.ones(q.size, bool)
    if trim and resolution > 0:
        keep &= (q - PINHOLE_N_SIGMA[0] * dq >= q[0]) & (q + PINHOLE_N_SIGMA[1] * dq <= q[-1])
    if window is not None:
        keep &= (q >= window[0]) & (q <= window[1])
    if not keep.all():
        q, intensity, dq = q[keep], intensity[keep], dq[keep]
    if q.size < min_points:
        return None
    intensity = intensity + background * intensity[-1]
    err = None
    if noise > 0:
        err = intensity * noise * np.sqrt(1 + intensity[-1] / intensity)
        intensity = intensity + err * rng.standard_normal(q.size)
    return q, intensity, err, (dq if resolution > 0 else None)
