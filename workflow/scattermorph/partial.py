"""Partial views of an image: what a classifier that sees only part of it gets.

A *view* of a 2D image of ``N = ny * nx`` pixels is the set of pixels an
observer can see, drawn at random with a requested visible fraction ``f``:

* ``window``: one axis-aligned rectangle of ``h x w`` pixels at a uniformly
  random position (a microscope's field of view). The image is a periodic tile
  of the simulated sample, so a window that crosses the edge continues on the
  other side: it is still one contiguous piece of the (periodic) sample, and
  every position is equivalent. ``h`` and ``w`` are chosen by
  :func:`window_shape` so that ``h w`` is the closest achievable area to
  ``f N`` with aspect ratio at most :data:`MAX_ASPECT`; the visible count is
  within ``h / 2`` pixels of ``f N`` (``w`` rounded to the nearest integer for
  the best ``h``), and exactly ``N`` for ``f = 1``.
* ``pixels``: a uniformly random subset of exactly ``round(f N)`` pixels
  (at least one), drawn without replacement (sparse sampling, e.g. a
  scanning probe that visits random points).
* ``section_window`` / ``section_pixels``: the same applied to a 2D section of a
  3D structure (:func:`random_section`: a random axis-aligned plane), i.e.
  what a microscope sees of a bulk sample. ``f`` is then the fraction of the
  section; the fraction of the volume seen is ``f / n`` for an ``n^3`` box.

The visible fraction actually achieved is :attr:`View.fraction` (stored with
every feature row). :func:`view_frame` is the only way the features touch the
image: it copies the visible pixels into a fresh array and never reads the
others (tests/test_partial.py poisons the hidden pixels with NaN and checks
that the features do not change).

Statistics of the visible part that need no more than what is visible:

* :func:`binarise_visible`: the two-phase image of the visible pixels, cut at a
  level computed **from the visible pixels only** ("mean" or "equal_volume"
  rule of :func:`scattermorph.minkowski.threshold`, or a fixed composition);
* :func:`visible_configurations`: the histogram of ``2 x 2`` configurations
  whose four pixels are all visible, from which the Minkowski densities follow
  as for a periodic image (:func:`visible_minkowski_densities`; the local
  estimator of Ohser & Muecklich 2000, ch. 5: density = sum of the
  configuration weights / number of complete windows, unbiased for a
  stationary structure and free of the edge effects of padding);
* :func:`masked_two_point`: the two-point probability
  ``S2(r) = P(x and x + r both in the phase)`` estimated from the visible
  pairs only, by the masked-FFT estimator of Padfield (2012),
  ``S2(r) = [I m * I m](r) / [m * m](r)`` (``*`` = correlation, ``m`` the
  mask), with radial bins. Its normalised form
  ``gamma(r) = (S2(r) - p^2) / (p - p^2)`` is the Debye-Bueche correlation
  function of the phase, whose Fourier transform is the structure factor
  S(q) (Debye & Bueche 1949): for a view it is the scattering information
  that the visible pixels carry, and unlike a periodogram of a masked image it
  is not convolved with the mask's spectrum.

What cannot be computed from a sparse pixel subset: the Euler characteristic
and perimeter need complete ``2 x 2`` neighbourhoods, of which a random subset
of fraction ``f`` has about ``f^4 N`` (one in 10^4 windows at f = 0.1); the
number of complete windows is returned so features can say how much support
they had. The two-point function needs only pairs (about ``f^2 N`` per
displacement), so it survives to much smaller ``f``.

References
----------
.. [OM2000] J. Ohser and F. Muecklich, *Statistical Analysis of
   Microstructures in Materials Science*, Wiley (2000), ch. 4-5.
.. [Padfield2012] D. Padfield, "Masked object registration in the Fourier
   domain", IEEE Trans. Image Process. 21, 2706-2718 (2012).
.. [DB1949] P. Debye and A. M. Bueche, "Scattering by an inhomogeneous
   solid", J. Appl. Phys. 20, 518-525 (1949).
.. [Torquato2002] S. Torquato, *Random Heterogeneous Materials*, Springer
   (2002), ch. 2 (two-point probability function S2).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from .errors import ParameterError
from .minkowski import _check_connectivity, _tables

__all__ = [
    "VIEW_KINDS",
    "MAX_ASPECT",
    "View",
    "window_shape",
    "draw_view",
    "random_section",
    "view_frame",
    "binarise_visible",
    "visible_configurations",
    "visible_minkowski_densities",
    "masked_two_point",
]

#: View kinds understood by :func:`draw_view` (the ``section_*`` kinds are
#: the window / pixel views of a section, see :func:`random_section`).
VIEW_KINDS = ("window", "pixels", "section_window", "section_pixels")
#: Largest aspect ratio max(h, w) / min(h, w) of a window.
MAX_ASPECT = 1.5


def _check_fraction(fraction) -> float:
    if (
        isinstance(fraction, (bool, np.bool_))
        or not isinstance(fraction, numbers.Real)
        or not math.isfinite(fraction)
        or not 0 < fraction <= 1
    ):
        raise ParameterError(
            f"visible fraction f={fraction!r} must be a number in (0, 1] "
            "(1 = the whole image)"
        )
    return float(fraction)


def _check_shape2d(shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ParameterError(
            f"image shape {shape}: partial views are drawn on 2D images; take a "
            "section of a 3D structure first (random_section)"
        )
    return shape


@dataclass(frozen=True)
class View:
    """The visible part of a 2D image.

    Attributes
    ----------
    kind : {"window", "pixels"}
        Geometry of the view (a section view is a window / pixel view of the
        section image).
    shape : (int, int)
        Shape ``(ny, nx)`` of the image the view belongs to.
    fraction_requested : float
        The ``f`` asked for.
    mask : (ny, nx) ndarray of bool
        True where a pixel is visible.
    rows, cols : ndarray of int or None
        For a window: its row and column indices in the image (wrapped
        modulo the image size, consecutive on the periodic tile); None for a
        pixel subset.
    """

    kind: str
    shape: tuple
    fraction_requested: float
    mask: np.ndarray
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None

    @property
    def n_visible(self) -> int:
        """Number of visible pixels."""
        return int(self.mask.sum())

    @property
    def fraction(self) -> float:
        """Visible fraction actually achieved, ``n_visible / (ny nx)``."""
        return self.n_visible / float(self.shape[0] * self.shape[1])


def window_shape(shape, fraction) -> tuple[int, int]:
    """Sides ``(h, w)`` of a window of area fraction ``fraction``.

    Among heights ``h <= ny`` and widths ``w = round(f N / h)`` (``1 <= w <=
    nx``) with ``max(h, w) / min(h, w) <= MAX_ASPECT``, the pair with the
    area closest to ``f N`` (``N = ny nx``) is taken, ties going to the more
    square one, then the smaller ``h``. If no pair meets the aspect bound
    (only for very elongated images) the bound is dropped.

    Returns
    -------
    (h, w) : tuple of int
        ``|h w - f N| <= h / 2``; at least one pixel; ``(ny, nx)`` for
        ``f = 1``.
    """
    ny, nx = _check_shape2d(shape)
    f = _check_fraction(fraction)
    target = f * ny * nx
    best = None
    for strict in (True, False):
        for h in range(1, ny + 1):
            w = int(min(nx, max(1, round(target / h))))
            aspect = max(h, w) / min(h, w)
            if strict and aspect > MAX_ASPECT + 1e-12:
                continue
            key = (abs(h * w - target), aspect, h)
            if best is None or key < best[0]:
                best = (key, (h, w))
        if best is not None:
            break
    return best[1]


def draw_view(kind, shape, fraction, rng) -> View:
    """Draw a random view of a 2D image.

    Parameters
    ----------
    kind : {"window", "pixels", "section_window", "section_pixels"}
        Geometry (a ``section_*`` kind draws the window / pixel view of the
        already-cut section image).
    shape : (int, int)
        Image shape ``(ny, nx)``.
    fraction : float
        Requested visible fraction, in (0, 1].
    rng : numpy.random.Generator
        Source of the random position / pixel subset.

    Returns
    -------
    View
    """
    if kind not in VIEW_KINDS:
        raise ParameterError(f"view kind {kind!r} is unknown: choose one of {VIEW_KINDS}")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(
            f"rng={rng!r} must be a numpy.random.Generator (numpy.random.default_rng(seed))"
        )
    ny, nx = _check_shape2d(shape)
    f = _check_fraction(fraction)
    geometry = kind.removeprefix("section_")
    mask = np.zeros((ny, nx), bool)
    if geometry == "window":
        h, w = window_shape((ny, nx), f)
        r0, c0 = int(rng.integers(ny)), int(rng.integers(nx))
        rows = (r0 + np.arange(h)) % ny
        cols = (c0 + np.arange(w)) % nx
        mask[np.ix_(rows, cols)] = True
        return View("window", (ny, nx), f, mask, rows, cols)
    n = max(1, int(round(f * ny * nx)))
    flat = rng.choice(ny * nx, size=n, replace=False)
    mask.ravel()[flat] = True
    return View("pixels", (ny, nx), f, mask)


def random_section(volume, rng):
    """A random axis-aligned plane of a 3D structure.

    Parameters
    ----------
    volume : (nz, ny, nx) ndarray
        3D field or binary structure.
    rng : numpy.random.Generator
        Picks the normal axis (uniform over the three) and the plane index.

    Returns
    -------
    section : 2D ndarray
        A copy of the plane.
    where : (int, int)
        ``(axis, index)`` of the plane.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ParameterError(f"a section needs a 3D structure, got shape {volume.shape}")
    axis = int(rng.integers(3))
    index = int(rng.integers(volume.shape[axis]))
    return np.take(volume, index, axis=axis).copy(), (axis, index)


