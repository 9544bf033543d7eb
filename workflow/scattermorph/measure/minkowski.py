"""Minkowski functionals of binary images in 2D and 3D by configuration counting.

Every functional of a binary image ``X`` (the ``True`` phase) is additive, so
it is a sum of local contributions. Following Ohser & Muecklich (2000), the
image is scanned once with a ``2 x 2`` (2D, 16 configurations) or
``2 x 2 x 2`` (3D, 256 configurations) window; the histogram ``h`` of window
configurations is the only pass over the data, and each functional is the dot
product ``sum_c h[c] w[c]`` of that histogram with a weight table ``w``.
The weight tables are derived programmatically below from their formulas
(cell counting for volume and Euler characteristic, Crofton formulas for the
boundary length / surface area and the integrated mean curvature), not typed
in.

Conventions
-----------
* 2D: area ``A``, perimeter (boundary length) ``L``, Euler characteristic
  ``chi`` (components minus holes).
* 3D: volume ``V``, surface area ``S``, integrated mean curvature
  ``M = int_{dX} (k1 + k2) / 2 dS`` (so a ball of radius ``R`` has
  ``M = 4 pi R``; ``M > 0`` for convex bodies of the ``True`` phase),
  Euler characteristic ``chi`` (components - tunnels + cavities).
* Densities ``<key>_density`` are per unit area / volume of the image box
  (``prod(shape) * spacing**ndim``): ``area_density`` / ``volume_density`` is
  the area / volume fraction, ``euler_density`` has units length^-ndim.
  These match the keys of :func:`scattermorph.measure.reference.boolean_model_expected`
  and :func:`scattermorph.measure.reference.grf_excursion_expected` (``area_fraction``
  there is ``area_density`` here).
* Voxels are cubes of side ``spacing``; a voxel of the image is "in" ``X``
  when ``image`` is ``True`` there. Lengths are in the units of ``spacing``.

Boundary conditions
-------------------
``periodic=True`` (default): the image is one tile of a periodic structure
(as the Cahn-Hilliard simulations are); windows wrap around, there is no
boundary, and the box itself is a torus (Euler characteristic 0 for the full
box, a straight band across a 2D box has ``chi = 0``).

``periodic=False``: open boundaries; the image is padded with one layer of
background (``False``) outside, so the phase is a bounded set and the box
faces it touches count as perimeter / surface. The Euler characteristic is
then identical to :func:`skimage.measure.euler_number` (which pads in the
same way).

Connectivity
------------
The Euler characteristic of a digitised set depends on the adjacency used to
connect its pixels: 4 or 8 in 2D, 6 or 26 in 3D (for ``X``; its complement
gets the complementary adjacency, 8/4 and 26/6, which makes the pair of
adjacencies consistent: Jordan-type separation holds, and the complement
relations below are exact). The default is the *full* adjacency (8 in 2D, 26
in 3D), which is the default of :func:`skimage.measure.euler_number`
(``connectivity=None`` means ``connectivity = ndim``, i.e. 8 / 26
neighbours), so the results can be compared with scikit-image without
arguments. The connectivity also selects the planar adjacency (4 or 8) used in
the sections of the mean-curvature estimator; it does not change volume or
surface.

Estimators and their accuracy
-----------------------------
* Volume / area: number of set voxels times ``spacing**ndim``. **Exact** for
  the digitised set (the digitisation itself of a continuous body has an error
  of order of its surface times ``spacing``, with random sign).
* Euler characteristic: **exact** for the chosen adjacency. The weights are
  those of the cell complex of the set (Ohser & Muecklich 2000, Ch. 4;
  equivalent to Lee, Kashyap & Chu 1994): for 4- / 6-adjacency, each set
  voxel is a vertex, each pair of edge-adjacent set voxels an edge, each
  ``2 x 2`` set square a face and each ``2 x 2 x 2`` set cube a 3-cell; with
  ``chi = V - E + F (- C)``, and each cell shared between ``2^k`` windows,
  the weight of a window configuration ``c`` is
  ``w4(c) = n/4 - e/2 + f`` (2D), ``w6(c) = n/8 - e/4 + f/2 - v`` (3D),
  ``n, e, f, v`` the numbers of set corners, edges, faces, cubes of the window.
  The full adjacencies follow from the complement (duality) relations of the
  digital topology on the torus / the whole lattice:
  ``w8(c) = -w4(~c)`` and ``w26(c) = w6(~c)``. (For 26-adjacency this is the
  Euler characteristic of the union of closed voxel cubes, which Michielsen &
  De Raedt (2001) count by their vertices, edges, faces and cubes.)
* Boundary length / surface area: Crofton formula (Cauchy-Crofton) with the
  intercept counts of the lattice lines in 4 (2D) / 13 (3D) directions,
  ``L = (pi/2) sum_i c_i N_i a / |v_i|`` and
  ``S = 2 sum_i c_i N_i a^2 / |v_i|`` (stereology: ``L_A = (pi/2) P_L``,
  ``S_V = 2 P_L``), ``N_i`` the number of lattice neighbour pairs
  ``(x, x + v_i)`` with exactly one point in ``X``, ``a = spacing``, and
  ``c_i`` the direction weights of Legland, Kieu & Devaux (2007): the
  fraction of the unit circle / sphere in the Voronoi cell of ``+-v_i``
  (computed here with :class:`scipy.spatial.SphericalVoronoi`, reproducing
  their 0.04577789, 0.03698063, 0.03519564 per unit vector; 1/4 each in
  2D). *Discretised*: unbiased for isotropic (randomly oriented) structures
  up to the digitisation, but biased for specific shapes and orientations,
  because 4 / 13 directions sample the projections: an axis-aligned square
  gets ``L = (pi/8)(1 + sqrt 2) * 4 s``, -5.2 %, an axis-aligned cube
  ``S = 5.56 s^2``, -7.3 %.
* Integrated mean curvature (3D): Crofton formula for the mean breadth,
  ``M = 2 pi bbar`` with ``bbar`` the mean over plane normals ``n`` of
  ``int chi(X cap {x . n = t}) dt``; evaluated with the 13 lattice plane
  families orthogonal to the 13 directions (Legland et al. 2007; planar
  Euler characteristics by the same cell counting on the square,
  rectangular and triangular lattices in these planes, 4- or 8-adjacency
  according to ``connectivity``, 6-adjacency on the triangular lattice), the
  plane spacing ``a / |v_i|`` and the same direction weights ``c_i``:
  ``M = 2 pi sum_i c_i (a / |v_i|) sum_planes chi_i``. *Discretised*, like
  the surface area (-7.3 % for an axis-aligned cube).

Measured accuracy (tests/measure/test_minkowski.py): digitised discs / balls of
radius ``R`` voxels, random sub-voxel centres: area, perimeter, volume,
surface and ``M`` within ``0.3 / R`` (relative; e.g. perimeter 0.15 % at
``R = 50``, ``M`` 0.5 % at ``R = 20``). Excursion sets of Gaussian random
fields with 5-6 voxels per correlation length: perimeter / surface 0.3-1.5 %
low, ``M`` and ``chi`` within 2.5 % of their amplitude. Sets with sharp
concave corners / crevices, such as unions of overlapping grains (Boolean
models), are harder: a thin wedge of background digitises into a chain of
isolated voxels, which the 4- / 6-adjacent background of an 8- / 26-adjacent
foreground counts as many holes (and as spurious negative curvature in the
sections); for such structures prefer ``connectivity=4`` / ``6``. Even then,
grains closer than about a voxel merge, so at ``R = 10`` voxels the Boolean
model's surface is 2-6 % low, ``chi`` and ``M`` carry a bias of the order of
the contact terms (see the tests). Schroeder-Turk et al. (2010, 2013) obtain
more accurate ``S`` and ``M`` from a triangulated (marching-cubes) isosurface
of the grey-level field, and Minkowski *tensors* the same way; that needs the
field, not the binary image, and is not done here.

Exact relations that hold by construction (tested): in periodic mode, with
the complementary adjacency for the complement ``X^c``,
``perimeter/surface(X^c) = perimeter/surface(X)``,
``M(X^c) = -M(X)`` and (the torus, chi = 0, splits into ``X``, ``X^c`` and
their common boundary: circles with chi = 0 in 2D, closed surfaces with
``chi(dX) = 2 chi(X)`` in 3D) ``chi(X^c) = -chi(X)`` in 2D and
``chi(X^c) = chi(X)`` in 3D.

Implementation and speed
------------------------
The configuration histogram is computed by a numba kernel (compiled once and
cached on disk): for each pair of consecutive rows (2D) or of rows of two
consecutive planes (3D) a 2- / 4-bit "column code" is built per pixel
(vectorised), eight consecutive window codes are packed into one 64-bit word,
words of uniform windows (all background / all foreground, the bulk of
a coarse microstructure) are counted with one comparison, the others into four
interleaved sub-histograms (to break store-to-load dependency chains). The
window planes / rows are split into ``4 x`` (number of threads) chunks, run
by a persistent pool of Python threads on the compiled kernels, which release
the GIL; each chunk has a private integer histogram, so the result is exactly
reproducible whatever the number of threads. The thread count is numba's
(``numba.get_num_threads()``, set with ``numba.set_num_threads``); images
below ``2^18`` voxels are done on the calling thread. (numba's ``prange`` was
tried: its OpenMP threads spin-wait, and on a machine whose cores are busy
with other jobs each call then took 5-10 times longer than on one thread.)
The boolean image is read through a ``uint8`` view
(no copy, unless the array is not C-contiguous, then one copy of 1 byte per
voxel); the extra memory is a few row buffers and histograms per chunk,
independent of the image size. The 64-bit packing assumes a little-endian
machine (all numba targets are).

References
----------
.. [OM2000] J. Ohser and F. Muecklich, *Statistical Analysis of
   Microstructures in Materials Science*, Wiley (2000), Ch. 4-5
   (configuration counting, Euler number, Crofton weights).
.. [LKD2007] D. Legland, K. Kieu and M.-F. Devaux, "Computation of Minkowski
   measures on 2D and 3D binary images", Image Anal. Stereol. 26, 83-92
   (2007).
.. [LKC1994] C.-N. Lee, R. L. Kashyap and C.-N. Chu, "Building skeleton
   models via 3-D medial surface/axis thinning algorithms", CVGIP: Graph.
   Models Image Process. 56, 462-478 (1994) (Euler characteristic by local
   configurations).
.. [ST2010] G. E. Schroeder-Turk, W. Mickel, M. Schroeter, G. W. Delaney,
   M. Saadatfar, T. J. Senden, K. Mecke and T. Aste, "Disordered spherical
   bead packs are anisotropic", EPL 90, 34001 (2010); G. E. Schroeder-Turk
   et al., "Minkowski tensors of anisotropic spatial structure", New J.
   Phys. 15, 083028 (2013).
.. [MR2001] K. Michielsen and H. De Raedt, "Integral-geometry morphological
   image analysis", Phys. Rep. 347, 461-538 (2001).
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from scipy.spatial import SphericalVoronoi

from scattermorph.errors import ParameterError

__all__ = [
    "minkowski",
    "minkowski_batch",
    "threshold",
    "configuration_histogram",
    "KEYS",
    "DEFAULT_CONNECTIVITY",
    "ALLOWED_CONNECTIVITY",
]

#: Keys of the totals returned by :func:`minkowski` (densities add ``_density``).
KEYS = {
    2: ("area", "perimeter", "euler"),
    3: ("volume", "surface", "mean_curvature", "euler"),
}
#: Default foreground connectivity: the full adjacency, as skimage's default.
DEFAULT_CONNECTIVITY = {2: 8, 3: 26}
#: Allowed foreground connectivities per dimension.
ALLOWED_CONNECTIVITY = {2: (4, 8), 3: (6, 26)}

# --------------------------------------------------------------------------
# compiled configuration histogram
# --------------------------------------------------------------------------
# Bit layout of a window code (derived tables use the same maps):
#   2D: bit b <-> corner (dy, dx) = (b & 1, b >> 1)
#   3D: bit b <-> corner (dz, dy, dx) = ((b >> 1) & 1, b & 1, b >> 2)
# i.e. a "column code" of the pixels at x (rows y, y+1 [, planes z, z+1]) in
# the low 2 / 4 bits and the column at x + 1 in the high bits.
_ALL_ONES_3D = np.uint64(0xFFFFFFFFFFFFFFFF)  # 8 windows of code 255
_ALL_ONES_2D = np.uint64(0x0F0F0F0F0F0F0F0F)  # 8 windows of code 15
_M8 = np.uint64(0xFF)
_M4 = np.uint64(0x0F)
_S8 = np.uint64(8)
_S56 = np.uint64(56)
_S4 = np.uint64(4)
_S2 = np.uint64(2)

if sys.byteorder != "little":  # pragma: no cover - numba targets are LE
    raise ImportError(
        "scattermorph.measure.minkowski packs bytes into 64-bit words and needs a "
        "little-endian machine"
    )


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _hist3d_chunk(a, periodic, lo, hi, out):  # pragma: no cover - compiled
    """Add the window configurations of window planes ``lo..hi-1`` to ``out``.

    ``a`` is a C-contiguous uint8 (0/1) array (n0, n1, n2). Windows start at
    ``z in 0..n0-1`` (periodic, wrapping) or ``-1..n0-1`` (open, padded with
    zeros; window plane index ``zw = z + 1``).
    """
    n0, n1, n2 = a.shape
    off = 0 if periodic else 1
    w1 = n1 if periodic else n1 + 1
    w2 = n2 if periodic else n2 + 1
    nbuf = ((w2 + 2 + 7) // 8) * 8 + 16
    col = np.zeros(nbuf, np.uint8)
    col64 = col.view(np.uint64)
    hs = np.zeros((4, 256), np.int64)
    n_empty = 0
    n_full = 0
    nwords = w2 // 8
    for zw in range(lo, hi):
        if periodic:
            za = zw
            zb = zw + 1
            if zb == n0:
                zb = 0
        else:
            za = zw - 1
            zb = zw
        vza = za >= 0 and za < n0
        vzb = zb >= 0 and zb < n0
        za = min(max(za, 0), n0 - 1)
        zb = min(max(zb, 0), n0 - 1)
        for yw in range(w1):
            if periodic:
                ya = yw
                yb = yw + 1
                if yb == n1:
                    yb = 0
            else:
                ya = yw - 1
                yb = yw
            vya = ya >= 0 and ya < n1
            vyb = yb >= 0 and yb < n1
            ya = min(max(ya, 0), n1 - 1)
            yb = min(max(yb, 0), n1 - 1)
            # rows outside the image (open mode) are masked to zero
            m0 = np.uint8(255) if (vza and vya) else np.uint8(0)
            m1 = np.uint8(255) if (vza and vyb) else np.uint8(0)
            m2 = np.uint8(255) if (vzb and vya) else np.uint8(0)
            m3 = np.uint8(255) if (vzb and vyb) else np.uint8(0)
            for x in range(n2):
                col[x + off] = (
                    (a[za, ya, x] & m0)
                    | ((a[za, yb, x] & m1) << 1)
                    | ((a[zb, ya, x] & m2) << 2)
                    | ((a[zb, yb, x] & m3) << 3)
                )
            if periodic:
                col[n2] = col[0]
            else:
                col[0] = 0
                col[n2 + 1] = 0
            # 8 windows per 64-bit word: byte k = col[x+k] | col[x+k+1] << 4
            for w in range(nwords):
                c = col64[w]
                nxt = (c >> _S8) | (col64[w + 1] << _S56)
                code = c | (nxt << _S4)
                if code == 0:
                    n_empty += 1
                elif code == _ALL_ONES_3D:
                    n_full += 1
                else:
                    for k in range(8):
                        hs[k & 3, (code >> np.uint64(8 * k)) & _M8] += 1
            for x in range(nwords * 8, w2):
                hs[0, col[x] | (col[x + 1] << 4)] += 1
    for k in range(4):
        for c in range(256):
            out[c] += hs[k, c]
    out[0] += 8 * n_empty
    out[255] += 8 * n_full


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _hist2d_chunk(a, periodic, lo, hi, out):  # pragma: no cover - compiled
    """Add the window configurations of window rows ``lo..hi-1`` to ``out``."""
    n0, n1 = a.shape
    off = 0 if periodic else 1
    w1 = n1 if periodic else n1 + 1
    nbuf = ((w1 + 2 + 7) // 8) * 8 + 16
    col = np.zeros(nbuf, np.uint8)
    col64 = col.view(np.uint64)
    hs = np.zeros((4, 16), np.int64)
    n_empty = 0
    n_full = 0
    nwords = w1 // 8
    for yw in range(lo, hi):
        if periodic:
            ya = yw
            yb = yw + 1
            if yb == n0:
                yb = 0
        else:
            ya = yw - 1
            yb = yw
        vya = ya >= 0 and ya < n0
        vyb = yb >= 0 and yb < n0
        ya = min(max(ya, 0), n0 - 1)
        yb = min(max(yb, 0), n0 - 1)
        m0 = np.uint8(255) if vya else np.uint8(0)
        m1 = np.uint8(255) if vyb else np.uint8(0)
        for x in range(n1):
            col[x + off] = (a[ya, x] & m0) | ((a[yb, x] & m1) << 1)
        if periodic:
            col[n1] = col[0]
        else:
            col[0] = 0
            col[n1 + 1] = 0
        for w in range(nwords):
            c = col64[w]
            nxt = (c >> _S8) | (col64[w + 1] << _S56)
            code = c | (nxt << _S2)
            if code == 0:
                n_empty += 1
            elif code == _ALL_ONES_2D:
                n_full += 1
            else:
                for k in range(8):
                    hs[k & 3, (code >> np.uint64(8 * k)) & _M4] += 1
        for x in range(nwords * 8, w1):
            hs[0, col[x] | (col[x + 1] << 2)] += 1
    for k in range(4):
        for c in range(16):
            out[c] += hs[k, c]
    out[0] += 8 * n_empty
    out[15] += 8 * n_full


#: Images with fewer voxels than this are histogrammed on the calling thread
#: (handing chunks to the thread pool costs more than it saves).
_PARALLEL_MIN_VOXELS = 1 << 18
#: Chunks per thread in the parallel pass (dynamic load balancing).
_CHUNKS_PER_THREAD = 4


# --------------------------------------------------------------------------
# weight tables, derived from the formulas
# --------------------------------------------------------------------------
def _corners(ndim: int) -> np.ndarray:
    """Corner offsets (array-axis order) of window bits 0..2^ndim - 1."""
    if ndim == 2:
        return np.array([(b & 1, b >> 1) for b in range(4)])
    return np.array([((b >> 1) & 1, b & 1, b >> 2) for b in range(8)])


def _directions(ndim: int) -> list[np.ndarray]:
    """One lattice vector per undirected direction (4 in 2D, 13 in 3D)."""
    out = []
    for v in itertools.product((-1, 0, 1), repeat=ndim):
        v = np.array(v)
        nz = np.flatnonzero(v)
        if nz.size and v[nz[0]] > 0:  # first non-zero component positive
            out.append(v)
    return out


@functools.cache
def _direction_weights(ndim: int) -> np.ndarray:
    """Legland et al. (2007) weights: Voronoi measure of +-v_i on the sphere.

    Returns one weight per direction of :func:`_directions` (sum 1): the
    fraction of the unit circle (2D) / sphere (3D) closer to ``+v_i`` or
    ``-v_i`` than to any other lattice direction.
    """
    dirs = _directions(ndim)
    vecs = np.array([s * v for v in dirs for s in (1, -1)], dtype=float)
    if ndim == 2:
        ang = np.arctan2(vecs[:, 1], vecs[:, 0])
        order = np.argsort(ang)
        gaps = np.diff(np.append(ang[order], ang[order[0]] + 2 * np.pi))
        arcs = np.empty(len(vecs))
        arcs[order] = 0.5 * (gaps + np.roll(gaps, 1))  # half-gap on each side
        frac = arcs / (2 * np.pi)
        weights = frac[0::2] + frac[1::2]
    else:
        sv = SphericalVoronoi(vecs / np.linalg.norm(vecs, axis=1)[:, None])
        areas = sv.calculate_areas() / (4 * np.pi)
        weights = areas[0::2] + areas[1::2]
    weights.setflags(write=False)
    return weights


def _pair_share(pair_delta: np.ndarray) -> float:
    """1 / (number of windows containing a cell whose corners vary along the
    non-zero axes of ``pair_delta``) = 2^-(number of constant coordinates)."""
    return 2.0 ** -(pair_delta.size - np.count_nonzero(pair_delta))


def _planar_cell_weight(
    cell: np.ndarray, bits: np.ndarray, planar_conn: int
) -> np.ndarray:
    """Euler-characteristic weight of one planar cell of a plane lattice.

    ``cell``: (k, ndim) corner coordinates (k = 4: square / rectangular
    lattice, each vertex in 4 cells, each side in 2, weight
    ``n/4 - e/2 + f`` for 4-adjacency and ``-w4(~c)`` for 8-adjacency;
    k = 3: triangular lattice, each vertex in 6 triangles, each side in 2,
    weight ``n/6 - e/2 + f``, 6-adjacency, self-complementary).
    ``bits``: (n_codes, k) corner values. Returns (n_codes,) floats.
    """
    k = len(cell)
    pairs = list(itertools.combinations(range(k), 2))
    if k == 4:
        if planar_conn == 8:
            return -_planar_cell_weight(cell, ~bits, 4)
        # the two diagonals of a rectangle are its two longest corner pairs
        lengths = [np.sum((cell[i] - cell[j]) ** 2) for i, j in pairs]
        pairs = [pairs[m] for m in np.argsort(lengths, kind="stable")[:4]]
    n = bits.sum(axis=1)
    e = sum((bits[:, i] & bits[:, j]).astype(int) for i, j in pairs)
    vertex_share = 4 if k == 4 else 6
    return n / vertex_share - e / 2 + bits.all(axis=1)


@functools.cache
def _tables(ndim: int, connectivity: int) -> dict:
    """Weight tables (unit spacing) indexed by window code.

    Returns a dict with integer tables ``count`` (set corners) and
    ``euler_scaled`` (Euler weight times ``scale`` = 2^ndim, exact integers),
    and float tables ``perimeter`` (2D) or ``surface`` and ``mean_curvature``
    (3D), all of shape (2^(2^ndim),), read-only. The formulas are those of
    the module docstring: cell counting for the Euler characteristic
    (Ohser & Muecklich 2000, Ch. 4; :func:`_euler_table`), the Crofton
    formula for the boundary length / surface area (:func:`_crofton_table`)
    and for the mean breadth from planar sections (Legland, Kieu & Devaux
    2007; :func:`_mean_breadth_table`).
    """
    corners = _corners(ndim)
    k = len(corners)
    codes = np.arange(2**k)
    bits = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)  # (n_codes, k)
    crofton = _crofton_table(corners, bits)
    out = {
        "count": bits.sum(axis=1).astype(np.int64),
        "euler_scaled": _euler_table(corners, bits, connectivity).astype(np.int64),
        "scale": 2**ndim,
    }
    if ndim == 2:
        out["perimeter"] = 0.5 * math.pi * crofton
    else:
        out["surface"] = 2.0 * crofton
        out["mean_curvature"] = 2 * math.pi * _mean_breadth_table(corners, bits, connectivity)
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return out


def _euler_table(corners: np.ndarray, bits: np.ndarray, connectivity: int) -> np.ndarray:
    """Euler weight of every window configuration, times 2^ndim (integers).

    Euler characteristic with 4- / 6-adjacency: chi = V - E + F (- C) of the
    cell complex; a cell whose corners are constant along j axes lies in 2^j
    windows, so n/2^d - e/2^(d-1) + f/2^(d-2) (- v), times 2^d here. The full
    adjacencies by duality: chi8(X) = -chi4(X^c) (2D, torus), chi26(X) =
    chi6(X^c) (3D).
    """
    ndim = corners.shape[1]
    edges = [
        (i, j)
        for i, j in itertools.combinations(range(len(corners)), 2)
        if np.abs(corners[i] - corners[j]).sum() == 1
    ]
    n_set = bits.sum(axis=1)
    n_edges = sum((bits[:, i] & bits[:, j]).astype(np.int64) for i, j in edges)
    full_cube = bits.all(axis=1).astype(np.int64)
    if ndim == 2:
        euler_base = n_set - 2 * n_edges + 4 * full_cube
    else:
        faces = [
            np.flatnonzero(corners[:, ax] == val) for ax in range(3) for val in (0, 1)
        ]
        n_faces = sum(bits[:, f].all(axis=1).astype(np.int64) for f in faces)
        euler_base = n_set - 2 * n_edges + 4 * n_faces - 8 * full_cube
    if connectivity == 8:  # 2D duality on the torus: chi8(X) = -chi4(X^c)
        return -euler_base[::-1]
    if connectivity == 26:  # 3D: chi26(X) = chi6(X^c)
        return euler_base[::-1].copy()
    return euler_base


def _crofton_table(corners: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """``sum_i c_i N_i / |v_i|`` of every window configuration (Crofton).

    Intercepts along each direction v_i; a corner pair along v_i is shared
    by 2^(number of zero components of v_i) windows.
    """
    ndim = corners.shape[1]
    dirs = _directions(ndim)
    cw = _direction_weights(ndim)
    idx = range(len(corners))
    crofton = np.zeros(len(bits))
    for i, v in enumerate(dirs):
        pairs = [
            (p, q)
            for p in idx
            for q in idx
            if np.array_equal(corners[q] - corners[p], v)
        ]
        diff = sum((bits[:, p] != bits[:, q]).astype(int) for p, q in pairs)
        crofton += cw[i] * _pair_share(v) * diff / np.linalg.norm(v)
    return crofton


def _mean_breadth_table(corners: np.ndarray, bits: np.ndarray, connectivity: int) -> np.ndarray:
    """``sum_i c_i (1 / |v_i|) sum_planes chi_i`` of every 3D window configuration.

    Mean breadth from planar sections: the planar cells of the plane family
    orthogonal to v_i are the groups of >= 3 window corners on a common
    plane v_i . p = const (squares, rectangles, triangles).
    """
    dirs = _directions(3)
    cw = _direction_weights(3)
    planar_conn = 4 if connectivity == 6 else 8
    curv = np.zeros(len(bits))
    for i, v in enumerate(dirs):
        level = corners @ v
        for lv in np.unique(level):
            members = np.flatnonzero(level == lv)
            if members.size < 3:
                continue
            pts = corners[members]
            n_const = sum(bool(np.all(pts[:, ax] == pts[0, ax])) for ax in range(3))
            chi = _planar_cell_weight(pts, bits[:, members], planar_conn)
            curv += cw[i] * 2.0**-n_const * chi / np.linalg.norm(v)
    return curv


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def _check_image(image, *, what="image", batch=False) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"{what} could not be converted to an array: {exc}"
            ) from None
    allowed = (3, 4) if batch else (2, 3)
    if image.dtype != np.bool_:
        if image.dtype.kind in "fc" and image.size and np.isnan(image).any():
            raise ParameterError(
                f"{what} has dtype {image.dtype} and contains NaN values: the "
                "Minkowski functionals need a boolean (two-phase) image; remove "
                "the NaNs from the field, then threshold it, e.g. "
                "scattermorph.measure.minkowski.threshold(field, level='equal_volume')"
            )
        raise ParameterError(
            f"{what} has dtype {image.dtype}, but a boolean (bool) array is "
            "needed (True = the phase to measure): threshold the field first, "
            "e.g. scattermorph.measure.minkowski.threshold(field, level='equal_volume'"
            " | 'mean' | value) or `field > level`"
        )
    if image.ndim not in allowed:
        if batch:
            msg = (
                f"{what} has {image.ndim} dimension(s) (shape {image.shape}): "
                "a batch must be a stack (T, ny, nx) of 2D or (T, nz, ny, nx) "
                "of 3D images"
            )
        else:
            msg = (
                f"{what} has {image.ndim} dimension(s) (shape {image.shape}): "
                "only 2D and 3D images are supported (for a stack of images "
                "use minkowski_batch)"
            )
        raise ParameterError(msg)
    sides = image.shape[1:] if batch else image.shape
    if any(side < 1 for side in sides):
        raise ParameterError(
            f"{what} has shape {image.shape}: every image side must be >= 1 voxel"
        )
    return image


def _check_spacing(spacing) -> float:
    if (
        isinstance(spacing, (bool, np.bool_))
        or not isinstance(spacing, numbers.Real)
        or not math.isfinite(spacing)
        or spacing <= 0
    ):
        raise ParameterError(
            f"spacing={spacing!r} must be a finite number > 0 (the voxel side, "
            "length units; voxels are cubic, so give one number)"
        )
    return float(spacing)


def _check_periodic(periodic) -> bool:
    if not isinstance(periodic, (bool, np.bool_)):
        raise ParameterError(
            f"periodic={periodic!r} must be True (periodic tile) or False "
            "(open boundaries, background outside)"
        )
    return bool(periodic)


def _check_connectivity(connectivity, ndim: int) -> int:
    if connectivity is None:
        return DEFAULT_CONNECTIVITY[ndim]
    allowed = ALLOWED_CONNECTIVITY[ndim]
    if (
        isinstance(connectivity, (bool, np.bool_))
        or not isinstance(connectivity, numbers.Integral)
        or int(connectivity) not in allowed
    ):
        raise ParameterError(
            f"connectivity={connectivity!r} is not allowed for {ndim}D images: "
            f"use {allowed[0]} or {allowed[1]} (neighbours of a foreground "
            f"pixel; the background gets the other one), or None for the "
            f"default {DEFAULT_CONNECTIVITY[ndim]}"
        )
    return int(connectivity)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
# A persistent pool of Python threads runs the compiled (nogil) chunk kernels
# in parallel. Unlike numba's prange on the OpenMP layer, whose threads
# spin-wait at the end of a parallel region, waiting threads here block: on a
# machine whose cores are busy with other jobs we measured prange calls 5-10x
# slower than one thread (the spinning thread eats the CPU its partner needs),
# the pool never slower than about one thread.
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _reset_pool_after_fork():  # pragma: no cover - runs in forked children
    global _POOL, _POOL_SIZE
    _POOL, _POOL_SIZE = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _pool(n_threads: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < n_threads:
            # a larger pool replaces the old one, which is not shut down (a
            # concurrent caller may still be submitting to it); its idle
            # threads exit once it is garbage-collected
            _POOL = ThreadPoolExecutor(
                n_threads, thread_name_prefix="scattermorph-minkowski"
            )
            _POOL_SIZE = n_threads
        return _POOL


def _histogram(image: np.ndarray, periodic: bool) -> np.ndarray:
    """Configuration histogram of a validated 2D/3D bool image."""
    a = np.ascontiguousarray(image).view(np.uint8)
    kernel = _hist2d_chunk if a.ndim == 2 else _hist3d_chunk
    n_bins = 16 if a.ndim == 2 else 256
    n_win = a.shape[0] if periodic else a.shape[0] + 1
    threads = int(numba.get_num_threads())
    if threads == 1 or a.size < _PARALLEL_MIN_VOXELS or n_win < 2:
        out = np.zeros(n_bins, np.int64)
        kernel(a, periodic, 0, n_win, out)
        return out
    # window planes / rows in 4 chunks per thread, handed out one at a time
    # (dynamic load balancing); private integer histograms, summed in a fixed
    # order: identical results whatever the thread count
    nchunks = min(n_win, _CHUNKS_PER_THREAD * threads)
    part = np.zeros((nchunks, n_bins), np.int64)
    bounds = [t * n_win // nchunks for t in range(nchunks + 1)]
    pool = _pool(threads)
    futures = [
        pool.submit(kernel, a, periodic, bounds[t], bounds[t + 1], part[t])
        for t in range(nchunks)
    ]
    for f in futures:
        f.result()
    return part.sum(axis=0)


def configuration_histogram(image, *, periodic: bool = True) -> np.ndarray:
    """Histogram of the ``2 x 2`` / ``2 x 2 x 2`` window configurations.

    Parameters
    ----------
    image : ndarray of bool, shape (ny, nx) or (nz, ny, nx)
        Binary image (True = the phase).
    periodic : bool, optional
        Wrap windows around the box (default) or pad with one layer of
        ``False`` (open boundaries).

    Returns
    -------
    ndarray of int64, shape (16,) (2D) or (256,) (3D)
        ``h[c]`` = number of windows with configuration code ``c``. Bit ``b``
        of ``c`` is the window corner at offset ``(dy, dx) = (b & 1, b >> 1)``
        (2D) or ``(dz, dy, dx) = ((b >> 1) & 1, b & 1, b >> 2)`` (3D), in
        array-axis order. The total is ``prod(shape)`` (periodic) or
        ``prod(shape + 1)`` (open).

    Raises
    ------
    ParameterError
        Not a 2D/3D bool array, or ``periodic`` not a bool.
    """
    image = _check_image(image)
    return _histogram(image, _check_periodic(periodic))


def _functionals(hist, ndim, shape, spacing, connectivity) -> dict:
    t = _tables(ndim, connectivity)
    scale = t["scale"]
    n_set, rem = divmod(int(hist @ t["count"]), scale)
    euler, rem2 = divmod(int(hist @ t["euler_scaled"]), scale)
    if rem or rem2:  # pragma: no cover - impossible for a valid histogram
        raise AssertionError("inconsistent configuration histogram")
    box = float(np.prod(shape, dtype=float)) * spacing**ndim
    hf = hist.astype(float)
    if ndim == 2:
        out = {
            "area": n_set * spacing**2,
            "perimeter": float(hf @ t["perimeter"]) * spacing,
            "euler": euler,
        }
    else:
        out = {
            "volume": n_set * spacing**3,
            "surface": float(hf @ t["surface"]) * spacing**2,
            "mean_curvature": float(hf @ t["mean_curvature"]) * spacing,
            "euler": euler,
        }
    for k in KEYS[ndim]:
        out[f"{k}_density"] = out[k] / box
    return out


def minkowski(image, *, spacing=1.0, periodic=True, connectivity=None) -> dict:
    """Minkowski functionals (totals and densities) of a 2D or 3D binary image.

    One compiled pass computes the histogram of ``2 x 2`` / ``2 x 2 x 2``
    window configurations; each functional is its dot product with a weight
    table (Ohser & Muecklich 2000; Legland, Kieu & Devaux 2007). Volume and
    Euler characteristic are exact for the digitised set; perimeter / surface
    area and integrated mean curvature are Crofton estimates over 4 (2D) / 13
    (3D) lattice directions (see the module docstring for their accuracy).

    Parameters
    ----------
    image : ndarray of bool, shape (ny, nx) or (nz, ny, nx)
        Binary image; the functionals are those of the ``True`` phase. Other
        dtypes are rejected: threshold a field first (:func:`threshold`).
        Read through a ``uint8`` view without copying (a non-C-contiguous
        array is copied once, 1 byte per voxel).
    spacing : float, optional
        Voxel side (length units), > 0; voxels are squares / cubes.
    periodic : bool, optional
        True (default): the image is a periodic tile (windows wrap around, no
        boundary). False: open boundaries, the image padded with background
        outside; the box faces the phase touches count as boundary, and the
        Euler characteristic equals :func:`skimage.measure.euler_number`.
    connectivity : {None, 4, 8} (2D) or {None, 6, 26} (3D), optional
        Adjacency of the ``True`` phase for the Euler characteristic (the
        complement gets the complementary one) and for the planar sections
        of the mean-curvature estimator. None: 8 (2D) / 26 (3D), the full
        adjacency, which is skimage's default.

    Returns
    -------
    dict
        2D: ``area`` (length^2), ``perimeter`` (length), ``euler`` (int);
        3D: ``volume`` (length^3), ``surface`` (length^2),
        ``mean_curvature`` (``int (k1 + k2)/2 dS``, length; ``4 pi R`` for a
        ball), ``euler`` (int); plus ``<key>_density`` for each (per unit box
        area / volume ``prod(shape) * spacing**ndim``; ``area_density`` /
        ``volume_density`` is the area / volume fraction).

    Raises
    ------
    ParameterError
        Non-bool image (including NaN-containing fields), not 2D/3D, an empty
        side, bad ``spacing``, ``periodic`` or ``connectivity``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((64, 64), bool); img[16:48, 16:48] = True
    >>> minkowski(img)["euler"], minkowski(img)["area"]
    (1, 1024.0)
    """
    image = _check_image(image)
    spacing = _check_spacing(spacing)
    periodic = _check_periodic(periodic)
    conn = _check_connectivity(connectivity, image.ndim)
    hist = _histogram(image, periodic)
    return _functionals(hist, image.ndim, image.shape, spacing, conn)


def minkowski_batch(images, *, spacing=1.0, periodic=True, connectivity=None) -> dict:
    """Minkowski functionals of a stack of images (one pass per image).

    Parameters
    ----------
    images : ndarray of bool, shape (T, ny, nx) or (T, nz, ny, nx)
        Stack of ``T`` binary images of the same shape (e.g. snapshots of a
        simulation).
    spacing, periodic, connectivity
        As in :func:`minkowski`, the same for every image.

    Returns
    -------
    dict of ndarray, shape (T,)
        The keys of :func:`minkowski`; ``euler`` as int64, the others
        float64.

    Raises
    ------
    ParameterError
        As :func:`minkowski`; a 2D array is not a stack.
    """
    images = _check_image(images, what="images", batch=True)
    spacing = _check_spacing(spacing)
    periodic = _check_periodic(periodic)
    ndim = images.ndim - 1
    conn = _check_connectivity(connectivity, ndim)
    keys = KEYS[ndim] + tuple(f"{k}_density" for k in KEYS[ndim])
    out = {
        k: np.zeros(images.shape[0], np.int64 if k == "euler" else float) for k in keys
    }
    for i in range(images.shape[0]):
        res = _functionals(
            _histogram(images[i], periodic), ndim, images.shape[1:], spacing, conn
        )
        for k in keys:
            out[k][i] = res[k]
    return out


def threshold(field, level="equal_volume", *, return_level=False):
    """Binary phase image ``field > level`` of a composition field.

    Parameters
    ----------
    field : array_like of float, any shape
        Real, finite field (e.g. the order parameter of a blend).
    level : {"equal_volume", "mean"} or float, optional
        ``"equal_volume"`` (default): the median of the field, so each phase
        has half the voxels (exactly, when the values are distinct and the
        voxel count is even; ties at the median go to the ``False`` phase).
        This is the natural cut for a symmetric (critical) blend and gives
        the morphology at equal volume fractions whatever the amplitude.
        ``"mean"``: the mean composition of the field, i.e. the phase
        boundary at the overall composition (for an off-critical blend, the
        volume fractions then follow the actual phase separation rather than
        being imposed). A float: that value (same units as ``field``).
    return_level : bool
        Also return the numerical level used.

    Returns
    -------
    ndarray of bool, shape of ``field``
        ``True`` where ``field > level`` (the phase rich in the component
        whose concentration the field measures).
    float
        The level, if ``return_level``.

    Raises
    ------
    ParameterError
        A non-real or non-finite field, an empty field, or an unknown /
        non-finite level.
    """
    f = np.asarray(field)
    if f.dtype.kind not in "biuf":
        raise ParameterError(
            f"field has dtype {f.dtype}: a real-valued numeric array is needed"
        )
    if f.size == 0:
        raise ParameterError("field is empty: nothing to threshold")
    if f.dtype.kind == "f" and not np.isfinite(f).all():
        raise ParameterError(
            "field contains NaN or infinite values: threshold needs a finite "
            "field (did the simulation blow up?)"
        )
    if isinstance(level, str):
        if level == "equal_volume":
            lv = np.median(f)
        elif level == "mean":
            lv = f.mean(dtype=float)
        else:
            raise ParameterError(
                f"level={level!r} is unknown: use 'equal_volume', 'mean' or a number"
            )
    elif (
        isinstance(level, numbers.Real)
        and not isinstance(level, (bool, np.bool_))
        and math.isfinite(level)
    ):
        lv = level
    else:
        raise ParameterError(
            f"level={level!r} must be 'equal_volume', 'mean' or a finite number"
        )
    if return_level:
        return f > lv, float(lv)
    return f > lv
