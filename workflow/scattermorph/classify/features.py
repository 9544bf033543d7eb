"""Features of a partial view, and the dataset of views of a study.

Features of a view (:func:`view_features`): ``raw`` (a coarse image of the
visible composition and of the mask) and ``physics`` (statistics of the
visible part that an experimentalist could compute, see
:mod:`scattermorph.classify.views`). :func:`view_dataset` draws the views of
every snapshot at every visible fraction; :func:`save_features` /
:func:`load_features` store them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.classify.classifiers import _VIEWS, rng_for
from scattermorph.classify.views import (
    binarise_visible,
    draw_view,
    masked_two_point,
    random_section,
    view_frame,
    view_ndim,
    visible_minkowski_densities,
)
from scattermorph.errors import ParameterError

__all__ = [
    "physics_feature_names",
    "raw_feature_names",
    "view_features",
    "view_dataset",
    "save_features",
    "load_features",
]


def physics_feature_names(n_radii: int, ndim: int = 2) -> list[str]:
    """Names of the columns of the physics features (see :func:`view_features`)
    of a 2D image (``ndim=2``: windows, pixels, sections) or of a 3D
    sub-volume view (``ndim=3``)."""
    if ndim == 2:
        mk = ["area_fraction", "perimeter_density", "euler_density"]
    elif ndim == 3:
        mk = ["volume_fraction", "surface_density", "mean_curvature_density", "euler_density"]
    else:
        raise ParameterError(f"ndim={ndim}: views are 2D or 3D")
    return ["phi_mean", "phi_std", *mk, "log10_windows", *[f"gamma_{i}" for i in range(n_radii)]]


def raw_feature_names(grid: int, ndim: int = 2) -> list[str]:
    """Names of the raw features: ``phi_<i>_<j>[_<k>]`` then ``seen_...``."""
    cells = ["_".join(map(str, c)) for c in itertools.product(range(grid), repeat=ndim)]
    return [f"phi_{c}" for c in cells] + [f"seen_{c}" for c in cells]


def _block_sum(a, grid):
    """Sums of ``a`` over a ``grid^ndim`` partition into nearly equal blocks."""
    for ax, n in enumerate(a.shape):
        a = np.add.reduceat(a, np.linspace(0, n, grid + 1).astype(int)[:-1], axis=ax)
    return a


def view_features(image, view, *, spacing, level, radii, raw_grid, connectivity=None):
    """Raw and physics features of the visible part of a 2D image or 3D structure.

    Parameters
    ----------
    image : (ny, nx) or (nz, ny, nx) ndarray of float
        Composition field (only its visible cells are read, through
        :func:`scattermorph.classify.views.view_frame`); 3D for the sub-volume
        views.
    view : scattermorph.classify.views.View
    spacing : float
        Pixel / voxel size (b).
    level : {"mean", "equal_volume"} or float
        Binarisation rule, applied to the visible cells only.
    radii : (B + 1,) array_like
        Shell edges (b) of the correlation function features.
    raw_grid : int
        The raw image is reduced to ``raw_grid^ndim`` blocks (``raw_grid``
        per side, at most the image side).
    connectivity : {None, 4, 8} (2D) or {None, 6, 26} (3D)
        Of the Euler density (None = full adjacency, as the measurement
        stage).

    Returns
    -------
    raw : (2 raw_grid^ndim,) ndarray
        Block means of the visible composition in the frame of the image
        (a window is moved to the frame's corner: on a periodic tile all
        positions are equivalent, so this keeps the physical scale and removes
        an irrelevant translation), then the visible fraction of each block
        (the mask). A block without a visible cell gets the mean visible
        composition (the uninformative value after centring).
    physics : (6 + B,) (2D) or (7 + B,) (3D) ndarray
        ``phi_mean``, ``phi_std`` of the visible composition; the Minkowski
        densities of the binarised visible cells from the complete visible
        ``2 x 2`` (``2 x 2 x 2``) windows
        (:func:`scattermorph.classify.views.visible_minkowski_densities`; 0 when
        there is none): 2D ``area_fraction``, ``perimeter_density`` (1/b),
        ``euler_density`` (1/b^2); 3D ``volume_fraction``,
        ``surface_density`` (1/b), ``mean_curvature_density`` (1/b^2),
        ``euler_density`` (1/b^3); except the area / volume fraction, which
        is that of all visible cells; ``log10_windows`` = log10(1 + number
        of those windows) (how much support the densities had); ``gamma_i``:
        the normalised two-point correlation ``(S2 - p^2) / (p - p^2)`` in
        the shells of ``radii`` (0, the uncorrelated value, where no visible
        pair exists or the view holds a single phase).
    """
    frame, mask, periodic = view_frame(image, view)
    phys = _physics_features(frame, mask, periodic, spacing=spacing, level=level, radii=radii,
                             connectivity=connectivity)
    raw = _raw_features(frame, mask, tuple(view.shape), raw_grid)
    return raw, phys


def _physics_features(frame, mask, periodic, *, spacing, level, radii, connectivity):
    """The ``physics`` vector of :func:`view_features` from the visible frame."""
    ndim = frame.ndim
    vis = frame[mask]
    binary, _ = binarise_visible(frame, mask, level)
    p = float(binary[mask].mean())
    mk = visible_minkowski_densities(binary, mask, periodic, spacing=spacing, connectivity=connectivity)
    s2, _ = masked_two_point(binary, mask, periodic, radii, spacing=spacing)
    if 0 < p < 1:
        gamma = (s2 - p * p) / (p - p * p)
    else:
        gamma = np.full(s2.shape, np.nan)
    gamma = np.nan_to_num(gamma, nan=0.0)
    keys = physics_feature_names(0, ndim)[3:-1]  # the densities after the fraction
    dens = [mk[k] if mk["n_windows"] else 0.0 for k in keys]
    return np.concatenate(
        [[vis.mean(), vis.std(), p, *dens, np.log10(1 + mk["n_windows"])], gamma]
    )


def _raw_features(frame, mask, shape, raw_grid):
    """The ``raw`` vector of :func:`view_features`: the visible composition
    on the image's frame (``shape``), reduced to ``raw_grid^ndim`` blocks."""
    g = int(raw_grid)
    if not 1 <= g <= min(shape):
        raise ParameterError(f"raw_grid={raw_grid} must be between 1 and the image side {min(shape)}")
    canvas = np.zeros(shape)
    seen = np.zeros(shape)
    corner = tuple(slice(0, n) for n in frame.shape)
    canvas[corner] = np.where(mask, frame, 0.0)
    seen[corner] = mask
    total = _block_sum(canvas, g)
    count = _block_sum(seen, g)
    volume = _block_sum(np.ones(shape), g)
    fill = float(frame[mask].mean())
    with np.errstate(invalid="ignore", divide="ignore"):
        block = np.where(count > 0, total / count, fill)
    return np.concatenate([block.ravel(), (count / volume).ravel()])