def view_frame(image, view: View):
    """Copy the visible pixels of ``image`` into a fresh frame.

    Only the visible pixels are read. For a window the frame is the ``h x w``
    window itself (consecutive pixels of the periodic tile), every pixel
    visible, with open boundaries. For a pixel subset the frame has the
    image's shape, hidden pixels set to 0 and flagged in the mask; it stays a
    periodic tile (a pair of visible pixels across the edge is a genuine pair
    of the periodic sample).

    Returns
    -------
    frame : 2D ndarray of float64
    mask : 2D ndarray of bool, shape of ``frame``
    periodic : bool
    """
    image = np.asarray(image)
    if image.shape != tuple(view.shape):
        raise ParameterError(
            f"image of shape {image.shape} does not match the view's shape {view.shape}"
        )
    if view.kind == "window":
        frame = image[np.ix_(view.rows, view.cols)].astype(float)
        return frame, np.ones(frame.shape, bool), False
    frame = np.zeros(view.shape)
    frame[view.mask] = image[view.mask]
    return frame, view.mask.copy(), True


def binarise_visible(frame, mask, level="mean"):
    """Two-phase image of the visible pixels, cut at a level they determine.

    Parameters
    ----------
    frame, mask : 2D ndarrays
        From :func:`view_frame`.
    level : {"mean", "equal_volume"} or float
        ``"mean"``: the mean of the visible pixels (the measurement stage's
        rule applied to what is visible); ``"equal_volume"``: their median;
        a number: that composition.

    Returns
    -------
    binary : 2D ndarray of bool
        ``frame > level`` on visible pixels, False on hidden ones.
    level : float
    """
    vis = frame[mask]
    if vis.size == 0:
        raise ParameterError("the view has no visible pixel")
    if isinstance(level, str):
        if level == "mean":
            lv = float(vis.mean())
        elif level == "equal_volume":
            lv = float(np.median(vis))
        else:
            raise ParameterError(f"level={level!r}: use 'mean', 'equal_volume' or a number")
    else:
        lv = float(level)
    return (frame > lv) & mask, lv


