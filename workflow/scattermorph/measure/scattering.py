"""Scattering of a composition field: S(q), radial averages and estimators.

Conventions
-----------
``S(k) = |FFT(phi - <phi>)|^2 dx^d / N_cells`` is the structure factor per
unit volume (the Fourier transform of the correlation function
``<dphi(0) dphi(r)>``), in units of length^d. With this normalisation,
Parseval's theorem reads ``sum_k S(k) / V = var(phi)`` (``V`` the box volume),
i.e. the scattering invariant

.. math:: Q = \\int S(q) \\frac{d^d q}{(2\\pi)^d} = \\langle \\delta\\phi^2 \\rangle .

For a sharp two-phase structure with contrast ``dphi`` and volume fraction
``v``, ``Q = dphi^2 v (1 - v)`` (Porod 1951), and at large ``q`` Porod's law
holds (e.g. Sivia, *Elementary Scattering Theory*, 2011; the 2D form follows
from the same expansion of the correlation function, with the Fourier
transform of ``|r|`` being ``-2 pi / q^3`` in 2D and ``-8 pi / q^4`` in 3D):

.. math::

    S(q) \\to 2\\, \\Delta\\phi^2\\, s / q^3 \\quad (2D),\\qquad
    S(q) \\to 2\\pi\\, \\Delta\\phi^2\\, s / q^4 \\quad (3D),

with ``s`` the interface length per unit area (2D) or area per unit volume
(3D).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import scipy.fft as sfft

from scattermorph.errors import ParameterError
from scattermorph.fft import rfft_mode_weights, rfft_wavevectors
from scattermorph.sas.resolution import smear_pinhole

__all__ = [
    "structure_factor",
    "radial_average",
    "q_grid",
    "radial_profile",
    "characteristic_length",
    "first_moment_length",
    "peak_position",
    "invariant",
    "volume_fraction_from_invariant",
    "porod_constant",
    "specific_surface_from_porod",
    "apply_instrument",
    "PORODS_PREFACTOR",
]

#: Porod's law prefactor c_d in S(q) -> c_d dphi^2 s / q^(d+1)
PORODS_PREFACTOR = {2: 2.0, 3: 2.0 * math.pi}


def _check_field(phi) -> np.ndarray:
    phi = np.asarray(phi)
    if phi.ndim not in (2, 3):
        raise ParameterError(
            f"field of shape {phi.shape}: only 2D and 3D fields are supported"
        )
    phi = phi.astype(float, copy=False)
    if not np.all(np.isfinite(phi)):
        raise ParameterError("field contains NaN or inf values; clean or mask them first")
    return phi


def _check_spacing(dx) -> float:
    if not (np.isfinite(dx) and dx > 0):
        raise ParameterError(f"pixel size dx={dx!r} must be a positive length")
    return float(dx)


def _kmag(shape, dx):
    return np.sqrt(sum(k**2 for k in rfft_wavevectors(shape, dx)))


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
    weight : same shape as ``s`` (broadcast view)
        Multiplicity of each half-complex mode in the full spectrum (1 or 2),
        so that full-spectrum sums are ``sum(weight * s)``.
    """
    phi = _check_field(phi)
    dx = _check_spacing(dx)
    fh = sfft.rfftn(phi - phi.mean(), workers=1)
    s = (fh.real**2 + fh.imag**2) * (dx**phi.ndim / phi.size)
    return s, _kmag(phi.shape, dx), np.broadcast_to(rfft_mode_weights(phi.shape), s.shape)


