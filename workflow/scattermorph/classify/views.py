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
* ``subvolume_window`` / ``subvolume_voxels``: the 3D analogues on a 3D
  structure of ``N = nz ny nx`` voxels (a tomogram of part of the sample): one
  random cuboid of ``d x h x w`` voxels wrapping periodically, as cube-like as
  the grid allows (:func:`window_shape`), or a uniformly random subset of
  ``round(f N)`` voxels. ``f`` is the fraction of the volume.

The visible fraction actually achieved is :attr:`View.fraction` (stored with
every feature row). :func:`view_frame` is the only way the features touch the
image: it copies the visible pixels into a fresh array and never reads the
others (tests/classify/test_views.py poisons the hidden pixels with NaN and checks
that the features do not change).

Statistics of the visible part that need no more than what is visible:

* :func:`binarise_visible`: the two-phase image of the visible pixels, cut at a
  level computed **from the visible pixels only** ("mean" or "equal_volume"
  rule of :func:`scattermorph.measure.minkowski.threshold`, or a fixed composition);
* :func:`visible_configurations`: the histogram of ``2 x 2`` (3D:
  ``2 x 2 x 2``) configurations whose pixels (voxels) are all visible, from
  which the Minkowski densities follow as for a periodic image
  (:func:`visible_minkowski_densities`; the local estimator of Ohser &
  Muecklich 2000, ch. 5: density = sum of the
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
of fraction ``f`` has about ``f^4 N`` (one in 10^4 windows at f = 0.1; in 3D
``f^8 N`` complete ``2 x 2 x 2`` cubes: 17 at f = 0.3, under one at f = 0.2
in a 64^3 box); the
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

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from scattermorph.errors import ParameterError
from scattermorph.measure.minkowski import _check_connectivity, _corners, _tables

__all__ = [
    "VIEW_KINDS",
    "VOLUME_KINDS",
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
    "view_ndim",
]

#: View kinds understood by :func:`draw_view` (the ``section_*`` kinds are
#: the window / pixel views of a section, see :func:`random_section`; the
#: ``subvolume_*`` kinds are drawn on a 3D structure). The position in this
#: tuple keys the random streams of the views, so new kinds go at the end.
VIEW_KINDS = ("window", "pixels", "section_window", "section_pixels",
              "subvolume_window", "subvolume_voxels")
#: The view kinds drawn on a 3D structure itself (not on a 2D image).
VOLUME_KINDS = ("subvolume_window", "subvolume_voxels")
#: Largest aspect ratio max(h, w) / min(h, w) of a 2D window (3D cuboids
#: take the smallest aspect ratio the grid allows, see window_shape).
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


def _check_shape3d(shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ParameterError(
            f"structure shape {shape}: sub-volume views (subvolume_window, "
            "subvolume_voxels) are drawn on 3D structures; use window / pixels "
            "for 2D images"
        )
    return shape


@dataclass(frozen=True)
class View:
    """The visible part of a 2D image or of a 3D structure.

    Attributes
    ----------
    kind : {"window", "pixels", "voxels"}
        Geometry of the view (a section view is a window / pixel view of the
        section image; a sub-volume view is a 3D window or a voxel subset).
    shape : (int, int) or (int, int, int)
        Shape ``(ny, nx)`` / ``(nz, ny, nx)`` of the image the view belongs to.
    fraction_requested : float
        The ``f`` asked for.
    mask : ndarray of bool, shape ``shape``
        True where a pixel / voxel is visible.
    rows, cols : ndarray of int or None
        For a window: its row and column indices in the image (wrapped
        modulo the image size, consecutive on the periodic tile); None for a
        pixel / voxel subset.
    planes : ndarray of int or None
        For a 3D window: its indices along axis 0 (wrapped likewise); None
        otherwise.
    """

    kind: str
    shape: tuple
    fraction_requested: float
    mask: np.ndarray
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    planes: np.ndarray | None = None

    @property
    def index(self) -> tuple:
        """Per-axis indices of a window (for :func:`numpy.ix_`)."""
        if self.planes is not None:
            return (self.planes, self.rows, self.cols)
        return (self.rows, self.cols)

    @property
    def n_visible(self) -> int:
        """Number of visible pixels."""
        return int(self.mask.sum())

    @property
    def fraction(self) -> float:
        """Visible fraction actually achieved, ``n_visible / prod(shape)``."""
        return self.n_visible / float(np.prod(self.shape, dtype=float))


def window_shape(shape, fraction) -> tuple:
    """Sides of a window (2D) or cuboid (3D) of volume fraction ``fraction``.

    2D: among heights ``h <= ny`` and widths ``w = round(f N / h)`` (``1 <=
    w <= nx``) with ``max(h, w) / min(h, w) <= MAX_ASPECT``, the pair with
    the area closest to ``f N`` (``N = ny nx``) is taken, ties going to the
    more square one, then the smaller ``h``. 3D: over every ``d <= nz``,
    ``h <= ny`` with ``w = round(f N / (d h))`` (``N = nz ny nx``) inside
    ``1 <= w <= nx`` (so the volume is within ``d h / 2`` of ``f N``), the
    most cube-like cuboid (smallest ``max / min``), ties to the volume
    closest to ``f N``, then smaller ``d``, ``h``. In 3D there are many
    cuboids within the rounding bound, so shape comes first (a 64^3 box at
    f = 0.1 gets 29 x 30 x 30 rather than an exact but elongated cuboid);
    the achieved fraction is recorded with every view anyway.

    Parameters
    ----------
    shape : (ny, nx) or (nz, ny, nx)
    fraction : float in (0, 1]

    Returns
    -------
    tuple of int
        ``(h, w)`` with ``|h w - f N| <= h / 2``, or ``(d, h, w)`` with
        ``|d h w - f N| <= d h / 2`` (the best ``(d, h)``); at least one
        cell; the whole ``shape`` for ``f = 1``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return _cuboid_shape(_check_shape3d(shape), _check_fraction(fraction))
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


@functools.lru_cache(maxsize=256)
def _cuboid_shape(shape, f) -> tuple[int, int, int]:
    """:func:`window_shape` in 3D: all ``(d, h)`` at once (numpy), cached."""
    nz, ny, nx = shape
    target = f * nz * ny * nx
    d, h = np.meshgrid(np.arange(1, nz + 1), np.arange(1, ny + 1), indexing="ij")
    d, h = d.ravel(), h.ravel()
    # round half to even like Python's round (the 2D rule)
    w = np.rint(target / (d * h)).astype(np.int64)
    inside = (w >= 1) & (w <= nx)
    if not inside.any():  # pragma: no cover - d = h = 1 always has 1 <= w <= nx
        raise AssertionError("no cuboid fits")
    d, h, w = d[inside], h[inside], w[inside]
    sides = np.stack([d, h, w])
    aspect = sides.max(axis=0) / sides.min(axis=0)
    err = np.abs(d * h * w - target)
    # lexicographic minimum of (aspect, error, d, h)
    k = np.lexsort((h, d, err, aspect))[0]
    return int(d[k]), int(h[k]), int(w[k])


def draw_view(kind, shape, fraction, rng) -> View:
    """Draw a random view of a 2D image or of a 3D structure.

    Parameters
    ----------
    kind : str
        One of :data:`VIEW_KINDS`: ``window`` / ``pixels`` (and the
        ``section_*`` kinds, which draw the window / pixel view of the
        already-cut section image) on a 2D ``shape``; ``subvolume_window`` /
        ``subvolume_voxels`` on a 3D ``shape``.
    shape : (ny, nx) or (nz, ny, nx)
        Image / structure shape.
    fraction : float
        Requested visible fraction, in (0, 1].
    rng : numpy.random.Generator
        Source of the random position / pixel (voxel) subset.

    Returns
    -------
    View
        ``kind`` ``"window"`` (2D or 3D), ``"pixels"`` or ``"voxels"``.
    """
    if kind not in VIEW_KINDS:
        raise ParameterError(f"view kind {kind!r} is unknown: choose one of {VIEW_KINDS}")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(
            f"rng={rng!r} must be a numpy.random.Generator (numpy.random.default_rng(seed))"
        )
    f = _check_fraction(fraction)
    if kind in VOLUME_KINDS:
        shape = _check_shape3d(shape)
        geometry = kind.removeprefix("subvolume_")
    else:
        if len(tuple(shape)) == 3:
            raise ParameterError(
                f"view kind {kind!r} is drawn on a 2D image but the structure has shape "
                f"{tuple(shape)}: use subvolume_window / subvolume_voxels for 3D "
                "structures, or cut a section first (random_section)"
            )
        shape = _check_shape2d(shape)
        geometry = kind.removeprefix("section_")
    mask = np.zeros(shape, bool)
    if geometry == "window":
        sides = window_shape(shape, f)
        starts = [int(rng.integers(n)) for n in shape]
        idx = [(s0 + np.arange(k)) % n for s0, k, n in zip(starts, sides, shape)]
        mask[np.ix_(*idx)] = True
        if len(shape) == 3:
            return View("window", shape, f, mask, idx[1], idx[2], idx[0])
        return View("window", shape, f, mask, idx[0], idx[1])
    total = int(np.prod(shape))
    n = max(1, int(round(f * total)))
    flat = rng.choice(total, size=n, replace=False)
    mask.ravel()[flat] = True
    return View(geometry, shape, f, mask)


def view_ndim(kind) -> int:
    """Dimension of the frame a view kind's features are computed on: 3
    for the sub-volume kinds, 2 for windows, pixels and sections."""
    if kind not in VIEW_KINDS:
        raise ParameterError(f"view kind {kind!r} is unknown: choose one of {VIEW_KINDS}")
    return 3 if kind in VOLUME_KINDS else 2


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
    """Copy the visible pixels (voxels) of ``image`` into a fresh frame.

    Only the visible cells are read. For a window (2D or 3D) the frame is
    the window itself (consecutive cells of the periodic tile), every cell
    visible, with open boundaries. For a pixel / voxel subset the frame has
    the image's shape, hidden cells set to 0 and flagged in the mask; it
    stays a periodic tile (a pair of visible cells across the edge is a
    genuine pair of the periodic sample).

    Returns
    -------
    frame : ndarray of float64 (2D or 3D)
    mask : ndarray of bool, shape of ``frame``
    periodic : bool
    """
    image = np.asarray(image)
    if image.shape != tuple(view.shape):
        raise ParameterError(
            f"image of shape {image.shape} does not match the view's shape {view.shape}"
        )
    if view.kind == "window":
        frame = image[np.ix_(*view.index)].astype(float)
        return frame, np.ones(frame.shape, bool), False
    frame = np.zeros(view.shape)
    frame[view.mask] = image[view.mask]
    return frame, view.mask.copy(), True


def binarise_visible(frame, mask, level="mean"):
    """Two-phase image of the visible pixels, cut at a level they determine.

    Parameters
    ----------
    frame, mask : 2D or 3D ndarrays
        From :func:`view_frame`.
    level : {"mean", "equal_volume"} or float
        ``"mean"``: the mean of the visible pixels (the measurement stage's
        rule applied to what is visible); ``"equal_volume"``: their median;
        a number: that composition.

    Returns
    -------
    binary : ndarray of bool, shape of ``frame``
        ``frame > level`` on visible cells, False on hidden ones.
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


def _corner_views(a, periodic):
    """``a[x + c]`` for every window corner ``c`` (bit order of
    :func:`scattermorph.measure.minkowski.configuration_histogram`), as views of
    one array: on the torus (one wrapped copy) or the interior (open)."""
    corners = _corners(a.ndim)
    if periodic:
        out = a.shape
        a = np.pad(a, [(0, 1)] * a.ndim, mode="wrap")
    else:
        out = tuple(n - 1 for n in a.shape)
    return [a[tuple(slice(c, c + n) for c, n in zip(cor, out))] for cor in corners]


def visible_configurations(binary, mask, periodic):
    """Histogram of the ``2 x 2`` (``2 x 2 x 2``) configurations whose
    pixels (voxels) are all visible.

    Codes follow :func:`scattermorph.measure.minkowski.configuration_histogram`: bit
    ``b`` is the corner at offset ``(dy, dx) = (b & 1, b >> 1)`` in 2D and
    ``(dz, dy, dx) = ((b >> 1) & 1, b & 1, b >> 2)`` in 3D.

    Parameters
    ----------
    binary, mask : 2D or 3D ndarrays of bool
        Phase image and visibility (hidden cells are never looked at: their
        windows are dropped).
    periodic : bool
        Windows wrap around the frame (pixel / voxel subsets of a periodic
        tile) or stay inside it (a window view).

    Returns
    -------
    hist : (16,) or (256,) ndarray of int64
    """
    binary = np.asarray(binary, bool) & np.asarray(mask, bool)
    mask = np.asarray(mask, bool)
    ndim = binary.ndim
    n_codes = 2 ** (2**ndim)
    if not periodic and min(binary.shape) < 2:
        return np.zeros(n_codes, np.int64)
    code = None
    full = None
    for b, (vb, vm) in enumerate(zip(_corner_views(binary, periodic),
                                     _corner_views(mask, periodic))):
        bit = vb.astype(np.uint8) << np.uint8(b)
        code = bit if code is None else code | bit
        full = vm.copy() if full is None else full & vm
    return np.bincount(code[full], minlength=n_codes).astype(np.int64)


def visible_minkowski_densities(binary, mask, periodic, *, spacing=1.0, connectivity=None):
    """Minkowski densities of the phase from the complete visible windows.

    2D: ``area_fraction``, ``perimeter_density`` (length^-1) and
    ``euler_density`` (length^-2). 3D: ``volume_fraction``,
    ``surface_density`` (length^-1), ``mean_curvature_density`` (integral
    of the mean curvature per volume, length^-2) and ``euler_density``
    (length^-3). Each is the configuration weights of
    :mod:`scattermorph.measure.minkowski` summed over the visible ``2 x 2`` /
    ``2 x 2 x 2`` windows, divided by their number (each window stands for
    one cell of area / volume; the local estimator of Ohser & Muecklich
    2000, ch. 5); NaN when no window is complete. For a fully visible
    periodic frame this equals :func:`scattermorph.measure.minkowski.minkowski`
    exactly.

    Parameters
    ----------
    binary, mask : 2D or 3D ndarrays of bool
    periodic : bool
    spacing : float
        Cell size (length).
    connectivity : {None, 4, 8} (2D) or {None, 6, 26} (3D)
        Of the Euler characteristic and (3D) the mean curvature's planar
        sections (None = the full adjacency, as the measurement stage).

    Returns
    -------
    dict with the densities and ``n_windows`` (int).
    """
    ndim = np.asarray(binary).ndim
    conn = _check_connectivity(connectivity, ndim)
    hist = visible_configurations(binary, mask, periodic)
    n = int(hist.sum())
    t = _tables(ndim, conn)
    keys = (("area_fraction", "perimeter_density", "euler_density") if ndim == 2 else
            ("volume_fraction", "surface_density", "mean_curvature_density", "euler_density"))
    if n == 0:
        return {**{k: float("nan") for k in keys}, "n_windows": 0}
    cell = float(spacing) ** ndim
    hf = hist.astype(float)
    frac = float(hist @ t["count"]) / t["scale"] / n
    euler = float(hist @ t["euler_scaled"]) / t["scale"] / (n * cell)
    if ndim == 2:
        return {
            "area_fraction": frac,
            "perimeter_density": float(hf @ t["perimeter"]) * spacing / (n * cell),
            "euler_density": euler,
            "n_windows": n,
        }
    return {
        "volume_fraction": frac,
        "surface_density": float(hf @ t["surface"]) * spacing**2 / (n * cell),
        "mean_curvature_density": float(hf @ t["mean_curvature"]) * spacing / (n * cell),
        "euler_density": euler,
        "n_windows": n,
    }


def masked_two_point(binary, mask, periodic, edges, *, spacing=1.0):
    """Two-point probability ``S2(r)`` of the phase from visible pairs only.

    ``S2(r) = sum_x I(x) m(x) I(x+r) m(x+r) / sum_x m(x) m(x+r)`` for every
    lattice displacement ``r`` (Padfield 2012), computed with FFTs in 2D or
    3D, then averaged over the shells ``edges[i] <= |r| < edges[i+1]``
    weighting each displacement by its number of visible pairs. A
    non-periodic frame is zero-padded along each axis by the largest lag
    the shells need (``edges[-1] / spacing``, at most the frame side) so no
    pair wraps; a fully visible frame (a window) has the pair counts
    ``prod_a (n_a - |r_a|)`` in closed form, saving two transforms.

    Parameters
    ----------
    binary, mask : 2D or 3D ndarrays of bool
    periodic : bool
    edges : (B + 1,) array_like
        Shell edges in length units (``|r| = spacing * lattice distance``).
    spacing : float
        Pixel / voxel size.

    Returns
    -------
    s2 : (B,) ndarray
        NaN in shells without any visible pair.
    pairs : (B,) ndarray
        Number of visible (ordered) pairs in each shell.
    """
    mask = np.asarray(mask, bool)
    ind = (np.asarray(binary, bool) & mask).astype(float)
    edges = np.asarray(edges, float)
    nb = edges.size - 1
    if periodic:
        shape = ind.shape
    else:
        lag = int(math.ceil(edges[-1] / float(spacing)))
        shape = tuple(sfft.next_fast_len(n + min(n, lag), real=True) for n in ind.shape)
    axes = tuple(range(ind.ndim))
    fi = sfft.rfftn(ind, s=shape, axes=axes)
    num = sfft.irfftn(fi.real**2 + fi.imag**2, s=shape, axes=axes)
    grids = _offset_grids(shape)
    if not periodic and mask.all():
        den = 1.0
        for g, n in zip(grids, ind.shape):
            den = den * np.clip(n - np.abs(g), 0, None)
        den = np.broadcast_to(den, shape)
    else:
        fm = sfft.rfftn(mask.astype(float), s=shape, axes=axes)
        den = np.rint(sfft.irfftn(fm.real**2 + fm.imag**2, s=shape, axes=axes))
    num = np.clip(num, 0.0, None)
    idx, ok = _shell_index(shape, float(spacing), tuple(edges))
    pairs = np.bincount(idx, weights=np.ravel(den)[ok], minlength=nb)
    both = np.bincount(idx, weights=num.ravel()[ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.where(pairs > 0, both / pairs, np.nan)
    return s2, pairs


def _offset_grids(shape):
    """Signed lattice offsets of an FFT grid, one sparse grid per axis."""
    offsets = [np.fft.fftfreq(m, 1.0 / m) for m in shape]
    return np.meshgrid(*offsets, indexing="ij", sparse=True)


@functools.lru_cache(maxsize=64)
def _shell_index(shape, spacing, edges):
    """Shell of every displacement of an FFT grid (cached: the views of a
    study share a few grids). Returns the shell indices of the displacements
    inside the shells and the flat boolean mask selecting them."""
    grids = _offset_grids(shape)
    r = spacing * np.sqrt(sum(g.astype(float) ** 2 for g in grids))
    r = np.broadcast_to(r, shape).ravel()
    nb = len(edges) - 1
    idx = np.searchsorted(np.asarray(edges), r, side="right") - 1
    ok = (idx >= 0) & (idx < nb)
    idx = idx[ok]
    idx.setflags(write=False)
    ok.setflags(write=False)
    return idx, ok