def _shift(a, dy, dx, periodic):
    """``a[y + dy, x + dx]`` on the torus, or the interior part (open)."""
    if periodic:
        return np.roll(a, (-dy, -dx), axis=(0, 1))
    ny, nx = a.shape
    return a[dy : ny - 1 + dy, dx : nx - 1 + dx]


def visible_configurations(binary, mask, periodic):
    """Histogram of the ``2 x 2`` configurations whose 4 pixels are visible.

    Codes follow :func:`scattermorph.minkowski.configuration_histogram`: bit
    ``b`` is the corner at offset ``(dy, dx) = (b & 1, b >> 1)``.

    Parameters
    ----------
    binary, mask : 2D ndarrays of bool
        Phase image and visibility (hidden pixels are never looked at: their
        windows are dropped).
    periodic : bool
        Windows wrap around the frame (pixel subsets of a periodic tile) or
        stay inside it (a window view).

    Returns
    -------
    hist : (16,) ndarray of int64
    """
    binary = np.asarray(binary, bool) & np.asarray(mask, bool)
    mask = np.asarray(mask, bool)
    if not periodic and min(binary.shape) < 2:
        return np.zeros(16, np.int64)
    code = np.zeros(_shift(binary, 0, 0, periodic).shape, np.int64)
    full = np.ones(code.shape, bool)
    for b in range(4):
        dy, dx = b & 1, b >> 1
        code += _shift(binary, dy, dx, periodic).astype(np.int64) << b
        full &= _shift(mask, dy, dx, periodic)
    return np.bincount(code[full], minlength=16).astype(np.int64)