def radial_average(s, kmag, weight, edges):
    """Average ``s`` over shells ``edges[i] <= |k| < edges[i+1]`` (the last
    shell includes its upper edge, as in :func:`numpy.histogram`).

    One pass of :func:`numpy.bincount` over the modes.

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
    nb = edges.size - 1
    k = kmag.ravel()
    idx = np.searchsorted(edges, k, side="right") - 1
    idx[k == edges[-1]] = nb - 1  # the last bin is closed, as numpy.histogram's
    ok = (idx >= 0) & (idx < nb)
    w = np.asarray(weight).ravel()[ok]
    b = idx[ok]
    counts = np.bincount(b, weights=w, minlength=nb)
    ssum = np.bincount(b, weights=w * s.ravel()[ok], minlength=nb)
    ksum = np.bincount(b, weights=w * kmag.ravel()[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ksum / counts, ssum / counts, np.rint(counts).astype(np.int64)


def q_grid(q_min: float, q_max: float, n_bins: int, spacing: str = "log"):
    """Bin edges of a q grid in physical units (inverse length).

    The same grid for every structure makes curves from different boxes and
    pixel sizes comparable; bins that a given box does not sample stay empty
    (count 0, NaN intensity).

    Returns
    -------
    edges : (n_bins + 1,) ndarray
    centres : (n_bins,) ndarray
        Geometric (log) or arithmetic (linear) bin centres.
    """
    if not (0 < q_min < q_max and np.isfinite(q_max)):
        raise ParameterError(f"q grid needs 0 < q_min < q_max, got q_min={q_min}, q_max={q_max}")
    if int(n_bins) < 2:
        raise ParameterError(f"n_bins={n_bins} must be >= 2")
    if spacing == "log":
        edges = np.geomspace(q_min, q_max, int(n_bins) + 1)
        centres = np.sqrt(edges[:-1] * edges[1:])
    elif spacing == "linear":
        edges = np.linspace(q_min, q_max, int(n_bins) + 1)
        centres = 0.5 * (edges[:-1] + edges[1:])
    else:
        raise ParameterError(f"q spacing={spacing!r}: choose 'log' or 'linear'")
    return edges, centres


@functools.lru_cache(maxsize=8)
def _bin_plan(shape: tuple, dx: float, edges: tuple):
    """Bin index (int32; ``nb`` = outside the grid) and multiplicity (uint8)
    of every half-complex mode, and the mode count per bin. Cached: every
    snapshot of a study has the same shape, so the plan is built once."""
    edges = np.asarray(edges)
    nb = edges.size - 1
    kmag = _kmag(shape, dx)
    k = kmag.ravel()
    idx = np.searchsorted(edges, k, side="right") - 1
    idx[k == edges[-1]] = nb - 1  # the last bin is closed, as numpy.histogram's
    idx[(idx < 0) | (idx >= nb)] = nb
    idx = idx.astype(np.int32)
    mult = np.broadcast_to(rfft_mode_weights(shape), kmag.shape).ravel().astype(np.uint8)
    counts = np.bincount(idx, weights=mult, minlength=nb + 1)[:nb]
    idx.setflags(write=False)
    mult.setflags(write=False)
    return idx, mult, np.rint(counts).astype(np.int64)


@numba.njit(cache=True)
def _bin_power(fh, idx, mult, nb):  # pragma: no cover - compiled
    """sum over modes of mult |fh|^2 per bin: one pass, no temporaries."""
    f = fh.reshape(-1)
    acc = np.zeros(nb + 1)
    for i in range(f.size):
        v = f[i]
        acc[idx[i]] += mult[i] * (v.real * v.real + v.imag * v.imag)
    return acc[:nb]


def radial_profile(phi, dx: float, edges):
    """Radially averaged ``S(q)`` of ``phi`` on the bins ``edges``.

    One real FFT plus one compiled binning pass over the half-complex modes
    (the bin of every mode is computed once per grid shape and cached).

    Returns
    -------
    s_q : (B,) ndarray
        Mean structure factor per bin (NaN for empty bins), units length^d.
    counts : (B,) ndarray of int
        Modes per bin.
    """
    phi = _check_field(phi)
    dx = _check_spacing(dx)
    edges = np.asarray(edges, dtype=float)
    idx, mult, counts = _bin_plan(phi.shape, dx, tuple(edges.tolist()))
    fh = sfft.rfftn(phi - phi.mean(), workers=1)
    power = _bin_power(fh, idx, mult, edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s_q = power * (dx**phi.ndim / phi.size) / counts
    return s_q, counts


def characteristic_length(phi, dx: float = 1.0) -> float:
    """``L = 2 pi / <k>`` with ``<k> = sum k S(k) / sum S(k)`` over all modes.

    The first moment of the structure factor (Bray, Adv. Phys. 43, 357, 1994).
    The sums run over the largest sphere inside the Brillouin zone
    (``|k| <= pi / dx``) so that the average is isotropic. Returns NaN for a
    constant field.
    """
    return first_moment_length(*structure_factor(phi, dx), dx)


def first_moment_length(s, kmag, weight, dx: float) -> float:
    """``2 pi / <k>`` from a spectrum already computed by :func:`structure_factor`
    (see :func:`characteristic_length`); NaN for an empty spectrum."""
    keep = (kmag > 0) & (kmag <= np.pi / dx)
    num = np.sum((weight * s * kmag)[keep])
    den = np.sum((weight * s)[keep])
    if den <= 0:
        return float("nan")
    return float(2 * np.pi * den / num)


def peak_position(q, s_q) -> float:
    """Position of the maximum of a binned ``S(q)``.

    Refined by a parabola through the log-intensity of the maximal bin and its
    two neighbours in log q (exact for a log-normal peak); falls back to the
    bin centre at the edges of the grid. NaN if every bin is empty.
    """
    q = np.asarray(q, dtype=float)
    s_q = np.asarray(s_q, dtype=float)
    good = np.isfinite(s_q) & (s_q > 0)
    if not good.any():
        return float("nan")
    i = int(np.nanargmax(np.where(good, s_q, -np.inf)))
    if 0 < i < q.size - 1 and good[i - 1] and good[i + 1]:
        x = np.log(q[i - 1 : i + 2])
        y = np.log(s_q[i - 1 : i + 2])
        a, b, _ = np.polyfit(x, y, 2)
        if a < 0:
            xv = -b / (2 * a)
            if x[0] <= xv <= x[2]:
                return float(np.exp(xv))
    return float(q[i])


def invariant(phi, dx: float = 1.0) -> float:
    """Scattering invariant ``Q = sum_k S(k) / V``, equal to ``var(phi)``.

    Computed from the spectrum (Parseval), so it is what a perfect instrument
    with unlimited q range would integrate.
    """
    s, _, w = structure_factor(phi, dx)
    phi = np.asarray(phi)
    volume = phi.size * dx**phi.ndim
    return float(np.sum(w * s) / volume)


def volume_fraction_from_invariant(q_inv, contrast: float = 1.0) -> float:
    """Minority volume fraction from ``Q = contrast^2 v (1 - v)``.

    Returns the root ``v <= 1/2``; the invariant cannot tell a phase from its
    complement (Babinet), so the majority fraction is ``1 - v``. Clipped to
    1/2 when ``Q`` exceeds the two-phase maximum ``contrast^2 / 4`` (diffuse
    interfaces or noise).
    """
    x = 4.0 * float(q_inv) / float(contrast) ** 2
    return 0.5 * (1.0 - math.sqrt(max(0.0, 1.0 - min(1.0, x))))


def porod_constant(q, s_q, ndim: int, q_range, *, method: str = "ruland") -> float:
    """Porod constant ``K`` of the high-q tail, fitted over ``q_range = (lo, hi)``.

    Parameters
    ----------
    q, s_q : (B,) ndarray
        Bin centres and intensities (NaN bins are ignored).
    ndim : int
        2 or 3 (the tail is ``K / q^(d+1)``).
    q_range : (lo, hi)
        Fit window: above the inverse domain size.
    method : {"ruland", "plateau"}
        ``"plateau"``: the mean of ``S q^(d+1)`` in the window (sharp
        interfaces, e.g. binary images, below the pixel scale).
        ``"ruland"``: a straight-line fit of ``ln(S q^(d+1)) = ln K - sigma^2
        q^2`` (Ruland, J. Appl. Cryst. 4, 70, 1971: a Gaussian-smoothed
        interface of width ``sigma`` damps the Porod tail by
        ``exp(-sigma^2 q^2)``); the intercept is the sharp-interface constant.
        Needed for simulated fields, whose interfaces are only a few cells
        wide.

    Returns
    -------
    float
        ``K`` in the units of ``S q^(d+1)``.
    """
    q = np.asarray(q, dtype=float)
    s_q = np.asarray(s_q, dtype=float)
    lo, hi = q_range
    sel = (q >= lo) & (q <= hi) & np.isfinite(s_q) & (s_q > 0)
    if sel.sum() < (2 if method == "ruland" else 1):
        raise ParameterError(
            f"too few non-empty q bins in the Porod window {tuple(q_range)}; widen it "
            "or check the q grid against the box and pixel size"
        )
    y = s_q[sel] * q[sel] ** (ndim + 1)
    if method == "plateau":
        return float(np.mean(y))
    if method == "ruland":
        slope, intercept = np.polyfit(q[sel] ** 2, np.log(y), 1)
        return float(np.exp(intercept))
    raise ParameterError(f"Porod method={method!r}: choose 'ruland' or 'plateau'")


def specific_surface_from_porod(k_porod: float, ndim: int, contrast: float = 1.0) -> float:
    """Interface per unit volume from Porod's law (see module docstring)."""
    return float(k_porod / (PORODS_PREFACTOR[ndim] * contrast**2))


