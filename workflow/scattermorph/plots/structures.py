"""Pictures of 3D structures: orthogonal sections and shaded isosurfaces.

A mid-plane of a 3D field alone hides what a physicist wants to see first:
whether the minority phase forms isolated droplets or a connected network
with handles. The figures of a 3D study therefore show each structure twice:

* :func:`orthogonal_sections` / :func:`draw_sections`: the three mid-planes
  xy, xz and yz side by side, with the common colour scale of the 2D figures
  (volume fraction 0 to 1) and the binarisation level as a contour;
* :func:`isosurface_mesh` / :func:`draw_isosurface`: the interface between
  the phases at the study's binarisation level
  (:func:`scattermorph.measure.minkowski.threshold`), from
  :func:`skimage.measure.marching_cubes`, drawn with matplotlib's
  :class:`~mpl_toolkits.mplot3d.art3d.Poly3DCollection` and Lambert shading.

Conventions. A 3D field is indexed ``field[i, j, k]`` with ``i`` along x,
``j`` along y and ``k`` along z (the 2D figures draw ``field[i, j]`` with
``i`` horizontal). Sample ``i`` sits at ``x = i dx``; the periodic box is
``[0, n dx)`` along each axis, lengths in units of the statistical segment
length b.

Periodic boxes and the box faces (the choice made here). The field is padded
by wrapping one layer (``np.pad(..., mode="wrap")`` on the high side), so the
interface is computed on the closed box ``[0, L]`` and a domain that leaves
through one face re-enters consistently through the opposite one. Domains of
the shown phase that are cut by the box faces are then closed by flat caps
lying on the faces (``caps=True``, the default): the picture is a cube of
material cut out of an infinite sample, its cut faces drawn where the shown
phase meets them. With ``caps=False`` the surface is the true periodic
interface inside the box (open at the faces), whose area is the interface
area of the structure.
"""

from __future__ import annotations

import matplotlib

from scattermorph.measure.minkowski import threshold
from scattermorph.plots.common import functional_columns, plot_length_series

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage.measure import marching_cubes  # noqa: E402

from scattermorph.errors import ParameterError  # noqa: E402

__all__ = [
    "SECTION_PLANES",
    "PHASE_COLORS",
    "orthogonal_sections",
    "resample_periodic",
    "isosurface_mesh",
    "mesh_area",
    "lambert_shading",
    "draw_sections",
    "draw_isosurface",
    "structure_panel",
    "plot_sections",
    "plot_isosurface",
    "plot_gallery_3d",
    "plot_motivating_pair_3d",
    "plot_coarsening_3d",
]

CMAP = "RdBu_r"
#: The mid-planes, in the order they are drawn.
SECTION_PLANES = ("xy", "xz", "yz")
#: Colour of the surface of each phase, from the sections' colour map: the
#: A-rich phase (``field > level``) red, the A-poor phase blue.
PHASE_COLORS = {True: plt.get_cmap(CMAP)(0.82)[:3], False: plt.get_cmap(CMAP)(0.18)[:3]}
#: Camera of the isosurface panels (degrees).
VIEW = {"elev": 24.0, "azim": -58.0}


def _check3d(field):
    f = np.asarray(field)
    if f.ndim != 3 or min(f.shape) < 2:
        raise ParameterError(f"field of shape {f.shape}: need a 3D field (nx, ny, nz) with >= 2 "
                             "cells per axis (2D fields are drawn by scattermorph.plots.common)")
    if f.dtype.kind not in "biuf":
        raise ParameterError(f"field has dtype {f.dtype}: need real numbers")
    return f


def _per_field(dx, n):
    """``dx`` (one cell size, or one per field) as a list of n floats."""
    d = np.atleast_1d(np.asarray(dx, float))
    if d.size == 1:
        d = np.repeat(d, n)
    if d.size != n:
        raise ParameterError(f"{d.size} cell sizes for {n} fields: give one dx or one per field")
    return [_check_dx(v) for v in d]


def _extent(fields, dxs):
    """Side (b) of the largest box among the fields."""
    return max(max(np.shape(f)) * d for f, d in zip(fields, dxs))


