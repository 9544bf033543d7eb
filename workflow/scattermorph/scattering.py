"""Structure factor of a composition field and its radial average.

``S(k) = |FFT(phi - <phi>)|^2 dx^d / N_cells`` is the structure factor per unit
volume (the Fourier transform of the correlation function ``<dphi(0) dphi(r)>``):
with this normalisation, by Parseval,
``sum_k S(k) / V = var(phi)`` with ``V`` the box volume.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .errors import ParameterError

__all__ = ["structure_factor", "radial_average", "characteristic_length"]


def _check_field(phi) -> np.ndarray:
    phi = np.asarray(phi, dtype=float)
    if phi.ndim not in (2, 3):
        raise ParameterError(f"field of shape {phi.shape}: only 2D and 3D fields are supported")
    if not np.all(np.isfinite(phi)):
        raise ParameterError("field contains NaN or inf values")
    return phi


def structure_factor(phi, dx: float = 1.0):
    """Structure factor on the half-complex wavevector grid.

    Parameters
    ----------
    phi : (M, N[, P]) array_like
        Field on a periodic grid.
    dx : float
        Cell size (length units).

    Returns
    -------
    s : (M, N[, P // 2 + 1]) ndarray
        ``|FFT(phi - mean)|^2 dx^d / N_cells`` (units: length^d).
    kmag : same shape as ``s``
        ``|k|`` in inverse length units.
    weight : same shape as ``s``
        Multiplicity of each half-complex mode in the full spectrum (1 or 2),
        so that full-spectrum sums are ``sum(weight * s)``.
    """
    phi = _check_field(phi)
    n = phi.size
    fh = sfft.rfftn(phi - phi.mean(), workers=1)
    s = (fh.real**2 + fh.imag**2) * dx**phi.ndim / n
    k2 = np.zeros(s.shape)
    for ax, m in enumerate(phi.shape):
        if ax == phi.ndim - 1:
            k = 2 * np.pi * np.fft.rfftfreq(m, d=dx)
        else:
            k = 2 * np.pi * np.fft.fftfreq(m, d=dx)
        sh = [1] * phi.ndim
        sh[ax] = k.size
        k2 = k2 + k.reshape(sh) ** 2
    weight = np.full(s.shape[-1], 2.0)
    weight[0] = 1.0
    if phi.shape[-1] % 2 == 0:
        weight[-1] = 1.0
    return s, np.sqrt(k2), np.broadcast_to(weight, s.shape)


def radial_average(s, kmag, weight, edges):
    """Average ``s`` over shells ``edges[i] <= |k| < edges[i+1]``.

    Returns
    -------
    centres : (B,) ndarray
        Mean ``|k|`` of the modes in each shell (NaN where empty).
    mean : (B,) ndarray
        Mean ``s`` in each shell (NaN where empty).
    counts : (B,) ndarray of int
        Number of modes (full spectrum) in each shell.
    """
    edges = np.asarray(edges, dtype=float)
    idx = np.digitize(kmag.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    w = np.asarray(weight).ravel()[ok]
    b = idx[ok]
    nb = edges.size - 1
    counts = np.bincount(b, weights=w, minlength=nb)
    ssum = np.bincount(b, weights=w * s.ravel()[ok], minlength=nb)
    ksum = np.bincount(b, weights=w * kmag.ravel()[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ksum / counts, ssum / counts, counts.astype(np.int64)


def characteristic_length(phi, dx: float = 1.0) -> float:
    """``L = 2 pi / <k>`` with ``<k> = sum k S(k) / sum S(k)`` over all modes.

    The first moment of the structure factor (e.g. Bray, Adv. Phys. 43, 357,
    1994); the sums run up to the largest shell fully inside the Brillouin zone
    (``|k| <= pi / dx``) so that the average is isotropic.
    """
    s, k, w = structure_factor(phi, dx)
    keep = (k > 0) & (k <= np.pi / dx)
    num = np.sum((w * s * k)[keep])
    den = np.sum((w * s)[keep])
    if den <= 0:
        return float("nan")
    return float(2 * np.pi * den / num)