def visible_minkowski_densities(binary, mask, periodic, *, spacing=1.0, connectivity=None):
    """Minkowski densities of the phase from the complete visible windows.

    ``area_fraction``, ``perimeter_density`` (length^-1) and
    ``euler_density`` (length^-2): the configuration weights of
    :mod:`scattermorph.minkowski` summed over the visible ``2 x 2``
    windows, divided by their number (each window stands for one pixel of
    area); NaN when no window is complete. For a fully visible periodic
    frame this equals :func:`scattermorph.minkowski.minkowski` exactly.

    Returns
    -------
    dict with the three densities and ``n_windows`` (int).
    """
    conn = _check_connectivity(connectivity, 2)
    hist = visible_configurations(binary, mask, periodic)
    n = int(hist.sum())
    t = _tables(2, conn)
    if n == 0:
        nan = float("nan")
        return {"area_fraction": nan, "perimeter_density": nan, "euler_density": nan, "n_windows": 0}
    cell = float(spacing) ** 2
    return {
        "area_fraction": float(hist @ t["count"]) / t["scale"] / n,
        "perimeter_density": float(hist.astype(float) @ t["perimeter"]) * spacing / (n * cell),
        "euler_density": float(hist @ t["euler_scaled"]) / t["scale"] / (n * cell),
        "n_windows": n,
    }


def masked_two_point(binary, mask, periodic, edges, *, spacing=1.0):
    """Two-point probability ``S2(r)`` of the phase from visible pairs only.

    ``S2(r) = sum_x I(x) m(x) I(x+r) m(x+r) / sum_x m(x) m(x+r)`` for every
    lattice displacement ``r`` (Padfield 2012), computed with FFTs (a
    non-periodic frame is zero-padded to twice its size so no pair wraps),
    then averaged over the shells ``edges[i] <= |r| < edges[i+1]`` weighting
    each displacement by its number of visible pairs.

    Parameters
    ----------
    binary, mask : 2D ndarrays of bool
    periodic : bool
    edges : (B + 1,) array_like
        Shell edges in length units (``|r| = spacing * pixel distance``).
    spacing : float
        Pixel size.

    Returns
    -------
    s2 : (B,) ndarray
        NaN in shells without any visible pair.
    pairs : (B,) ndarray
        Number of visible (ordered) pairs in each shell.
    """
    ind = (np.asarray(binary, bool) & np.asarray(mask, bool)).astype(float)
    m = np.asarray(mask, bool).astype(float)
    shape = ind.shape if periodic else tuple(2 * s for s in ind.shape)
    fi = sfft.rfft2(ind, s=shape)
    fm = sfft.rfft2(m, s=shape)
    num = sfft.irfft2(fi.real**2 + fi.imag**2, s=shape)
    den = sfft.irfft2(fm.real**2 + fm.imag**2, s=shape)
    den = np.rint(den)  # integer pair counts up to FFT round-off
    num = np.clip(num, 0.0, None)
    ky = np.fft.fftfreq(shape[0], 1.0 / shape[0])  # signed pixel offsets
    kx = np.fft.fftfreq(shape[1], 1.0 / shape[1])
    r = spacing * np.hypot(ky[:, None], kx[None, :])
    edges = np.asarray(edges, float)
    nb = edges.size - 1
    idx = np.searchsorted(edges, r.ravel(), side="right") - 1
    ok = (idx >= 0) & (idx < nb)
    pairs = np.bincount(idx[ok], weights=den.ravel()[ok], minlength=nb)
    both = np.bincount(idx[ok], weights=num.ravel()[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.where(pairs > 0, both / pairs, np.nan)
    return s2, pairs