def _check_dx(dx):
    if not (np.isfinite(dx) and dx > 0):
        raise ParameterError(f"dx = {dx}: need the cell size in b, a finite number > 0")
    return float(dx)


# --------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------
def orthogonal_sections(field) -> dict:
    """The three mid-planes of a 3D field.

    Parameters
    ----------
    field : (nx, ny, nz) ndarray
        A field indexed ``[x, y, z]``.

    Returns
    -------
    dict
        ``"xy"``: ``field[:, :, nz // 2]``, shape (nx, ny), indexed
        ``[x, y]``; ``"xz"``: ``field[:, ny // 2, :]``, shape (nx, nz);
        ``"yz"``: ``field[nx // 2, :, :]``, shape (ny, nz). Each plane is
        indexed ``[horizontal, vertical]`` as drawn by :func:`draw_sections`
        (views, not copies).
    """
    f = _check3d(field)
    nx, ny, nz = f.shape
    return {"xy": f[:, :, nz // 2], "xz": f[:, ny // 2, :], "yz": f[nx // 2, :, :]}


def resample_periodic(field, cells: int, *, periodic: bool = True) -> np.ndarray:
    """A 3D field on at most ``cells`` samples along its longest axis.

    A drawing aid (the measurements use the full grid). Every axis is
    scaled by the same factor ``cells / max(shape)``. When one integer block
    size ``s`` divides every axis, the field is averaged over ``s^3``
    blocks (anti-aliased, keeps the mean composition); otherwise it is
    interpolated linearly (:func:`scipy.ndimage.zoom`, periodic boundary
    with ``periodic``), which is fine for fields that vary over a few cells
    like a Cahn-Hilliard interface. A field already small enough is
    returned as it is.

    Parameters
    ----------
    field : (nx, ny, nz) ndarray
    cells : int
        Samples along the longest axis (>= 4).
    periodic : bool
        The field is periodic (samples at ``i L / n``) or not (samples at
        ``i L / (n - 1)``, ends kept).

    Returns
    -------
    (mx, my, mz) ndarray of float
    """
    f = np.asarray(field, float)
    if cells < 4:
        raise ParameterError(f"cells = {cells}: need >= 4 samples per axis to draw a surface")
    n = max(f.shape)
    if cells >= n:
        return f
    s = n // cells
    if n % cells == 0 and all(k % s == 0 for k in f.shape):
        nx, ny, nz = f.shape
        return f.reshape(nx // s, s, ny // s, s, nz // s, s).mean(axis=(1, 3, 5))
    shape = [max(4, round(k * cells / n)) for k in f.shape]
    if periodic:
        zoom = [m / k for m, k in zip(shape, f.shape)]
        return ndimage.zoom(f, zoom, order=1, mode="grid-wrap", grid_mode=True)
    zoom = [(m - 1) / (k - 1) for m, k in zip(shape, f.shape)]
    return ndimage.zoom(f, zoom, order=1, mode="nearest")


def isosurface_mesh(field, dx: float, *, level="mean", phase="minority", max_cells: int = 64,
                    max_faces: int = 60_000, periodic: bool = True, caps: bool = True):
    """Triangle mesh of the interface of a 3D binarised structure.

    The field is cut at the study's level (:func:`scattermorph.measure.minkowski.threshold`
    of the full-resolution field) and the interface of the shown phase is
    found by :func:`skimage.measure.marching_cubes` (linear interpolation
    along the grid edges). To keep the drawing light (at most ``max_faces``
    triangles: ~3 s and ~60 MB per 1e5 triangles in matplotlib), the field
    is first brought to at most ``max_cells`` samples per axis
    (:func:`resample_periodic`), and coarser still if the mesh has more than
    ``max_faces`` triangles (triangles scale as 1 / spacing^2). A coarse
    sample stands for a block of cells and is drawn at the block's first
    cell: a shift of less than one coarse cell.

    Parameters
    ----------
    field : (nx, ny, nz) ndarray of float
        Composition (volume fraction), indexed ``[x, y, z]``.
    dx : float
        Cell size (b).
    level : {"mean", "equal_volume"} or float
        Binarisation rule of :func:`scattermorph.measure.minkowski.threshold`.
    phase : {"minority", "rich", "poor"}
        The phase whose domains the surface encloses: the one with the
        smaller volume fraction (the domains that are droplets or a
        network), the A-rich phase ``field > level`` or the A-poor phase.
    max_cells : int
        Samples per axis of the drawn grid, at most.
    max_faces : int
        Triangles, at most (coarser grids are tried, down to 8 samples per
        axis).
    periodic : bool
        Wrap one layer onto the high faces so the surface spans the whole
        periodic box ``[0, n dx]`` (see the module notes). If False the box
        is ``[0, (n - 1) dx]``.
    caps : bool
        Close the domains of the shown phase cut by the box faces with flat
        caps on the faces.

    Returns
    -------
    verts : (V, 3) ndarray of float
        Vertex coordinates (x, y, z) in b, inside the box.
    faces : (F, 3) ndarray of int
        Vertex indices of each triangle.
    info : dict
        ``level`` (the numerical threshold, units of ``field``),
        ``phase_is_rich`` (the enclosed phase is ``field > level``),
        ``fraction`` (volume fraction of the enclosed phase, full
        resolution), ``cells`` (shape of the drawn grid), ``spacing`` ((3,)
        its sample spacing in b), ``box`` ((3,) box lengths in b).
    """
    f = _check3d(field).astype(float)
    dx = _check_dx(dx)
    if phase not in ("minority", "rich", "poor"):
        raise ParameterError(f"phase {phase!r}: use 'minority', 'rich' or 'poor'")
    if max_faces < 1:
        raise ParameterError(f"max_faces = {max_faces}: need >= 1")
    binary, lev = threshold(f, level, return_level=True)
    frac_rich = float(binary.mean())
    rich = {"minority": frac_rich <= 0.5, "rich": True, "poor": False}[phase]
    n = np.array(f.shape)
    box = n * dx if periodic else (n - 1) * dx
    cells = min(int(max_cells), int(n.max()))
    while True:
        g, h, m = _signed_grid(f, cells, lev, rich, box, periodic=periodic, caps=caps)
        info = {"level": float(lev), "phase_is_rich": bool(rich), "cells": tuple(int(k) for k in m),
                "spacing": h, "box": box, "fraction": frac_rich if rich else 1 - frac_rich}
        if not (g.max() > 0 > g.min()):  # one phase fills the box: no interface
            return np.zeros((0, 3)), np.zeros((0, 3), int), info
        verts, faces, _, _ = marching_cubes(g, 0.0, spacing=tuple(h), allow_degenerate=False)
        if len(faces) <= max_faces or cells <= 8:
            break
        cells = max(8, int(cells * np.sqrt(max_faces / len(faces)) * 0.95))
    if caps:
        verts = np.clip(verts - h, 0.0, box)
    return verts, faces, info


def _signed_grid(f, cells, lev, rich, box, *, periodic, caps):
    """The field of :func:`isosurface_mesh` on at most ``cells`` samples per
    axis, signed so that it is > 0 inside the shown phase, with the wrapped
    layer (``periodic``) and the cap layer (``caps``) padded on.

    Returns the padded grid, its sample spacing (3,) in b and the shape of
    the drawn grid before padding.
    """
    g = resample_periodic(f, cells, periodic=periodic)
    m = np.array(g.shape)
    h = box / m if periodic else box / (m - 1)
    g = g - lev if rich else lev - g  # > 0 inside the shown phase
    if periodic:
        g = np.pad(g, [(0, 1)] * 3, mode="wrap")
    if caps:
        g = np.pad(g, 1, mode="constant", constant_values=-max(1.0, float(np.abs(g).max())))
    return g, h, m


def mesh_area(verts, faces) -> float:
    """Total area of a triangle mesh (units of ``verts`` squared).

    Parameters
    ----------
    verts : (V, 3) ndarray
    faces : (F, 3) ndarray of int
    """
    t = np.asarray(verts, float)[np.asarray(faces)]
    return float(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())


def _light(elev, azim):
    """Light direction: from the camera, raised and moved to its left."""
    e, a = np.radians(elev), np.radians(azim)
    eye = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    right = np.array([-np.sin(a), np.cos(a), 0.0])
    v = eye + 0.5 * np.array([0.0, 0.0, 1.0]) - 0.1 * right
    return v / np.linalg.norm(v)


def _length(v) -> str:
    """A length in b for a tick or title: whole b above 10 b (the cells of
    runs sized by wavelength are fractions of b), else 3 significant digits."""
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.3g}"


def lambert_shading(verts, faces, light, *, ambient: float = 0.35) -> np.ndarray:
    """Brightness of each triangle: ``ambient + (1 - ambient) |n . l|``.

    Two-sided Lambert (diffuse) shading: ``n`` is the unit normal of the
    triangle and ``l`` the unit light direction, so a face turned to the
    light is bright and one seen edge-on dark, whichever side is visible.
    Degenerate triangles get the ambient value.

    Parameters
    ----------
    verts : (V, 3) ndarray
    faces : (F, 3) ndarray of int
    light : (3,) array_like
        Direction towards the light (normalised here).
    ambient : float
        Brightness of unlit faces, in [0, 1].

    Returns
    -------
    (F,) ndarray of float in [ambient, 1]
    """
    t = np.asarray(verts, float)[np.asarray(faces)]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    norm = np.linalg.norm(n, axis=1)
    lvec = np.asarray(light, float)
    lvec = lvec / np.linalg.norm(lvec)
    cos = np.zeros(len(t))
    ok = norm > 0
    cos[ok] = np.abs(n[ok] @ lvec) / norm[ok]
    return ambient + (1.0 - ambient) * cos


# --------------------------------------------------------------------------
# drawing into given axes
# --------------------------------------------------------------------------
def draw_sections(axes, field, dx: float, *, level=None, vmin: float = 0.0, vmax: float = 1.0,
                  labels: bool = True, extent: float | None = None):
    """Draw the three mid-planes of a 3D field into three axes.

    Parameters
    ----------
    axes : sequence of 3 matplotlib Axes
        Receive the xy, xz and yz planes (:func:`orthogonal_sections`).
    field : (nx, ny, nz) ndarray
        Composition (volume fraction), indexed ``[x, y, z]``.
    dx : float
        Cell size (b): the axes are in b.
    level : float, optional
        Draw the contour ``field = level`` (the binarisation level, units
        of ``field``) on each plane.
    vmin, vmax : float
        Common colour scale of the three planes.
    labels : bool
        Axis labels and the cut position in each panel's title.
    extent : float, optional
        Axis limits ``[0, extent]`` (b) on every panel, to draw boxes of
        different sizes on one length scale (default: this box).

    Returns
    -------
    matplotlib.image.AxesImage
        The last image (for a colour bar).
    """
    f = _check3d(field)
    dx = _check_dx(dx)
    secs = orthogonal_sections(f)
    cut = {"xy": ("z", f.shape[2]), "xz": ("y", f.shape[1]), "yz": ("x", f.shape[0])}
    im = None
    for ax, name in zip(axes, SECTION_PLANES):
        plane = np.asarray(secs[name], float)
        nh, nv = plane.shape
        ext = (0, nh * dx, 0, nv * dx)
        im = ax.imshow(plane.T, origin="lower", cmap=CMAP, vmin=vmin, vmax=vmax, extent=ext,
                       interpolation="nearest")
        if level is not None and plane.min() < level < plane.max():
            hh = (np.arange(nh) + 0.5) * dx
            vv = (np.arange(nv) + 0.5) * dx
            ax.contour(hh, vv, plane.T, levels=[level], colors="k", linewidths=0.5)
        ax.set_xlim(0, ext[1] if extent is None else extent)
        ax.set_ylim(0, ext[3] if extent is None else extent)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6, length=2, pad=1)
        ticks = [0, round(nh * dx / 2), nh * dx]
        ax.set_xticks(ticks)
        ax.set_yticks([0, round(nv * dx / 2), nv * dx])
        if labels:
            axis, n = cut[name]
            ax.set_xlabel(f"{name[0]} ($b$)", fontsize=7, labelpad=1)
            ax.set_ylabel(f"{name[1]} ($b$)", fontsize=7, labelpad=1)
            ax.set_title(f"{name}, ${axis}$ = {_length(n // 2 * dx)} $b$", fontsize=7, pad=2)
    return im


def _box_edges(ax, box):
    lx, ly, lz = box
    corners = np.array([[x, y, z] for x in (0, lx) for y in (0, ly) for z in (0, lz)])
    for a in range(8):
        for b in range(a + 1, 8):
            if np.count_nonzero(corners[a] != corners[b]) == 1:
                ax.plot(*corners[[a, b]].T, color="0.35", lw=0.5)


def draw_isosurface(ax, verts, faces, box, *, color, elev: float = VIEW["elev"],
                    azim: float = VIEW["azim"], ambient: float = 0.35, labels: bool = True,
                    extent: float | None = None):
    """Draw a triangle mesh with Lambert shading into a 3D axes.

    Parameters
    ----------
    ax : mpl_toolkits.mplot3d.axes3d.Axes3D
    verts : (V, 3) ndarray
        Vertex coordinates (x, y, z) in b.
    faces : (F, 3) ndarray of int
    box : (3,) sequence of float
        Box lengths (b): the axes limits; the box edges are drawn.
    color : colour
        Base colour of the surface (scaled by :func:`lambert_shading`).
    elev, azim : float
        Camera (degrees, :meth:`~mpl_toolkits.mplot3d.axes3d.Axes3D.view_init`);
        the light comes from the camera's upper left.
    ambient : float
        Brightness of unlit faces.
    labels : bool
        Axis labels (x, y, z in b).
    extent : float, optional
        Draw the box on the scale where a box of side ``extent`` (b) fills
        the axes, so that boxes of different sizes in one figure share a
        length scale (default: this box fills the axes).
    """
    box = np.asarray(box, float)
    if len(faces):
        shade = lambert_shading(verts, faces, _light(elev, azim), ambient=ambient)
        rgb = np.clip(shade[:, None] * np.asarray(to_rgb(color))[None, :], 0, 1)
        poly = Poly3DCollection(np.asarray(verts)[np.asarray(faces)], facecolors=rgb,
                                edgecolors="none", linewidths=0, antialiased=False)
        # a bitmap in vector output (PDF): 1e5 triangles as vectors are tens of MB
        poly.set_rasterized(True)
        ax.add_collection3d(poly)
    _box_edges(ax, box)
    ax.set_xlim(0, box[0])
    ax.set_ylim(0, box[1])
    ax.set_zlim(0, box[2])
    ax.set_box_aspect(tuple(box), zoom=1.1 * (1.0 if extent is None else box.max() / extent))
    ax.view_init(elev=elev, azim=azim)
    # ticks: the origin once (on x) and the box side on each axis
    for axis, name, length in zip((ax.xaxis, ax.yaxis, ax.zaxis), "xyz", box):
        ticks = [0, length] if name == "x" else [length]
        axis.set_ticks(ticks)
        axis.set_ticklabels([_length(v) for v in ticks], fontsize=6)
        axis.set_pane_color((1, 1, 1, 0))
        axis.line.set_color((0, 0, 0, 0))
    ax.grid(False)
    ax.tick_params(labelsize=6, pad=-3)
    if labels:
        for setter, name in zip((ax.set_xlabel, ax.set_ylabel, ax.set_zlabel), "xyz"):
            setter(f"{name} ($b$)", fontsize=7, labelpad=-10)


def _phase_name(info):
    which = "A-rich" if info["phase_is_rich"] else "A-poor"
    return f"{which} phase ({100 * info['fraction']:.0f} %)"


def structure_panel(fig, field, dx: float, *, rect=(0.0, 0.0, 1.0, 1.0), level="mean",
                    title=None, color=None, max_cells: int = 64, sections: bool = True,
                    extent: float | None = None):
    """One 3D structure in a rectangle of a figure: isosurface above, mid-planes below.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Receives the axes (placed explicitly: 3D axes and constrained
        layout do not mix well).
    field : (nx, ny, nz) ndarray
        Composition (volume fraction), indexed ``[x, y, z]``.
    dx : float
        Cell size (b).
    rect : (x0, y0, width, height)
        Where the panel goes, in figure fractions.
    level : {"mean", "equal_volume"} or float
        Binarisation rule (:func:`scattermorph.measure.minkowski.threshold`).
    title : str, optional
        Title above the isosurface (a second line names the shown phase).
    color : colour, optional
        Surface colour (default: :data:`PHASE_COLORS` of the shown phase).
    max_cells : int
        See :func:`isosurface_mesh`.
    sections : bool
        Draw the row of mid-planes under the isosurface.
    extent : float, optional
        Common length scale (b): the side of the largest box of the figure
        (see :func:`draw_isosurface`, :func:`draw_sections`).

    Returns
    -------
    dict
        ``ax3d``, ``section_axes`` (list, empty without sections), ``image``
        (the last section image or None), ``info`` (of :func:`isosurface_mesh`).
    """
    x0, y0, w, h = rect
    verts, faces, info = isosurface_mesh(field, dx, level=level, max_cells=max_cells)
    top = 0.36 if sections else 0.0
    ax3 = fig.add_axes((x0, y0 + top * h, w, (0.86 - top) * h + 0.02 * h), projection="3d")
    draw_isosurface(ax3, verts, faces, info["box"],
                    color=PHASE_COLORS[info["phase_is_rich"]] if color is None else color,
                    extent=extent)
    head = "interface of the " + _phase_name(info)
    fig.text(x0 + w / 2, y0 + 0.985 * h, head if title is None else f"{title}\n{head}",
             ha="center", va="top", fontsize=8)
    saxes, im = [], None
    if sections:
        sw = 0.22 * w
        saxes = [fig.add_axes((x0 + w * (0.1 + 0.315 * i), y0 + 0.07 * h, sw, 0.25 * h))
                 for i in range(3)]
        im = draw_sections(saxes, field, dx, level=info["level"], extent=extent)
    return {"ax3d": ax3, "section_axes": saxes, "image": im, "info": info}


# --------------------------------------------------------------------------
# whole figures
# --------------------------------------------------------------------------
def _hbar(fig, im, rect, label):
    """A horizontal colour bar at ``rect`` (figure fractions)."""
    cax = fig.add_axes(rect)
    cb = fig.colorbar(im, cax=cax, orientation="horizontal")
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return cb


def plot_sections(field, dx: float, *, level="mean", title: str | None = None):
    """Figure of the three mid-planes of a 3D field with a colour bar.

    Parameters
    ----------
    field : (nx, ny, nz) ndarray
        Composition (volume fraction in [0, 1]), indexed ``[x, y, z]``.
    dx : float
        Cell size (b).
    level : {"mean", "equal_volume"} or float or None
        Binarisation rule whose level is drawn as a contour (None: none).
    title : str, optional
    """

    f = _check3d(field)
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.0), layout="constrained")
    lev = None if level is None else threshold(f, level, return_level=True)[1]
    im = draw_sections(axes, f, dx, level=lev)
    fig.colorbar(im, ax=axes, shrink=0.8, label=r"volume fraction $\phi$")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_isosurface(field, dx: float, *, level="mean", title: str | None = None,
                    max_cells: int = 64):
    """Figure of the shaded interface of one 3D structure (:func:`isosurface_mesh`).

    Parameters as :func:`structure_panel`.
    """
    fig = plt.figure(figsize=(4.0, 4.0))
    structure_panel(fig, field, dx, level=level, title=title, max_cells=max_cells, sections=False)
    return fig


