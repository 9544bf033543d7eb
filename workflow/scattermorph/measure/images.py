"""A user's image or stack as a binary structure, and what is measured on it.

``scattermorph characterise``: :func:`read_image` reads a 2D image or a 3D
stack, :func:`binarise` makes its foreground mask and :func:`characterise`
gives the Minkowski functionals (:mod:`scattermorph.measure.minkowski`) and
the structure factor S(q) (:mod:`scattermorph.measure.scattering`) of that
mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.measure import scattering as sc
from scattermorph.measure.minkowski import minkowski
from scattermorph.measure.minkowski import threshold as cut

__all__ = ["read_image", "binarise", "characterise"]

_PICTURES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _read_picture(path: Path) -> np.ndarray:
    """Grey levels of a picture file, shape (ny, nx); a colour picture must have equal channels."""
    with Image.open(path) as im:
        img = np.asarray(im)
    if img.ndim == 3:
        chans = img[..., :3].astype(float)
        if not (np.array_equal(chans[..., 0], chans[..., 1])
                and np.array_equal(chans[..., 0], chans[..., 2])):
            raise InputFileError(
                f"{path}: colour image with different channels; convert it to "
                "grey levels or a binary mask first"
            )
        img = img[..., 0]
    return img


def _read_array(path: Path) -> np.ndarray:
    """The raw array of an image file, chosen by its suffix (any shape and dtype)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix in (".tif", ".tiff"):
            return tifffile.imread(path)
        if suffix in _PICTURES:
            return _read_picture(path)
    except InputFileError:
        raise
    except Exception as exc:  # malformed file: say which and why
        raise InputFileError(f"{path}: cannot be read as an image ({exc})") from exc
    raise InputFileError(
        f"{path}: unsupported file type '{suffix}'; use .npy, .tif/.tiff or .png"
    )


def read_image(path) -> np.ndarray:
    """Read a 2D image or a 3D stack as a numeric array.

    ``.npy`` (no pickles), ``.tif``/``.tiff`` (a multi-page file is a 3D
    stack, pages along axis 0), ``.png``/``.jpg``/``.bmp`` (converted to
    grey levels; a colour image must be grey, i.e. equal channels).

    Parameters
    ----------
    path : path
        The image file.

    Returns
    -------
    ndarray, shape (ny, nx) or (nz, ny, nx)
        Numbers or bools (length-1 axes squeezed out).

    Raises
    ------
    InputFileError
        Missing, unreadable or unsupported file, colour image, non-numeric
        data, or not 2D/3D.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    img = np.asarray(_read_array(path))
    if img.dtype == object or not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise InputFileError(f"{path}: holds {img.dtype} data, not numbers")
    img = np.squeeze(img)
    if img.ndim not in (2, 3):
        raise InputFileError(
            f"{path}: array of shape {img.shape} is {img.ndim}D; only 2D images and 3D "
            "stacks are supported"
        )
    return img


def _threshold_level(threshold):
    """``"mean"``, ``"equal_volume"`` or the number a ``--threshold`` text names."""
    if isinstance(threshold, str) and threshold not in ("mean", "equal_volume"):
        try:
            return float(threshold)
        except ValueError:
            raise InputFileError(
                f"--threshold {threshold!r}: use 'mean', 'equal_volume' or a number"
            ) from None
    return threshold


def binarise(img: np.ndarray, threshold=None) -> tuple[np.ndarray, float | None]:
    """Foreground mask of an image.

    A bool array, or an image with exactly two distinct values (e.g. 0/1 or
    0/255), is binary already: the larger value is the foreground. Anything
    else needs ``threshold`` ("mean", "equal_volume" or a number); the
    foreground is ``img > level``.

    Parameters
    ----------
    img : ndarray, shape (ny, nx) or (nz, ny, nx)
        Grey levels or bools (finite).
    threshold : {"mean", "equal_volume"}, float or str, optional
        The cut (a number may be given as text).

    Returns
    -------
    mask : ndarray of bool, shape of ``img``
    level : float or None
        The grey level cut at (None for an image that is binary already).

    Raises
    ------
    InputFileError
        NaN/inf values, a constant image, more than two grey levels without a
        threshold, a bad threshold, or a threshold that leaves one phase.
    """

    if img.dtype != bool and not np.all(np.isfinite(img)):
        n = int(np.size(img) - np.isfinite(img).sum())
        raise InputFileError(f"image has {n} NaN/inf values; mask or fill them first")
    values = np.unique(img)
    if values.size < 2:
        raise InputFileError(
            f"image is constant (every pixel = {values[0] if values.size else 'n/a'}): "
            "there is no structure to characterise"
        )
    if threshold is None:
        if img.dtype == bool or values.size == 2:
            return img == values[-1], None
        raise InputFileError(
            f"image has {values.size} distinct grey levels, not 2: pass --threshold "
            "(mean, equal_volume or a grey level) to binarise it"
        )
    mask, lev = cut(img.astype(float), _threshold_level(threshold), return_level=True)
    if mask.all() or not mask.any():
        raise InputFileError(
            f"threshold {threshold!r} (level {lev:g}) leaves a single phase; pick a level "
            f"between the image's minimum {values[0]:g} and maximum {values[-1]:g}"
        )
    return mask, float(lev)


def characterise(img, *, pixel_size=1.0, threshold=None, periodic=True, connectivity=None,
                 q_bins=64) -> dict:
    """Minkowski functionals and S(q) of an image (the ``characterise`` command).

    Parameters
    ----------
    img : array_like, shape (ny, nx) or (nz, ny, nx)
        Grey levels or bools (:func:`read_image`).
    pixel_size : float
        Pixel/voxel size, in the user's length unit L.
    threshold : optional
        See :func:`binarise`.
    periodic : bool
        The image is a periodic tile (else open boundaries).
    connectivity : int, optional
        Foreground connectivity (2D: 4 or 8, 3D: 6 or 26; default 8/26).
    q_bins : int
        Log-spaced q bins of S(q).

    Returns
    -------
    dict
        ``dimension``, ``shape``, ``pixel_size``, ``periodic``,
        ``threshold_level`` (None for a binary image), ``functionals``
        (totals and ``<key>_density`` per unit area/volume, keys 2D: area,
        perimeter, euler; 3D: volume, surface, mean_curvature, euler),
        ``scattering`` (``q`` in 1/L, ``s_q``, ``counts`` of the binary
        structure on a log grid from 2 pi / box to pi / pixel_size;
        ``characteristic_length`` in L, ``invariant``).
    """

    if not (np.isfinite(pixel_size) and pixel_size > 0):
        raise ParameterError(f"--pixel-size {pixel_size!r} must be a positive length")
    mask, level = binarise(np.asarray(img), threshold)
    func = minkowski(mask, spacing=pixel_size, periodic=periodic, connectivity=connectivity)
    box = max(mask.shape) * pixel_size
    edges, centres = sc.q_grid(2 * np.pi / box, np.pi / pixel_size, int(q_bins))
    s_q, counts = sc.radial_profile(mask.astype(float), pixel_size, edges)
    return {
        "dimension": mask.ndim,
        "shape": list(mask.shape),
        "pixel_size": pixel_size,
        "periodic": periodic,
        "threshold_level": level,
        "functionals": {k: float(v) for k, v in func.items()},
        "scattering": {
            "q": centres.tolist(),
            "s_q": [None if not np.isfinite(v) else float(v) for v in s_q],
            "counts": counts.tolist(),
            "characteristic_length": sc.characteristic_length(mask.astype(float), pixel_size),
            "invariant": sc.invariant(mask.astype(float), pixel_size),
        },
    }