def apply_instrument(q, s_q, *, rng=None, q_window=None, resolution=0.0,
                     counts=None, background=0.0):
    """Instrument effects on a binned ``S(q)`` (all off by default).

    Parameters
    ----------
    q : (B,) ndarray
        Bin centres.
    s_q : (B,) ndarray
        Ideal intensities.
    rng : numpy.random.Generator
        Needed for counting noise.
    q_window : (lo, hi), optional
        Bins outside are set to NaN (finite detector range).
    resolution : float
        Relative Gaussian resolution ``sigma_q / q`` (e.g. 0.05 for a 5 % dq/q
        SANS set-up): pinhole smearing as in sasmodels,
        :func:`scattermorph.sas.resolution.smear_pinhole` (Pedersen, Posselt &
        Mortensen, J. Appl. Cryst. 23, 321, 1990).
    counts : float, optional
        Expected counts in a bin of unit intensity: the intensity becomes
        ``Poisson(counts * I) / counts`` (counting statistics).
    background : float
        Flat incoherent background added to every bin.

    Returns
    -------
    i_q : (B,) ndarray
        Measured intensity (NaN outside the window or in empty bins).
    sigma : (B,) ndarray
        One-standard-deviation counting uncertainty (0 without noise).
    """
    q = np.asarray(q, dtype=float)
    i_q = np.asarray(s_q, dtype=float).copy()
    if resolution < 0:
        raise ParameterError(f"resolution={resolution} must be >= 0")
    if resolution > 0:

        i_q = smear_pinhole(q, i_q, resolution * q)
    if background < 0:
        raise ParameterError(f"background={background} must be >= 0")
    i_q = i_q + background
    sigma = np.zeros_like(i_q)
    if counts is not None:
        if counts <= 0:
            raise ParameterError(f"counts={counts} must be > 0")
        if rng is None:
            raise ParameterError("counting noise needs a numpy.random.Generator (rng)")
        good = np.isfinite(i_q)
        lam = np.where(good, np.clip(i_q, 0, None) * counts, 0.0)
        n = rng.poisson(lam)
        i_q = np.where(good, n / counts, np.nan)
        sigma = np.where(good, np.sqrt(np.maximum(n, 1)) / counts, np.nan)
    if q_window is not None:
        lo, hi = q_window
        out = (q < lo) | (q > hi)
        i_q[out] = np.nan
        sigma[out] = np.nan
    return i_q, sigma