#: Size of one structure panel (inches): isosurface over three mid-planes.
PANEL_W, PANEL_H = 3.4, 4.5
#: Height of the colour-bar strip under the panels (inches).
BAR_H = 0.75
SECTIONS_LABEL = r"volume fraction $\phi$ (mid-planes; black line: binarisation level)"


def plot_gallery_3d(fields, titles, dx, *, level="mean", ncols: int | None = None,
                    suptitle: str | None = None, max_cells: int = 64):
    """Gallery of 3D structures: each as an isosurface over its three mid-planes.

    Parameters
    ----------
    fields : sequence of (nx, ny, nz) ndarray
        Composition fields (volume fraction in [0, 1]).
    titles : sequence of str
    dx : float or sequence of float
        Cell size (b), one for all fields or one per field. Boxes of
        different sizes are drawn on one length scale.
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study (``measurement.threshold``).
    ncols : int, optional
        Structures per row (default: all in one row up to 4, else 3).
    suptitle : str, optional
    max_cells : int
        See :func:`isosurface_mesh`.
    """
    n = len(fields)
    if n == 0:
        raise ParameterError("no fields to draw: the gallery needs at least one structure")
    dxs = _per_field(dx, n)
    extent = _extent(fields, dxs)
    ncols = min(ncols or (n if n <= 4 else 3), n)
    nrows = int(np.ceil(n / ncols))
    head = 0.4 if suptitle else 0.1
    W, H = PANEL_W * ncols, PANEL_H * nrows + BAR_H + head
    fig = plt.figure(figsize=(W, H))
    im = None
    for k, (f, t, d) in enumerate(zip(fields, titles, dxs)):
        r, c = divmod(k, ncols)
        rect = (c * PANEL_W / W, (BAR_H + (nrows - 1 - r) * PANEL_H) / H, PANEL_W / W, PANEL_H / H)
        im = structure_panel(fig, f, d, rect=rect, level=level, title=t, max_cells=max_cells,
                             extent=extent)["image"]
    bw = min(5.0, 0.8 * W) / W  # colour bar length: 5 in at most
    _hbar(fig, im, (0.5 - bw / 2, 0.55 * BAR_H / H, bw, 0.12 / H), SECTIONS_LABEL)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10, y=1 - 0.08 / H, va="top")
    return fig


