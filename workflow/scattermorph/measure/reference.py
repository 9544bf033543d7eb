"""Reference microstructures whose Minkowski functionals are known analytically.

Two families of random two-phase structures on periodic 2D/3D grids, used to
validate the Minkowski-functional and scattering code of this package:

* the **Boolean model** of overlapping discs / balls with Poisson germs
  (:func:`boolean_model`, analytic densities in :func:`boolean_model_expected`);
* **excursion sets of Gaussian random fields** (:func:`gaussian_random_field`,
  :func:`level_cut`; analytic densities in :func:`grf_excursion_expected`, with
  the spectral moments of the discrete field from :func:`grf_moments`). The
  ``"peaked"`` spectrum gives bicontinuous structures resembling the early
  stage of spinodal decomposition (Cahn 1965).

Conventions
-----------
Lengths are in arbitrary "length units" (those of ``dx``); all densities are
per unit volume (area in 2D) of the box, so e.g. a 3D ``surface_density`` has
units length^-1 and a 3D ``euler_density`` length^-3.

The Minkowski quantities are given in the "physical" normalisation

* 2D: area ``A``, boundary length (perimeter) ``L``, Euler characteristic ``chi``;
* 3D: volume ``V``, surface area ``S``, integrated mean curvature
  ``M = int_{dK} (k1 + k2) / 2 dS`` (so that ``M = 4 pi R`` for a ball of
  radius ``R``; ``M`` is positive for convex bodies), Euler characteristic ``chi``.

They relate to the intrinsic volumes ``V_j`` (= Lipschitz-Killing curvatures
``L_j``; Schneider & Weil 2008, Ch. 14; Adler & Taylor 2007, Ch. 6) by

* 2D: ``V_2 = A``, ``V_1 = L / 2``, ``V_0 = chi``;
* 3D: ``V_3 = V``, ``V_2 = S / 2``, ``V_1 = M / pi``, ``V_0 = chi``

(for a ball: ``V_1 = 4 R`` = twice the mean width). The Minkowski-functional
densities ``v_nu`` of Schmalzing & Buchert (1997) (also Mecke 2000, up to
constant factors) are in 3D ``v_0 = V``, ``v_1 = S / 6``, ``v_2 = M / (3 pi)``,
``v_3 = chi``. Normalisations in 2D vary between authors; convert through
``A``, ``L`` and ``chi``.

References
----------
.. [Miles1976] R. E. Miles, "Estimating aggregate and overall characteristics
   from thick sections by transmission microscopy", J. Microsc. 107, 227-233
   (1976).
.. [MW1991] K. R. Mecke and H. Wagner, "Euler characteristic and related
   measures for random geometric sets", J. Stat. Phys. 64, 843-850 (1991).
.. [SW2008] R. Schneider and W. Weil, *Stochastic and Integral Geometry*,
   Springer (2008), Sec. 9.1 (densities of the Boolean model) and
   Ch. 14 (intrinsic volumes).
.. [Mecke2000] K. R. Mecke, "Additivity, convexity, and beyond: applications
   of Minkowski functionals in statistical physics", in *Statistical Physics
   and Spatial Statistics*, Lect. Notes Phys. 554, 111-184 (2000).
.. [Tomita1986] H. Tomita, "Statistical properties of random interface
   system", Prog. Theor. Phys. 75, 482-495 (1986).
.. [Adler1981] R. J. Adler, *The Geometry of Random Fields*, Wiley (1981).
.. [AT2007] R. J. Adler and J. E. Taylor, *Random Fields and Geometry*,
   Springer (2007): Gaussian kinematic formula, Lipschitz-Killing curvatures of
   excursion sets of isotropic fields.
.. [SB1997] J. Schmalzing and T. Buchert, "Beyond genus statistics: a unifying
   approach to the morphology of cosmic structure", Astrophys. J. 482, L1-L4
   (1997).
.. [Rice1945] S. O. Rice, "Mathematical analysis of random noise", Bell Syst.
   Tech. J. 24, 46-156 (1945): mean number of level crossings.
.. [Cahn1965] J. W. Cahn, "Phase separation by spinodal decomposition in
   isotropic systems", J. Chem. Phys. 42, 93-99 (1965).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
import scipy.fft as sfft
from scipy.special import ndtr

from scattermorph import seeds
from scattermorph.errors import ParameterError
from scattermorph.fft import rfft_mode_weights, rfft_wavevectors
from scattermorph.measure import reference as rf

__all__ = [
    "boolean_model",
    "union_of_balls",
    "boolean_model_expected",
    "gaussian_random_field",
    "grf_moments",
    "grf_spectral_density",
    "level_cut",
    "grf_excursion_expected",
    "SPECTRA",
]

#: Spectral densities accepted by :func:`gaussian_random_field` and the
#: parameter names each needs.
SPECTRA = {"gaussian": ("length",), "peaked": ("k0", "width")}

# Upper bound on the number of (germ, template voxel) pairs handled at once by
# :func:`union_of_balls`; bounds the temporary memory to a few tens of MB.
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ParameterError(message)


def _check_shape(shape, min_side: int = 1) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in np.atleast_1d(shape))
        ok = all(int(s) == s for s in np.atleast_1d(shape))
    except (TypeError, ValueError):
        raise ParameterError(
            f"shape={shape!r} must be a tuple of 2 or 3 positive integers"
        ) from None
    _require(
        ok and len(out) in (2, 3),
        f"shape={shape!r} has {len(out)} dimension(s): only 2D and 3D boxes "
        "(a tuple of 2 or 3 integers) are supported",
    )
    _require(
        all(s >= min_side for s in out),
        f"shape={shape!r}: every side must be an integer >= {min_side}",
    )
    return out


def _check_positive(name: str, value) -> float:
    _require(
        isinstance(value, numbers.Real) and math.isfinite(value) and value > 0,
        f"{name}={value!r} must be a finite number > 0",
    )
    return float(value)


def _check_rng(rng) -> np.random.Generator:
    _require(
        isinstance(rng, np.random.Generator),
        f"rng={rng!r} must be a numpy.random.Generator, e.g. "
        "numpy.random.default_rng(seed); global seeding is not used",
    )
    return rng


def _check_ndim(ndim) -> int:
    _require(
        isinstance(ndim, numbers.Integral) and int(ndim) in (2, 3),
        f"ndim={ndim!r} is not supported: allowed values are 2 and 3",
    )
    return int(ndim)


# --------------------------------------------------------------------------
# Boolean model
# --------------------------------------------------------------------------
def union_of_balls(shape, dx, centres, radius) -> np.ndarray:
    """Rasterise the union of discs (2D) / balls (3D) in a periodic box.

    Voxel ``i`` (a multi-index) is the cell ``[i dx, (i + 1) dx)`` with centre
    ``(i + 1/2) dx``; it is set when its centre lies within distance
    ``<= radius`` of any centre under the periodic minimum-image distance.
    Each ball is rasterised only inside its bounding box, with periodic index
    wrapping, vectorised over chunks of balls.

    Parameters
    ----------
    shape : tuple of int
        Grid shape ``(n0, n1)`` or ``(n0, n1, n2)``; the box has side lengths
        ``shape * dx``.
    dx : float
        Voxel side, > 0 (length units).
    centres : array_like of float, shape (n_balls, ndim)
        Ball centres in length units; any real values (wrapped into the box).
    radius : float
        Ball radius, > 0 and < half the shortest box side (length units), so
        that each ball overlaps itself through no periodic image.

    Returns
    -------
    ndarray of bool, shape ``shape``
        True inside the union.

    Raises
    ------
    ParameterError
        Bad shape, ``dx``, ``radius``, or ``centres`` of the wrong shape or
        not finite.
    """
    shape, dx, centres, radius = _check_balls(shape, dx, centres, radius)
    mask = np.zeros(shape, dtype=bool)
    if centres.shape[0] == 0:
        return mask
    _paint_balls(mask.reshape(-1), shape, centres / dx - 0.5, radius / dx)
    return mask


def _check_balls(shape, dx, centres, radius):
    """The arguments of :func:`union_of_balls` checked: (shape, dx, centres
    as an (n_balls, ndim) float array, radius)."""
    shape = _check_shape(shape)
    ndim = len(shape)
    dx = _check_positive("dx", dx)
    radius = _check_positive("radius", radius)
    half_side = 0.5 * min(shape) * dx
    _require(
        radius < half_side,
        f"radius={radius!r} must be < half the shortest box side "
        f"{half_side:g} (shape={shape}, dx={dx:g})",
    )
    centres = np.asarray(centres, dtype=float)
    if centres.size == 0:
        centres = centres.reshape(0, ndim)
    _require(
        centres.ndim == 2 and centres.shape[1] == ndim,
        f"centres has shape {centres.shape}: expected (n_balls, {ndim})",
    )
    _require(bool(np.all(np.isfinite(centres))), "centres must all be finite")
    return shape, dx, centres, radius


def _paint_balls(flat, shape, t_all, r_vox) -> None:
    """Set the voxels of ``flat`` (the raveled mask) within ``r_vox`` voxels
    of the germs at voxel-centre coordinates ``t_all`` (n_balls, ndim).

    With ``t = x/dx - 1/2``, ``base = floor(t)`` and ``frac = t - base`` in
    [0, 1), voxels ``base + o`` with ``o`` in ``[-m, m+1]`` cover every centre
    within the radius (``m = ceil(r_vox)``). Each ball is painted only inside
    that template, in chunks of balls (or, for huge grains, one germ at a time
    in slabs along axis 0) of at most :data:`_CHUNK_ELEMENTS` template cells.
    """
    ndim = len(shape)
    m = int(math.ceil(r_vox))
    offs = np.arange(-m, m + 2)  # template along one axis
    n_t = offs.size
    r2 = r_vox * r_vox
    strides = [int(np.prod(shape[a + 1 :])) for a in range(ndim)]
    base_all = np.floor(t_all)
    frac_all = t_all - base_all
    base_all = base_all.astype(np.int64)
    if n_t**ndim <= _CHUNK_ELEMENTS:  # usual case: many germs per chunk
        chunk = _CHUNK_ELEMENTS // n_t**ndim
        for start in range(0, t_all.shape[0], chunk):
            sl = slice(start, start + chunk)
            _paint(flat, shape, strides, base_all[sl], frac_all[sl], [offs] * ndim, r2)
    else:  # huge grains: one germ at a time, in slabs along axis 0
        slab = max(1, _CHUNK_ELEMENTS // n_t ** (ndim - 1))
        for i in range(t_all.shape[0]):
            for j in range(0, n_t, slab):
                offs_axes = [offs[j : j + slab]] + [offs] * (ndim - 1)
                _paint(
                    flat, shape, strides, base_all[i : i + 1], frac_all[i : i + 1], offs_axes, r2
                )


def _paint(flat, shape, strides, base, frac, offs_axes, r2):
    """Set the voxels within ``sqrt(r2)`` voxel units of each germ.

    ``base`` (n, ndim) int and ``frac`` (n, ndim) float locate the germs in
    voxel-centre coordinates; ``offs_axes[a]`` are the template offsets along
    axis ``a``. Distances and flat indices are built by broadcasting per-axis
    terms over the template, with periodic wrapping of the indices.
    """
    ndim = len(shape)
    nb = base.shape[0]
    tshape = (nb,) + tuple(o.size for o in offs_axes)
    d2 = np.zeros(tshape)
    lin = np.zeros(tshape, dtype=np.int64)
    for a in range(ndim):
        view = [nb] + [1] * ndim
        view[a + 1] = offs_axes[a].size
        da = (offs_axes[a][None, :] - frac[:, a : a + 1]) ** 2
        ia = np.mod(base[:, a : a + 1] + offs_axes[a][None, :], shape[a]) * strides[a]
        d2 += da.reshape(view)
        lin += ia.reshape(view)
    flat[lin[d2 <= r2]] = True


def boolean_model(shape, dx, *, intensity, radius, rng, return_germs=False):
    """Realise a Boolean model of overlapping discs (2D) or balls (3D).

    Poisson germs in a periodic box of side lengths ``shape * dx``: their
    number is ``N ~ Poisson(intensity * box volume)`` and their positions are
    i.i.d. uniform in the box. Each germ carries a disc/ball of ``radius``; a
    voxel is set when its centre lies within ``radius`` of a germ under the
    periodic minimum-image distance (see :func:`union_of_balls`). Because the
    germs are uniform, each voxel centre is covered with probability exactly
    ``1 - exp(-intensity * V_ball)`` (Poisson void probability): the voxel
    fraction is an unbiased estimator of the volume fraction of
    :func:`boolean_model_expected`, with no digitisation bias.

    Parameters
    ----------
    shape : tuple of int
        Grid shape, 2D ``(n0, n1)`` or 3D ``(n0, n1, n2)``.
    dx : float
        Voxel side, > 0 (length units).
    intensity : float
        Germ intensity ``lambda`` >= 0 (germs per unit volume, length^-d).
    radius : float
        Grain radius ``R`` > 0 and < half the shortest box side (length units).
    rng : numpy.random.Generator
        Source of all random draws: first the germ count, then the positions.
    return_germs : bool, optional
        Also return the germ positions.

    Returns
    -------
    mask : ndarray of bool, shape ``shape``
        True in the union of grains.
    germs : ndarray of float, shape (N, ndim)
        Germ positions in length units, in ``[0, shape * dx)``; only with
        ``return_germs=True``.

    Raises
    ------
    ParameterError
        Shape not 2D/3D, ``dx <= 0``, ``intensity < 0``, ``radius`` not in
        ``(0, min(shape) * dx / 2)``, or ``rng`` not a Generator.

    References
    ----------
    Schneider & Weil (2008), Sec. 9.1; Mecke (2000).
    """
    shape = _check_shape(shape)
    dx = _check_positive("dx", dx)
    _require(
        isinstance(intensity, numbers.Real) and math.isfinite(intensity) and intensity >= 0,
        f"intensity={intensity!r} must be a finite number >= 0 " "(germs per unit volume)",
    )
    radius = _check_positive("radius", radius)
    half_side = 0.5 * min(shape) * dx
    _require(
        radius < half_side,
        f"radius={radius!r} must be < half the shortest box side "
        f"{half_side:g} (shape={shape}, dx={dx:g})",
    )
    rng = _check_rng(rng)
    sides = np.asarray(shape, dtype=float) * dx
    n_germs = rng.poisson(float(intensity) * float(np.prod(sides)))
    germs = rng.random((n_germs, len(shape))) * sides
    mask = union_of_balls(shape, dx, germs, radius)
    return (mask, germs) if return_germs else mask


def boolean_model_expected(ndim, *, intensity, radius) -> dict:
    """Mean Minkowski densities of the Boolean model of discs / balls.

    For a stationary Boolean model with germ intensity ``lam`` and convex,
    isotropic grains of mean area ``A``, perimeter ``L`` (2D) or mean volume
    ``V``, surface ``S`` and integrated mean curvature ``M`` (3D)
    (Miles 1976; Mecke & Wagner 1991; Schneider & Weil 2008, Sec. 9.1):

    2D (discs, ``A = pi R^2``, ``L = 2 pi R``)::

        area_fraction     = 1 - exp(-lam A)
        perimeter_density = lam L exp(-lam A)
        euler_density     = exp(-lam A) (lam - lam^2 L^2 / (4 pi))

    3D (balls, ``V = 4 pi R^3 / 3``, ``S = 4 pi R^2``, ``M = 4 pi R``)::

        volume_fraction        = 1 - exp(-lam V)
        surface_density        = lam S exp(-lam V)
        mean_curvature_density = exp(-lam V) (lam M - (pi^2 / 32) lam^2 S^2)
        euler_density          = exp(-lam V) (lam - lam^2 M S / (4 pi)
                                              + pi lam^3 S^3 / 384)

    Derivation of the coefficients. Schneider & Weil (2008), Sec. 9.1, give
    the densities ``Vbar_j(Z)`` of the intrinsic volumes of the union set in
    terms of the grain densities ``Vbar_j(X) = lam E V_j(grain)``; in 3D::

        Vbar_3(Z) = 1 - exp(-Vbar_3(X))
        Vbar_2(Z) = exp(-Vbar_3(X)) Vbar_2(X)
        Vbar_1(Z) = exp(-Vbar_3(X)) (Vbar_1(X) - (pi/8) Vbar_2(X)^2)
        Vbar_0(Z) = exp(-Vbar_3(X)) (Vbar_0(X) - Vbar_1(X) Vbar_2(X) / 2
                                     + (pi/48) Vbar_2(X)^3)

    and in 2D ``Vbar_1(Z) = exp(-Vbar_2(X)) Vbar_1(X)``,
    ``Vbar_0(Z) = exp(-Vbar_2(X)) (Vbar_0(X) - Vbar_1(X)^2 / pi)``.
    Substituting ``V_2 = S/2``, ``V_1 = M/pi`` (3D) and ``V_1 = L/2`` (2D)
    (module docstring) gives the formulas above: e.g.
    ``pi * (pi/8) (lam S/2)^2 = (pi^2/32) lam^2 S^2``,
    ``(1/2)(lam M/pi)(lam S/2) = lam^2 M S / (4 pi)``,
    ``(pi/48)(lam S/2)^3 = pi lam^3 S^3 / 384``,
    ``(1/pi)(lam L/2)^2 = lam^2 L^2 / (4 pi)``. For balls with
    ``eta = lam V`` they reduce to the forms of Mecke & Wagner (1991)::

        mean_curvature_density = 4 pi R lam exp(-eta) (1 - 3 pi^2 eta / 32)
        euler_density          = lam exp(-eta) (1 - 3 eta + 3 pi^2 eta^2 / 32)

    and for discs to ``euler_density = lam exp(-eta) (1 - eta)``.

    Parameters
    ----------
    ndim : {2, 3}
        Dimension.
    intensity : float
        Germ intensity ``lam`` >= 0 (length^-ndim).
    radius : float
        Grain radius ``R`` > 0 (length units).

    Returns
    -------
    dict of float
        2D: ``area_fraction`` (1), ``perimeter_density`` (length^-1),
        ``euler_density`` (length^-2). 3D: ``volume_fraction`` (1),
        ``surface_density`` (length^-1), ``mean_curvature_density``
        (length^-2, convention ``M = int (k1 + k2)/2 dS``), ``euler_density``
        (length^-3).

    Raises
    ------
    ParameterError
        ``ndim`` not 2 or 3, ``intensity < 0`` or ``radius <= 0``.
    """
    ndim = _check_ndim(ndim)
    _require(
        isinstance(intensity, numbers.Real) and math.isfinite(intensity) and intensity >= 0,
        f"intensity={intensity!r} must be a finite number >= 0",
    )
    lam = float(intensity)
    R = _check_positive("radius", radius)
    pi = math.pi
    if ndim == 2:
        A, L = pi * R**2, 2 * pi * R
        q = math.exp(-lam * A)
        return {
            "area_fraction": -math.expm1(-lam * A),
            "perimeter_density": lam * L * q,
            "euler_density": q * (lam - lam**2 * L**2 / (4 * pi)),
        }
    V, S, M = 4 * pi * R**3 / 3, 4 * pi * R**2, 4 * pi * R
    q = math.exp(-lam * V)
    return {
        "volume_fraction": -math.expm1(-lam * V),
        "surface_density": lam * S * q,
        "mean_curvature_density": q * (lam * M - pi**2 / 32 * lam**2 * S**2),
        "euler_density": q * (lam - lam**2 * M * S / (4 * pi) + pi * lam**3 * S**3 / 384),
    }


# --------------------------------------------------------------------------
# Gaussian random fields
# --------------------------------------------------------------------------
def _check_spectrum(spectrum, params) -> dict:
    _require(
        spectrum in SPECTRA,
        f"spectrum={spectrum!r} is unknown; choose one of {sorted(SPECTRA)}",
    )
    needed = set(SPECTRA[spectrum])
    got = set(params)
    _require(
        got == needed,
        f"spectrum={spectrum!r} takes exactly the parameters {sorted(needed)}; "
        f"got {sorted(got)}",
    )
    if spectrum == "gaussian":
        return {"length": _check_positive("length", params["length"])}
    k0 = params["k0"]
    _require(
        isinstance(k0, numbers.Real) and math.isfinite(k0) and k0 >= 0,
        f"k0={k0!r} must be a finite wavenumber >= 0 (radians per length unit)",
    )
    return {"k0": float(k0), "width": _check_positive("width", params["width"])}


def grf_spectral_density(k, spectrum, **params):
    """Spectral density ``P(k)`` (up to a constant factor) of the GRF.

    Parameters
    ----------
    k : array_like of float
        Wavenumber magnitude ``|k|`` (radians per length unit), >= 0.
    spectrum : {"gaussian", "peaked"}
        ``"gaussian"``: ``P(k) = exp(-k^2 l^2 / 2)`` with ``length = l``
        (covariance ``C(r) = exp(-r^2 / (2 l^2))`` in the continuum, second
        spectral moment ``lambda2 = 1 / l^2``). ``"peaked"``:
        ``P(k) = exp(-(k - k0)^2 / (2 width^2))``, a shell of radius ``k0`` and
        width ``width`` in k-space, whose excursion sets near ``u = 0`` are
        bicontinuous, like the early stage of spinodal decomposition
        (Cahn 1965).
    **params
        ``length`` (gaussian) or ``k0`` and ``width`` (peaked), length units
        and radians per length unit.

    Returns
    -------
    ndarray of float, shape of ``k``
        Spectral density per unit k-space volume (arbitrary amplitude, 1 at
        the maximum).
    """
    p = _check_spectrum(spectrum, params)
    k = np.asarray(k, dtype=float)
    if spectrum == "gaussian":
        return np.exp(-0.5 * (k * p["length"]) ** 2)
    return np.exp(-0.5 * ((k - p["k0"]) / p["width"]) ** 2)


def _half_spectrum(shape, dx, spectrum, params):
    """Spectral density on the half-complex (rfft) grid, k = 0 removed.

    Returns ``P`` of shape ``rfft_shape(shape)``, the weight of each half-grid
    mode in full-grid sums (1 or 2), and the per-axis ``k_i^2`` broadcastable
    to ``P``.
    """
    ndim = len(shape)
    k2_axes = [k**2 for k in rfft_wavevectors(shape, dx)]
    kmag = np.sqrt(sum(k2_axes))
    P = grf_spectral_density(kmag, spectrum, **params)
    P.reshape(-1)[0] = 0.0  # no k = 0 mode: every realisation has zero mean
    # the Nyquist plane is its own conjugate: weight 1, like k_last = 0
    weight = rfft_mode_weights(shape).reshape([1] * (ndim - 1) + [-1])
    return P, weight, k2_axes


def grf_moments(shape, dx, spectrum, **params) -> dict:
    """Variance and second spectral moment of the discrete periodic GRF.

    The field of :func:`gaussian_random_field` before normalisation is
    ``g = IDFT(sqrt(P_k) DFT(w))`` with ``w`` unit white noise on the grid and
    ``P_k`` the spectral density of :func:`grf_spectral_density` at the
    discrete wavevectors ``k = 2 pi n / (shape * dx)`` (the ``k = 0`` mode is
    removed). Its exact variance at every grid point is
    ``sigma^2 = (1/N) sum_k P_k`` (N = number of voxels). The normalised field
    ``f = g / sigma`` has the second spectral moment per axis

    ``lambda2_i = <(d f / d x_i)^2> = sum_k k_i^2 P_k / sum_k P_k``,

    the variance of the spectral derivative, i.e. of the derivative of the
    trigonometric interpolant averaged over the box (the Nyquist modes
    included; for a well-resolved spectrum, negligible at the Nyquist
    wavenumber ``pi / dx``, the convention does not matter). For a
    well-resolved box the discrete moments approach the continuum ones, e.g.
    ``lambda2 -> 1 / length^2`` for the Gaussian spectrum.

    Parameters
    ----------
    shape : tuple of int
        Grid shape (2D or 3D), every side >= 2.
    dx : float
        Grid spacing, > 0 (length units).
    spectrum : {"gaussian", "peaked"}
        See :func:`grf_spectral_density`.
    **params
        Parameters of the spectrum.

    Returns
    -------
    dict
        ``variance`` : float, ``sigma^2`` of the unnormalised field ``g``
        (dimensionless, with the spectral amplitude of
        :func:`grf_spectral_density`).
        ``lambda2`` : float, ``mean_i lambda2_i`` (length^-2), the isotropic
        second spectral moment used by :func:`grf_excursion_expected`.
        ``lambda2_axes`` : tuple of float, ``lambda2_i`` per axis (equal for a
        cubic grid).
        ``n_modes_eff`` : float, ``(sum_k P_k)^2 / sum_k P_k^2``, the effective
        number of independent modes: the sample variance of one realisation
        of the normalised field has standard deviation ``sqrt(2 / n_modes_eff)``.

    Raises
    ------
    ParameterError
        Bad shape, ``dx``, spectrum name or parameters, or a spectrum with no
        weight at any non-zero wavevector of the grid (e.g. ``length`` much
        larger than the box).
    """
    return _moments(shape, dx, spectrum, params)[0]


def _moments(shape, dx, spectrum, params):
    """Validate, then return ``(moments dict, half-grid P, shape)``."""
    shape = _check_shape(shape, min_side=2)
    dx = _check_positive("dx", dx)
    params = _check_spectrum(spectrum, params)
    P, weight, k2_axes = _half_spectrum(shape, dx, spectrum, params)
    wP = weight * P
    total = float(wP.sum())
    _require(
        total > 0 and math.isfinite(total),
        f"spectrum={spectrum!r} with {params} has no weight at the non-zero "
        f"wavevectors of the grid shape={shape}, dx={dx:g} (|k| between "
        f"{2 * np.pi / (max(shape) * dx):.3g} and {np.pi * math.sqrt(len(shape)) / dx:.3g}): "
        "choose parameters whose spectrum lies in that range",
    )
    lam_axes = tuple(float((wP * k2).sum() / total) for k2 in k2_axes)
    n = int(np.prod(shape))
    moments = {
        "variance": total / n,
        "lambda2": float(np.mean(lam_axes)),
        "lambda2_axes": lam_axes,
        "n_modes_eff": total**2 / float((weight * P**2).sum()),
    }
    return moments, P, shape


def gaussian_random_field(shape, dx, *, spectrum, rng, **spectrum_params):
    """Periodic Gaussian random field of zero mean and unit variance.

    White noise ``w`` (i.i.d. standard normal per voxel, drawn from ``rng``)
    is filtered in Fourier space with ``sqrt(P(|k|))`` (spectral density of
    :func:`grf_spectral_density`), with the ``k = 0`` mode removed, and
    divided by the exact expected standard deviation ``sigma`` computed from
    the discrete spectrum (:func:`grf_moments`), **not** by the sample
    standard deviation. Hence every grid value is exactly N(0, 1) distributed,
    the sample mean is exactly 0 (up to round-off), and the sample variance
    fluctuates about 1 with standard deviation
    ``sqrt(2 / grf_moments(...)["n_modes_eff"])``. The field is stationary and
    periodic on the box of side lengths ``shape * dx``, and isotropic up to
    the discreteness of the wavevector lattice.

    Parameters
    ----------
    shape : tuple of int
        Grid shape (2D or 3D), every side >= 2.
    dx : float
        Grid spacing, > 0 (length units).
    spectrum : {"gaussian", "peaked"}
        Spectral density, see :func:`grf_spectral_density`.
    rng : numpy.random.Generator
        Source of the white noise.
    **spectrum_params
        ``length=`` (gaussian; length units) or ``k0=``, ``width=`` (peaked;
        radians per length unit).

    Returns
    -------
    ndarray of float64, shape ``shape``
        The field (dimensionless).

    Raises
    ------
    ParameterError
        Bad shape, ``dx``, spectrum or parameters, or ``rng`` not a Generator.
    """
    moments, P, shape = _moments(shape, dx, spectrum, spectrum_params)
    rng = _check_rng(rng)
    axes = tuple(range(len(shape)))
    noise = rng.standard_normal(shape)
    spec = sfft.rfftn(noise, axes=axes, workers=1)
    spec *= np.sqrt(P)
    field = sfft.irfftn(spec, s=shape, axes=axes, workers=1)
    field /= math.sqrt(moments["variance"])
    return field


def level_cut(field, threshold) -> np.ndarray:
    """Excursion set ``{field > threshold}``.

    Parameters
    ----------
    field : array_like of float
        Any array (e.g. from :func:`gaussian_random_field`).
    threshold : float
        Level ``u`` (same units as ``field``), finite.

    Returns
    -------
    ndarray of bool, shape of ``field``
        ``field > threshold``.
    """
    _require(
        isinstance(threshold, numbers.Real) and math.isfinite(threshold),
        f"threshold={threshold!r} must be a finite number",
    )
    return np.asarray(field) > threshold


def grf_excursion_expected(ndim, threshold, lambda2) -> dict:
    """Mean Minkowski densities of excursion sets of an isotropic Gaussian field.

    For a stationary, isotropic, unit-variance Gaussian field ``f`` with
    second spectral moment ``lambda2 = <(d f / d x_i)^2>``, the excursion set
    ``{f > u}`` has the mean densities (Adler 1981; Tomita 1986;
    Adler & Taylor 2007; Schmalzing & Buchert 1997)::

        2D: area_fraction          = Phi_bar(u)
            perimeter_density      = (sqrt(lambda2) / 2) exp(-u^2/2)
            euler_density          = lambda2 / (2 pi)^(3/2) u exp(-u^2/2)
        3D: volume_fraction        = Phi_bar(u)
            surface_density        = (2 / pi) sqrt(lambda2) exp(-u^2/2)
            mean_curvature_density = lambda2 / sqrt(2 pi) u exp(-u^2/2)
            euler_density          = lambda2^(3/2) / (2 pi)^2 (u^2 - 1) exp(-u^2/2)

    with ``Phi_bar(u) = 1 - Phi(u)`` the Gaussian tail and the mean curvature
    in the convention ``M = int (k1 + k2)/2 dS`` (positive for convex blobs,
    i.e. for ``u > 0``).

    Derivation. The Gaussian kinematic formula (Adler & Taylor 2007) for an
    isotropic field gives the density of the ``j``-th Lipschitz-Killing
    curvature (= intrinsic volume) of the excursion set in ``R^d`` as

        ``Lbar_j = [d choose d-j] lambda2^((d-j)/2) rho_(d-j)(u)``,

    with the flag coefficients
    ``[n choose k] = C(n, k) omega_n / (omega_k omega_(n-k))``
    (``omega_n`` = volume of the unit n-ball: 1, 2, pi, 4 pi / 3) and the
    Euler characteristic densities ``rho_0 = Phi_bar(u)``,
    ``rho_j = (2 pi)^(-(j+1)/2) H_(j-1)(u) exp(-u^2/2)`` (``H_0 = 1``,
    ``H_1 = u``, ``H_2 = u^2 - 1``, probabilists' Hermite polynomials).
    The flag coefficients needed are ``[2 choose 1] = pi / 2`` and
    ``[3 choose 1] = [3 choose 2] = 2``. Converting with ``L = 2 L_1`` (2D),
    ``S = 2 L_2`` and ``M = pi L_1`` (3D):
    ``L_A = 2 (pi/2) sqrt(lambda2) / (2 pi) e^(-u^2/2)``,
    ``S_V = 2 * 2 sqrt(lambda2) / (2 pi) e^(-u^2/2)``,
    ``M_V = pi * 2 lambda2 u e^(-u^2/2) / (2 pi)^(3/2)``.
    Cross-checks: the perimeter and surface densities equal ``(pi/2) P_L`` and
    ``2 P_L`` (Cauchy-Crofton / stereology) with ``P_L = (sqrt(lambda2)/pi)
    exp(-u^2/2)`` the Rice (1945) rate of level crossings along a line; and
    the 3D ``M_V / (2 pi)`` equals the 2D Euler density (planar sections of an
    isotropic set, Crofton). In the normalisation of Schmalzing & Buchert
    (1997), ``v_1 = S_V / 6``, ``v_2 = M_V / (3 pi)``, ``v_3 = chi_V`` with
    their ``lambda = sqrt(lambda2 / (2 pi))``.

    Parameters
    ----------
    ndim : {2, 3}
        Dimension.
    threshold : float or array_like of float
        Level ``u`` in units of the field's standard deviation.
    lambda2 : float
        Second spectral moment ``lambda2 > 0`` (length^-2), e.g.
        ``grf_moments(...)["lambda2"]``.

    Returns
    -------
    dict of float or ndarray (shape of ``threshold``)
        2D keys: ``area_fraction``, ``perimeter_density`` (length^-1),
        ``euler_density`` (length^-2). 3D keys: ``volume_fraction``,
        ``surface_density`` (length^-1), ``mean_curvature_density``
        (length^-2), ``euler_density`` (length^-3).

    Raises
    ------
    ParameterError
        ``ndim`` not 2 or 3, ``lambda2 <= 0`` or a non-finite threshold.
    """
    ndim = _check_ndim(ndim)
    lam2 = _check_positive("lambda2", lambda2)
    u = np.asarray(threshold, dtype=float)
    _require(bool(np.all(np.isfinite(u))), f"threshold={threshold!r} must be finite")
    g = np.exp(-0.5 * u**2)
    tail = ndtr(-u)  # Phi_bar(u), accurate in the upper tail
    two_pi = 2 * math.pi
    if ndim == 2:
        out = {
            "area_fraction": tail,
            "perimeter_density": 0.5 * math.sqrt(lam2) * g,
            "euler_density": lam2 / two_pi**1.5 * u * g,
        }
    else:
        out = {
            "volume_fraction": tail,
            "surface_density": 2 / math.pi * math.sqrt(lam2) * g,
            "mean_curvature_density": lam2 / math.sqrt(two_pi) * u * g,
            "euler_density": lam2**1.5 / two_pi**2 * (u**2 - 1) * g,
        }
    if u.ndim == 0:
        out = {k: float(v) for k, v in out.items()}
    return out


def reference_structures(ref: dict, seed: int, ndim: int):
    """Boolean-model and Gaussian-random-field structures with known answers.

    Parameters
    ----------
    ref : dict
        The config's ``reference`` section (grid, dx, realisations, boolean,
        grf).
    seed : int
        Study seed; the reference streams are ``SeedSequence([seed, 2**32-1])``
        children, disjoint from every simulation's.
    ndim : int
        2 or 3.

    Returns
    -------
    arrays : dict of str -> (R, M, N[, P]) ndarray of bool
        ``boolean`` and ``grf_u<level>`` stacks of ``R`` realisations.
    expected : pandas.DataFrame
        One row per structure: ``structure``, ``kind``, parameters and the
        analytic mean densities (Miles 1976 for the Boolean model; the
        Gaussian kinematic formula, Adler & Taylor 2007, for level cuts).
    """

    shape = (int(ref["grid"]),) * ndim
    dx = float(ref["dx"])
    nreal = int(ref["realisations"])
    root = seeds.sequence(seed, seeds.REFERENCE)
    rng_bool, rng_grf = (np.random.Generator(np.random.PCG64(s)) for s in root.spawn(2))
    b = ref["boolean"]
    arrays = {
        "boolean": np.stack(
            [
                rf.boolean_model(shape, dx, intensity=b["intensity"], radius=b["radius"], rng=rng_bool)
                for _ in range(nreal)
            ]
        )
    }
    rows = [
        {
            "structure": "boolean",
            "kind": "boolean_model",
            "intensity": b["intensity"],
            "radius": b["radius"],
            **rf.boolean_model_expected(ndim, intensity=b["intensity"], radius=b["radius"]),
        }
    ]
    g = ref["grf"]
    params = {"k0": g["k0"], "width": g["width"]}
    fields = [
        rf.gaussian_random_field(shape, dx, spectrum="peaked", rng=rng_grf, **params)
        for _ in range(nreal)
    ]
    lambda2 = rf.grf_moments(shape, dx, "peaked", **params)["lambda2"]
    for u in g["thresholds"]:
        key = f"grf_u{u:+.2f}"
        arrays[key] = np.stack([rf.level_cut(f, u) for f in fields])
        rows.append(
            {
                "structure": key,
                "kind": "gaussian_level_cut",
                "threshold": u,
                "k0": g["k0"],
                "width": g["width"],
                "lambda2": lambda2,
                **rf.grf_excursion_expected(ndim, u, lambda2),
            }
        )
    expected = pd.DataFrame(rows)
    expected.insert(1, "dimension", ndim)
    expected.insert(2, "dx", dx)
    return arrays, expected