def view_dataset(items, kind, fractions, per_snapshot, *, seed, kind_index, spacing, level,
                 radii, raw_grid, connectivity=None):
    """Features of random views of every snapshot at every fraction.

    Parameters
    ----------
    items : iterable of (group_index, group, snapshot, image[, item_spacing])
        ``image`` 2D (window / pixels) or 3D (``section_*``: each view is
        drawn on its own random section; ``subvolume_*``: on the structure
        itself). An item's own cell size (b), when given, replaces
        ``spacing`` (studies whose runs have their own cell size,
        ``simulation.cells_per_wavelength``).
    kind : str
        View kind (:data:`scattermorph.classify.views.VIEW_KINDS`).
    fractions : sequence of float
    per_snapshot : int
        Views per snapshot and fraction.
    seed : int
        Study seed; view ``v`` of (group, snapshot, fraction ``j``) is drawn
        from ``SeedSequence([seed, STAGE, 1, kind_index, group_index,
        snapshot, j, v])``, independent of job layout.
    spacing, level, radii, raw_grid, connectivity
        As in :func:`view_features`.

    Returns
    -------
    rows : pandas.DataFrame
        One row per view: ``group``, ``snapshot``, ``f_index``,
        ``fraction_requested``, ``fraction``, ``view``, ``n_visible``,
        ``section_axis``, ``section_index``.
    raw, physics : 2D ndarrays, one row per view
    """
    rows, raws, phys = [], [], []
    for gi, group, snap, image, *own in items:
        image = np.asarray(image)
        dx = float(own[0]) if own else spacing
        for j, f in enumerate(fractions):
            for v in range(int(per_snapshot)):
                rng = rng_for(seed, _VIEWS, kind_index, gi, snap, j, v)
                where = (-1, -1)
                img = image
                if kind.startswith("section_"):
                    img, where = random_section(image, rng)
                view = draw_view(kind, img.shape, f, rng)
                r, p = view_features(img, view, spacing=dx, level=level, radii=radii,
                                     raw_grid=raw_grid, connectivity=connectivity)
                raws.append(r)
                phys.append(p)
                rows.append({
                    "group": group, "snapshot": int(snap), "f_index": j,
                    "fraction_requested": float(f), "fraction": view.fraction,
                    "view": v, "n_visible": view.n_visible,
                    "section_axis": where[0], "section_index": where[1],
                })
    return pd.DataFrame(rows), np.asarray(raws), np.asarray(phys)


def save_features(path, data) -> None:
    """Write :func:`scattermorph.classify.jobs.build_features` output to one
    ``.npz`` (atomically)."""
    rows = data["rows"]
    arrays = {f"row_{c}": rows[c].to_numpy() for c in rows.columns}
    arrays["row_group"] = rows["group"].to_numpy().astype(str)
    ndim = view_ndim(data["kind"])
    n_r = data["physics"].shape[1] - len(physics_feature_names(0, ndim))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, raw=data["raw"], physics=data["physics"], kind=np.array(data["kind"]),
                physics_names=np.array(physics_feature_names(n_r, ndim)), **arrays,
            )

    atomic_write(path, write)


def load_features(path) -> dict:
    """Read a features file written by :func:`save_features`."""
    with np.load(path, allow_pickle=False) as z:
        rows = pd.DataFrame({k[4:]: z[k] for k in z.files if k.startswith("row_")})
        return {"rows": rows, "raw": z["raw"], "physics": z["physics"], "kind": str(z["kind"]),
                "physics_names": list(z["physics_names"])}