def plot_motivating_pair_3d(images, q, curves, rows, dx, labels, *, level="mean",
                            max_cells: int = 64):
    """Two 3D structures with (nearly) the same S(q) peak and different connectivity.

    Each structure: its interface (isosurface of the minority phase) above its
    three mid-planes, with its Minkowski functional densities; right: both
    S(q) curves with their peak positions.

    Parameters
    ----------
    images : (2,) sequence of (nx, ny, nz) ndarray
        Composition fields.
    q : (B,) ndarray
        q bin centres (1/b).
    curves : (2, B) ndarray
        S(q) of each structure (b^3).
    rows : (2,) sequence of mapping
        Dataset rows: the 3D functional densities and ``q_peak`` (1/b).
    dx : float or (2,) sequence of float
        Cell size (b), one for both or one per structure (runs of a sweep
        may have their own); both are drawn on one length scale.
    labels : (2,) sequence of str
        Titles; the first line also labels the curve.
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study.
    max_cells : int
        See :func:`isosurface_mesh`.
    """

    cols = functional_columns(3)
    units = {"volume_density": "", "surface_density": r" $b^{-1}$",
             "mean_curvature_density": r" $b^{-2}$", "euler_density": r" $b^{-3}$"}
    pw, ph, sw = 3.8, 5.0, 4.2  # inches: structure panels, S(q) panel
    W, H = 2 * pw + sw, ph + BAR_H
    fig = plt.figure(figsize=(W, H))
    colors = ["C0", "C3"]
    im = None
    dxs = _per_field(dx, 2)
    extent = _extent(images, dxs)
    for i in range(2):
        rect = (i * pw / W, BAR_H / H, pw / W, ph / H)
        out = structure_panel(fig, images[i], dxs[i], rect=rect, level=level, title=labels[i],
                              max_cells=max_cells, extent=extent)
        im = out["image"]
        fig.texts[-1].set_color(colors[i])  # the panel title
    # the Minkowski functional densities of both, as a small table under S(q)
    tab = fig.add_axes((2 * pw / W + 0.2 / W, 0.15 / H, (sw - 0.4) / W, 1.45 / H))
    tab.axis("off")
    names = {"volume_density": "volume fraction", "surface_density": "surface / V",
             "mean_curvature_density": "mean curvature / V", "euler_density": "Euler char. / V"}
    tab.text(0.0, 1.0, "Minkowski functionals", fontsize=7.5, va="top", weight="bold")
    for k, c in enumerate(cols):
        y = 0.8 - 0.19 * k
        tab.text(0.0, y, names[c] + units[c], fontsize=7, va="top")
        for i in range(2):
            tab.text(0.62 + 0.2 * i, y, f"{rows[i][c]:.3g}", fontsize=7, va="top", ha="right",
                     color=colors[i])
    ax = fig.add_axes((2 * pw / W + 0.75 / W, 2.25 / H, (sw - 1.0) / W, (H - 2.9) / H))
    for i in range(2):
        c = np.asarray(curves[i], float)
        good = np.isfinite(c) & (c > 0)
        ax.loglog(q[good], c[good], "-", color=colors[i], label=labels[i].split("\n")[0])
        ax.axvline(rows[i]["q_peak"], color=colors[i], ls=":", lw=1)
    ax.set_xlabel(r"$q$ ($b^{-1}$)")
    ax.set_ylabel(r"$S(q)$ ($b^{3}$)")
    # a q range under two decades: matplotlib would label every minor tick
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.legend(fontsize=7)
    ax.set_title("same peak position, different connectivity", fontsize=9)
    _hbar(fig, im, (0.5 * (2 * pw) / W - 0.3 * pw / W, 0.55 * BAR_H / H, 0.6 * pw / W, 0.12 / H),
          SECTIONS_LABEL)
    return fig


def plot_coarsening_3d(fields, times, series, dx: float, *, level="mean",
                       title: str | None = None, max_cells: int = 48, max_faces: int = 30_000):
    """Coarsening of a 3D run: isosurfaces and xy mid-planes in time, and L(t).

    Parameters
    ----------
    fields : sequence of (nx, ny, nz) ndarray
        Snapshots of one run at increasing times (top rows).
    times : sequence of float
        Times of ``fields`` (tau).
    series : sequence of (label, t, L)
        Characteristic length ``L`` (b) against time (tau) of each run
        (bottom panel).
    dx : float
        Cell size (b).
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study.
    title : str, optional
    max_cells, max_faces : int
        See :func:`isosurface_mesh` (smaller than elsewhere: many small panels).
    """

    n = len(fields)
    if n == 0:
        raise ParameterError("no snapshots to draw: the coarsening figure needs at least one")
    cw, r1, r2, r3 = 2.5, 2.6, 1.9, 3.2  # inches: column width, rows
    head = 0.4 if title else 0.1
    W, H = cw * n + 1.2, r1 + r2 + r3 + head
    fig = plt.figure(figsize=(W, H))
    im = None
    for i, (f, t) in enumerate(zip(fields, times)):
        verts, faces, info = isosurface_mesh(f, dx, level=level, max_cells=max_cells,
                                             max_faces=max_faces)
        x0 = (0.3 + i * cw) / W
        ax = fig.add_axes((x0, (r3 + r2) / H, cw / W, (r1 - 0.35) / H), projection="3d")
        draw_isosurface(ax, verts, faces, info["box"], color=PHASE_COLORS[info["phase_is_rich"]],
                        labels=False)
        fig.text(x0 + 0.5 * cw / W, (r3 + r2 + r1) / H, rf"$t = {t:.3g}\,\tau$" + "\n"
                 + _phase_name(info), ha="center", va="top", fontsize=8)
        ax2 = fig.add_axes((x0 + 0.45 / W, (r3 + 0.4) / H, (cw - 0.7) / W, (r2 - 0.85) / H))
        lev = threshold(f, level, return_level=True)[1]
        im = draw_sections([ax2], np.asarray(f), dx, level=lev, labels=True)
    cax = fig.add_axes(((0.3 + n * cw + 0.1) / W, (r3 + 0.4) / H, 0.12 / W, (r2 - 0.85) / H))
    fig.colorbar(im, cax=cax).set_label(r"$\phi$", fontsize=8)
    cax.tick_params(labelsize=7)
    ax = fig.add_axes((0.9 / W, 0.55 / H, (W - 1.4) / W, (r3 - 0.9) / H))
    plot_length_series(ax, series)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / H, va="top")
    return fig
