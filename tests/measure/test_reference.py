"""Tests of scattermorph.measure.reference: Boolean models and Gaussian random fields.

Statistical checks average a few independent realisations (fixed seeds) and
compare the mean with the analytic expectation within ``Z`` standard errors,
the standard error being estimated from the spread of the realisations. With
4-8 realisations the estimated standard error is itself uncertain (Student t
with 3-7 degrees of freedom), hence ``Z = 5`` rather than the usual 3: the
probability of ``|t| > 5`` is < 1.6 % for 3 and < 0.2 % for 7 degrees of
freedom, while real formula errors (wrong coefficients) give deviations of
tens of standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.special import ndtr

from scattermorph.errors import ParameterError
from scattermorph.measure import reference as ref

Z = 5.0  # standard errors allowed in statistical comparisons (see module docstring)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _mean_se(values):
    """Mean and its standard error estimated from the sample spread."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def _ball_volume(ndim, radius):
    return math.pi * radius**2 if ndim == 2 else 4.0 / 3.0 * math.pi * radius**3


def _ball_surface(ndim, radius):
    return 2 * math.pi * radius if ndim == 2 else 4 * math.pi * radius**2


def _intensity_for_fraction(ndim, radius, phi):
    """Germ intensity giving the volume fraction ``phi = 1 - exp(-lam V)``."""
    return -math.log1p(-phi) / _ball_volume(ndim, radius)


def _crossing_rate(mask, dx):
    """Phase changes between neighbouring voxels per unit length of grid line.

    Counted along every axis with periodic wrap and averaged over the axes:
    an estimate of ``P_L``, the mean number of boundary crossings per unit
    length of a line. Sampling can only miss crossings (an even number of
    them between two neighbouring voxel centres), never add any.
    """
    counts = [np.count_nonzero(mask != np.roll(mask, 1, axis=a)) for a in range(mask.ndim)]
    return float(np.mean(counts)) / (mask.size * dx)


def _euler_window_2d(mask):
    """Euler characteristic of a 2D digitised set (components minus holes).

    8-connected foreground, 4-connected background (a complementary pair);
    the array is treated as a window (not periodic): background components
    touching the border are not holes.
    """
    n_fg = ndimage.label(mask, structure=np.ones((3, 3)))[1]
    n_bg = ndimage.label(np.pad(~mask, 1, constant_values=True))[1]
    return n_fg - (n_bg - 1)


def _window_euler_expected(dens, side):
    """Mean Euler characteristic of a stationary isotropic set seen in a square.

    Principal kinematic formula for stationary isotropic random sets
    (Schneider & Weil 2008, Ch. 9; the Gaussian kinematic formula of Adler &
    Taylor 2007 gives the same for GRFs): for a square window W
    of side ``a``, ``E chi(Z cap W) = a^2 chi_A + perimeter(W) L_A / (2 pi)
    + A_A``; the last two terms count the structures cut by the window edge.
    """
    return (
        side**2 * dens["euler_density"]
        + 4 * side * dens["perimeter_density"] / (2 * math.pi)
        + dens["area_fraction"]
    )


def _nerve_euler_2d(germs, box, radius):
    """Exact Euler characteristic of a union of equal discs on a 2D torus.

    By the nerve theorem the union of the (convex) discs has the Euler
    characteristic of its Cech nerve, ``sum_k (-1)^k #k-simplices``. A pair
    intersects if the centres are <= 2R apart, a triple if the smallest circle
    enclosing the three centres has radius <= R; by Helly's theorem in the
    plane a larger set of discs intersects iff all its triples do, i.e. iff all
    its faces are simplices. Needs ``box > 8 R`` for consistent unwrapping.
    """
    germs = np.mod(germs, box)
    tree = cKDTree(germs, boxsize=box)
    pairs = tree.query_pairs(2 * radius, output_type="ndarray")
    nbr = [set() for _ in range(len(germs))]
    for i, j in pairs:
        nbr[i].add(j)
        nbr[j].add(i)

    def rel(i, j):
        d = germs[j] - germs[i]
        return d - box * np.round(d / box)

    def triple_meets(i, j, k):
        b, c = rel(i, j), rel(i, k)
        s = sorted([math.hypot(*b), math.hypot(*c), math.hypot(*(c - b))])
        if s[2] ** 2 >= s[0] ** 2 + s[1] ** 2:  # right/obtuse: the long side is a diameter
            return s[2] / 2 <= radius
        area = abs(b[0] * c[1] - b[1] * c[0]) / 2
        return s[0] * s[1] * s[2] / (4 * area) <= radius  # circumradius

    chi = len(germs) - len(pairs)
    current = set()
    for i, j in pairs:
        i, j = min(i, j), max(i, j)
        current |= {(i, j, k) for k in nbr[i] & nbr[j] if k > j and triple_meets(i, j, k)}
    sign = 1
    while current:
        chi += sign * len(current)
        sign = -sign
        nxt = set()
        for s in current:
            for k in set.intersection(*(nbr[v] for v in s)):
                if k > s[-1] and all(tuple(sorted(set(s + (k,)) - {v})) in current for v in s):
                    nxt.add(s + (k,))
        current = nxt
    return chi


# --------------------------------------------------------------------------
# Boolean model: realisations
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, dx, radius, phi",
    [
        ((256, 256), 0.5, 3.0, 0.3),
        ((256, 256), 0.5, 3.0, 0.7),
        ((64, 64, 64), 1.0, 4.0, 0.5),
    ],
)
def test_boolean_volume_fraction_matches_poisson_void_probability(shape, dx, radius, phi):
    ndim = len(shape)
    lam = _intensity_for_fraction(ndim, radius, phi)
    rng = np.random.default_rng(20240601)
    fractions, counts = [], []
    for _ in range(6):
        mask, germs = ref.boolean_model(
            shape, dx, intensity=lam, radius=radius, rng=rng, return_germs=True
        )
        assert mask.shape == shape and mask.dtype == bool
        fractions.append(mask.mean())
        counts.append(len(germs))
    expected = ref.boolean_model_expected(ndim, intensity=lam, radius=radius)
    key = "area_fraction" if ndim == 2 else "volume_fraction"
    assert expected[key] == pytest.approx(phi, rel=1e-12)  # same formula, round-off only
    mean, se = _mean_se(fractions)
    # Each voxel centre is covered with probability exactly 1 - exp(-lam V)
    # (no digitisation bias), so only sampling noise: Z standard errors.
    assert abs(mean - phi) < Z * se
    # Germ count is Poisson(lam |box|): standard error sqrt(mean / n_seeds).
    n_mean = lam * np.prod(np.asarray(shape) * dx)
    assert abs(np.mean(counts) - n_mean) < Z * math.sqrt(n_mean / len(counts))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("radius, dx", [(5.0, 1.0), (5.0, 0.5), (2.3, 0.25)])
def test_single_ball_digitised_volume(ndim, radius, dx):
    n = int(math.ceil(2 * radius / dx)) + 6
    centre = np.array([[0.37 * n * dx, 0.52 * n * dx, 0.61 * n * dx][:ndim]])
    mask = ref.union_of_balls((n,) * ndim, dx, centre, radius)
    volume = mask.sum() * dx**ndim
    # Only voxels cut by the sphere can be misassigned; they fill a shell of
    # volume ~ S * dx around it, and their errors largely cancel, so S * dx is
    # a safe bound on the digitisation error.
    assert abs(volume - _ball_volume(ndim, radius)) < _ball_surface(ndim, radius) * dx


@pytest.mark.parametrize("chunk", [None, 50])
@pytest.mark.parametrize("shape, dx", [((17, 20), 0.7), ((11, 14, 9), 1.3)])
def test_union_of_balls_matches_brute_force_minimum_image(shape, dx, chunk, monkeypatch):
    if chunk is not None:  # force the slab-by-slab path used for huge grains
        monkeypatch.setattr(ref, "_CHUNK_ELEMENTS", chunk)
    ndim = len(shape)
    sides = np.asarray(shape) * dx
    rng = np.random.default_rng(7)
    # centres inside, on the edges and outside the box (they are wrapped)
    centres = rng.uniform(-0.5, 1.5, size=(5, ndim)) * sides
    centres[0] = 0.0
    radius = 0.3 * min(sides)
    mask = ref.union_of_balls(shape, dx, centres, radius)
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * dx for n in shape], indexing="ij"), -1)
    d = grid[..., None, :] - centres
    d -= sides * np.round(d / sides)  # minimum image
    brute = (np.sum(d**2, axis=-1) <= radius**2).any(axis=-1)
    # exact: both test the same inequality (ties at |d| = R have probability ~0)
    np.testing.assert_array_equal(mask, brute)


@pytest.mark.parametrize("shape", [(40, 48), (24, 30, 36)])
def test_union_of_balls_periodic_wrapping(shape):
    ndim = len(shape)
    dx, radius = 0.5, 2.0  # radius = 4 voxels
    centre = np.array([0.3 * dx] + [(n // 2 + 0.21) * dx for n in shape[1:]])
    mask = ref.union_of_balls(shape, dx, centre[None], radius)
    mid = tuple(n // 2 for n in shape[1:])
    # the grain near the low edge of axis 0 reappears at the high edge:
    # voxel n-3 has its centre (n - 2.5) dx, 2.8 dx = 1.4 < R away via the wrap
    assert mask[(0,) + mid] and mask[(shape[0] - 1,) + mid] and mask[(shape[0] - 3,) + mid]
    assert not mask[(shape[0] // 2,) + mid]
    # shifting the centre by whole voxels across the boundary = rolling the array
    shift = np.array([-5, 7, 3][:ndim])
    moved = ref.union_of_balls(shape, dx, (centre + shift * dx)[None], radius)
    np.testing.assert_array_equal(moved, np.roll(mask, tuple(shift), axis=tuple(range(ndim))))


def test_boolean_model_reproducible_from_rng():
    kw = dict(intensity=0.02, radius=3.0)
    a = ref.boolean_model((64, 64), 1.0, rng=np.random.default_rng(5), **kw)
    b = ref.boolean_model((64, 64), 1.0, rng=np.random.default_rng(5), **kw)
    c = ref.boolean_model((64, 64), 1.0, rng=np.random.default_rng(6), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    empty = ref.boolean_model(
        (16, 16, 16), 1.0, intensity=0.0, radius=2.0, rng=np.random.default_rng(0)
    )
    assert not empty.any()


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (((32, 32), 1.0), dict(intensity=0.1, radius=16.0), r"radius=16\.0 must be < half"),
        (((32, 64), 1.0), dict(intensity=0.1, radius=17.0), r"radius=17\.0 must be < half"),
        (((32, 32), 1.0), dict(intensity=-0.1, radius=2.0), r"intensity=-0\.1 must be .*>= 0"),
        (((32, 32), 1.0), dict(intensity=0.1, radius=0.0), r"radius=0\.0 must be .*> 0"),
        (((32, 32), 0.0), dict(intensity=0.1, radius=2.0), r"dx=0\.0 must be .*> 0"),
        (((32,), 1.0), dict(intensity=0.1, radius=2.0), r"1 dimension\(s\): only 2D and 3D"),
        (((8, 8, 8, 8), 1.0), dict(intensity=0.1, radius=2.0), r"4 dimension\(s\)"),
        (((32, 32), 1.0), dict(intensity=0.1, radius=2.0, rng=42), r"rng=42 must be a numpy"),
    ],
)
def test_boolean_model_bad_inputs(args, kwargs, match):
    kwargs.setdefault("rng", np.random.default_rng(0))
    with pytest.raises(ParameterError, match=match):
        ref.boolean_model(*args, **kwargs)


@pytest.mark.parametrize(
    "shape, radius, phi",
    [((1024, 1024), 24.0, 0.5), ((96, 96, 96), 8.0, 0.5)],
)
def test_boolean_perimeter_and_surface_by_line_crossings(shape, radius, phi):
    """Cauchy-Crofton: L_A = (pi/2) P_L in 2D, S_V = 2 P_L in 3D."""
    ndim, dx = len(shape), 1.0
    lam = _intensity_for_fraction(ndim, radius, phi)
    rng = np.random.default_rng(11)
    rates = [
        _crossing_rate(ref.boolean_model(shape, dx, intensity=lam, radius=radius, rng=rng), dx)
        for _ in range(4)
    ]
    dens = ref.boolean_model_expected(ndim, intensity=lam, radius=radius)
    expected = 2 / math.pi * dens["perimeter_density"] if ndim == 2 else dens["surface_density"] / 2
    mean, se = _mean_se(rates)
    # Sampling only misses crossings (pairs closer than dx, found next to the
    # concave edges where grains intersect); that fraction scales as dx / R and
    # was measured at 0.2-0.35 dx / R: allow 0.5 dx / R below, none above.
    assert mean < expected + Z * se
    assert mean > expected * (1 - 0.5 * dx / radius) - Z * se


@pytest.mark.parametrize("phi", [0.3, 0.6, 0.8])
def test_boolean_2d_euler_density_against_exact_nerve_count(phi):
    box, radius = 400.0, 10.0
    lam = _intensity_for_fraction(2, radius, phi)
    rng = np.random.default_rng(3)
    chis = []
    for _ in range(6):
        # coarse 8x8 grid: only the germs are used, the raster is ignored
        _, germs = ref.boolean_model(
            (8, 8), box / 8, intensity=lam, radius=radius, rng=rng, return_germs=True
        )
        chis.append(_nerve_euler_2d(germs, box, radius))
    expected = ref.boolean_model_expected(2, intensity=lam, radius=radius)["euler_density"]
    mean, se = _mean_se(chis)
    # exact Euler characteristics of the torus realisations: sampling noise only
    assert abs(mean - expected * box**2) < Z * se


# --------------------------------------------------------------------------
# Boolean model: analytic formulas
# --------------------------------------------------------------------------
@pytest.mark.parametrize("ndim", [2, 3])
def test_boolean_expected_low_intensity_limit_is_isolated_grains(ndim):
    R = 1.7
    V = _ball_volume(ndim, R)
    lam = 1e-7 / V  # lam V = 1e-7
    got = ref.boolean_model_expected(ndim, intensity=lam, radius=R)
    if ndim == 2:
        isolated = {
            "area_fraction": lam * V,
            "perimeter_density": lam * 2 * math.pi * R,
            "euler_density": lam,
        }
    else:
        isolated = {
            "volume_fraction": lam * V,
            "surface_density": lam * 4 * math.pi * R**2,
            "mean_curvature_density": lam * 4 * math.pi * R,
            "euler_density": lam,
        }
    assert set(got) == set(isolated)
    for key, value in isolated.items():
        # overlaps correct every density by a relative O(lam V) = 1e-7
        assert got[key] == pytest.approx(value, rel=1e-6), key


@pytest.mark.parametrize("phi", [0.05, 0.3, 0.6, 0.95])
def test_boolean_3d_matches_intrinsic_volume_form(phi):
    """Schneider & Weil (2008) Sec. 9.1 in intrinsic volumes V_j of the grains."""
    R = 2.0
    lam = _intensity_for_fraction(3, R, phi)
    V3, V2, V1 = 4 / 3 * math.pi * R**3, 2 * math.pi * R**2, 4 * R  # V, S/2, M/pi
    e = math.exp(-lam * V3)
    vbar2 = e * lam * V2
    vbar1 = e * (lam * V1 - math.pi / 8 * (lam * V2) ** 2)
    vbar0 = e * (lam - lam * V1 * lam * V2 / 2 + math.pi / 48 * (lam * V2) ** 3)
    got = ref.boolean_model_expected(3, intensity=lam, radius=R)
    # algebraically identical: round-off only
    assert got["surface_density"] == pytest.approx(2 * vbar2, rel=1e-12)
    assert got["mean_curvature_density"] == pytest.approx(math.pi * vbar1, rel=1e-12, abs=1e-15)
    assert got["euler_density"] == pytest.approx(vbar0, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("eta", [0.01, 0.377, 1.0, 2.5])
def test_boolean_balls_match_mecke_wagner_form(eta):
    """Spheres: M_V = 4 pi R lam e^-eta (1 - 3 pi^2 eta / 32),
    chi_V = lam e^-eta (1 - 3 eta + 3 pi^2 eta^2 / 32); discs: chi_A = lam e^-eta (1 - eta)."""
    R = 1.3
    lam3 = eta / _ball_volume(3, R)
    got3 = ref.boolean_model_expected(3, intensity=lam3, radius=R)
    m = 4 * math.pi * R * lam3 * math.exp(-eta) * (1 - 3 * math.pi**2 * eta / 32)
    chi = lam3 * math.exp(-eta) * (1 - 3 * eta + 3 * math.pi**2 * eta**2 / 32)
    scale = lam3 * math.exp(-eta)
    # identities: round-off only (abs scale for values near the zero crossings)
    assert got3["mean_curvature_density"] == pytest.approx(m, rel=1e-12, abs=1e-12 * scale * R)
    assert got3["euler_density"] == pytest.approx(chi, rel=1e-12, abs=1e-12 * scale)
    lam2 = eta / _ball_volume(2, R)
    got2 = ref.boolean_model_expected(2, intensity=lam2, radius=R)
    assert got2["euler_density"] == pytest.approx(
        lam2 * math.exp(-eta) * (1 - eta), rel=1e-12, abs=1e-12 * lam2
    )


@pytest.mark.parametrize("phi", [0.1, 0.5, 0.9])
def test_boolean_planar_sections_are_a_2d_boolean_model(phi):
    """A plane cuts balls of radius R at distance h ~ U(0, R) from their centres:
    a 2D Boolean model of intensity 2 R lam with discs of radius sqrt(R^2 - h^2),
    mean area 2 pi R^2 / 3 and mean perimeter pi^2 R / 2 (Miles 1976). Crofton /
    stereology for isotropic sets: A_A = V_V, L_A = (pi / 4) S_V,
    chi_A = M_V / (2 pi) (M = int (k1 + k2) / 2 dS). This checks the pi^2 / 32
    coefficient of the 3D mean curvature density independently."""
    R = 1.0
    lam = _intensity_for_fraction(3, R, phi)
    lam2, area, perim = 2 * R * lam, 2 * math.pi * R**2 / 3, math.pi**2 * R / 2
    q = math.exp(-lam2 * area)
    A_A = 1 - q
    L_A = lam2 * perim * q
    chi_A = q * (lam2 - lam2**2 * perim**2 / (4 * math.pi))
    d3 = ref.boolean_model_expected(3, intensity=lam, radius=R)
    # identities: round-off only
    assert d3["volume_fraction"] == pytest.approx(A_A, rel=1e-12)
    assert math.pi / 4 * d3["surface_density"] == pytest.approx(L_A, rel=1e-12)
    assert d3["mean_curvature_density"] / (2 * math.pi) == pytest.approx(
        chi_A, rel=1e-12, abs=1e-14
    )


@pytest.mark.parametrize(
    "ndim, kwargs, match",
    [
        (
            1,
            dict(intensity=0.1, radius=1.0),
            r"ndim=1 is not supported: allowed values are 2 and 3",
        ),
        (4, dict(intensity=0.1, radius=1.0), r"ndim=4"),
        (2, dict(intensity=-1.0, radius=1.0), r"intensity=-1\.0 must be .*>= 0"),
        (3, dict(intensity=0.1, radius=-2.0), r"radius=-2\.0 must be .*> 0"),
    ],
)
def test_boolean_expected_bad_inputs(ndim, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ref.boolean_model_expected(ndim, **kwargs)


# --------------------------------------------------------------------------
# Gaussian random fields: realisations
# --------------------------------------------------------------------------
GRF_CASES = [
    ((256, 256), 1.0, "gaussian", dict(length=4.0)),
    ((256, 256), 0.5, "peaked", dict(k0=1.0, width=0.15)),
    ((48, 48, 48), 1.0, "gaussian", dict(length=3.0)),
]


@pytest.mark.parametrize("shape, dx, spectrum, params", GRF_CASES)
def test_grf_zero_mean_unit_variance(shape, dx, spectrum, params):
    mom = ref.grf_moments(shape, dx, spectrum, **params)
    rng = np.random.default_rng(99)
    variances = []
    for _ in range(6):
        f = ref.gaussian_random_field(shape, dx, spectrum=spectrum, rng=rng, **params)
        assert f.shape == shape and f.dtype == np.float64
        # the k = 0 mode is removed: zero sample mean up to FFT round-off
        assert abs(f.mean()) < 1e-12
        variances.append(f.var())
    # Normalised by the expected variance, so the sample variance fluctuates
    # about 1 with standard deviation sqrt(2 / n_modes_eff) per realisation.
    sd_one = math.sqrt(2 / mom["n_modes_eff"])
    assert abs(np.mean(variances) - 1) < Z * sd_one / math.sqrt(len(variances))
    # ... and they do fluctuate (normalising by the sample std would give
    # exactly 1): the sample std of 6 values lies within (0.2, 3) times the
    # true one except with probability ~1e-3 (chi-square with 5 d.o.f.).
    assert 0.2 * sd_one < np.std(variances, ddof=1) < 3 * sd_one


@pytest.mark.parametrize("ndim, n, length", [(2, 256, 4.0), (3, 64, 4.0)])
def test_grf_moments_match_continuum_gaussian_spectrum(ndim, n, length):
    mom = ref.grf_moments((n,) * ndim, 1.0, "gaussian", length=length)
    # The discrete sums of a smooth spectrum negligible at the Nyquist
    # wavenumber equal the k-space integrals up to the removed k = 0 mode,
    # a relative 1 / sum_k P_k < 0.2 % here: 1 % tolerance.
    assert mom["lambda2"] == pytest.approx(1 / length**2, rel=1e-2)
    assert all(l2 == pytest.approx(mom["lambda2"], rel=1e-12) for l2 in mom["lambda2_axes"])
    # continuum n_eff = (box / (l sqrt(pi)))^d for P = exp(-k^2 l^2 / 2)
    assert mom["n_modes_eff"] == pytest.approx(
        (n / (length * math.sqrt(math.pi))) ** ndim, rel=1e-2
    )


@pytest.mark.parametrize("shape, dx, spectrum, params", GRF_CASES)
def test_grf_measured_lambda2_matches_grf_moments(shape, dx, spectrum, params):
    ndim = len(shape)
    lam2 = ref.grf_moments(shape, dx, spectrum, **params)["lambda2"]
    rng = np.random.default_rng(4)
    measured = []
    for _ in range(6):
        f = ref.gaussian_random_field(shape, dx, spectrum=spectrum, rng=rng, **params)
        spec = np.fft.fftn(f)
        per_axis = []
        for a, n in enumerate(shape):
            k = 2 * np.pi * np.fft.fftfreq(n, d=dx)
            view = [1] * ndim
            view[a] = n
            deriv = np.fft.ifftn(1j * k.reshape(view) * spec).real  # spectral derivative
            per_axis.append(np.mean(deriv**2))
        measured.append(np.mean(per_axis))
    mean, se = _mean_se(measured)
    # spectral derivative of the realisations: unbiased, sampling noise only
    assert abs(mean - lam2) < Z * se


@pytest.mark.parametrize("shape, dx, spectrum, params", GRF_CASES)
def test_grf_is_periodic(shape, dx, spectrum, params):
    f = ref.gaussian_random_field(
        shape, dx, spectrum=spectrum, rng=np.random.default_rng(1), **params
    )
    for a in range(len(shape)):
        first = np.take(f, 0, axis=a)
        last = np.take(f, -1, axis=a)
        interior = np.diff(f, axis=a)
        msd_wrap = np.mean((first - last) ** 2)
        msd_interior = np.mean(interior**2)
        # On the torus the pair (last, first) is an ordinary neighbour pair:
        # same expected squared difference 2 (1 - C(dx)); a non-periodic field
        # would give ~2, i.e. > 10x more here. The wrap average runs over only
        # one line/plane of correlated pairs (relative SE < 25 %): 2x band.
        assert 0.5 * msd_interior < msd_wrap < 2 * msd_interior
        assert msd_interior < 0.2


@pytest.mark.parametrize(
    "shape, dx, spectrum, params",
    [GRF_CASES[0], GRF_CASES[1], ((64, 64, 64), 1.0, "gaussian", dict(length=4.0))],
)
@pytest.mark.parametrize("u", [-1.0, 0.0, 1.0, 2.0])
def test_grf_excursion_area_fraction(shape, dx, spectrum, params, u):
    rng = np.random.default_rng(12)
    fractions = [
        ref.level_cut(
            ref.gaussian_random_field(shape, dx, spectrum=spectrum, rng=rng, **params), u
        ).mean()
        for _ in range(6)
    ]
    lam2 = ref.grf_moments(shape, dx, spectrum, **params)["lambda2"]
    expected = ref.grf_excursion_expected(len(shape), u, lam2)
    key = "area_fraction" if len(shape) == 2 else "volume_fraction"
    mean, se = _mean_se(fractions)
    # every grid value is exactly N(0, 1): unbiased, sampling noise only
    assert abs(mean - expected[key]) < Z * se


@pytest.mark.parametrize("shape, length", [((512, 512), 5.0), ((64, 64, 64), 4.0)])
@pytest.mark.parametrize("u", [0.0, 1.0, 2.0])
def test_grf_perimeter_and_surface_by_line_crossings(shape, length, u):
    """Cauchy-Crofton / stereology with the Rice rate P_L: L_A = (pi/2) P_L, S_V = 2 P_L."""
    ndim, dx = len(shape), 1.0
    lam2 = ref.grf_moments(shape, dx, "gaussian", length=length)["lambda2"]
    rng = np.random.default_rng(8)
    rates = [
        _crossing_rate(
            ref.gaussian_random_field(shape, dx, spectrum="gaussian", length=length, rng=rng) > u,
            dx,
        )
        for _ in range(6)
    ]
    dens = ref.grf_excursion_expected(ndim, u, lam2)
    expected = 2 / math.pi * dens["perimeter_density"] if ndim == 2 else dens["surface_density"] / 2
    mean, se = _mean_se(rates)
    # Sampling at spacing dx misses double crossings: the exact lattice rate
    # 2 [Phi_bar(u) - Phi_2(u, u; C(dx))] / dx is below Rice's by 1.6 % at
    # most here (l >= 4 dx, u <= 2): allow 2 % below, none above.
    assert mean < expected + Z * se
    assert mean > 0.98 * expected - Z * se


@pytest.mark.parametrize("u", [2.0, -2.0])
def test_grf_2d_euler_density_by_component_counting(u):
    n, dx, length = 1024, 1.0, 5.0
    lam2 = ref.grf_moments((n, n), dx, "gaussian", length=length)["lambda2"]
    rng = np.random.default_rng(21)
    chis = [
        _euler_window_2d(
            ref.level_cut(
                ref.gaussian_random_field((n, n), dx, spectrum="gaussian", length=length, rng=rng),
                u,
            )
        )
        for _ in range(6)
    ]
    expected = _window_euler_expected(ref.grf_excursion_expected(2, u, lam2), n * dx)
    mean, se = _mean_se(chis)
    # Sampling noise: Z standard errors (~1.5 % each here). Digitisation only
    # lowers |chi| at |u| = 2 (blobs or holes with no grid point inside are
    # missed, close ones merged by the 8/4 connectivity); measured -1 % to
    # -2.5 % at l = 5 dx: allow 6 % towards zero, nothing away from it.
    assert abs(mean) < abs(expected) + Z * se
    assert abs(mean) > 0.94 * abs(expected) - Z * se
    assert np.sign(mean) == np.sign(expected) == np.sign(u)


def test_grf_reproducible_from_rng():
    kw = dict(spectrum="peaked", k0=0.8, width=0.1)
    a = ref.gaussian_random_field((32, 40), 1.0, rng=np.random.default_rng(3), **kw)
    b = ref.gaussian_random_field((32, 40), 1.0, rng=np.random.default_rng(3), **kw)
    c = ref.gaussian_random_field((32, 40), 1.0, rng=np.random.default_rng(4), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "shape, kwargs, match",
    [
        ((64, 64), dict(spectrum="lorentzian", length=2.0), r"spectrum='lorentzian' is unknown"),
        ((64, 64), dict(spectrum="gaussian"), r"takes exactly the parameters \['length'\]"),
        ((64, 64), dict(spectrum="gaussian", length=2.0, k0=1.0), r"got \['k0', 'length'\]"),
        ((64, 64), dict(spectrum="gaussian", length=-2.0), r"length=-2\.0 must be .*> 0"),
        ((64, 64), dict(spectrum="peaked", k0=-1.0, width=0.1), r"k0=-1\.0 must be .*>= 0"),
        ((64, 64), dict(spectrum="peaked", k0=1.0, width=0.0), r"width=0\.0 must be .*> 0"),
        (
            (64, 64),
            dict(spectrum="gaussian", length=1e6),
            r"has no weight at the non-zero wavevectors",
        ),
        ((64,), dict(spectrum="gaussian", length=2.0), r"1 dimension\(s\): only 2D and 3D"),
        ((4, 4, 4, 4), dict(spectrum="gaussian", length=2.0), r"4 dimension\(s\)"),
        ((64, 64), dict(spectrum="gaussian", length=2.0, rng=None), r"rng=None must be a numpy"),
    ],
)
def test_grf_bad_inputs(shape, kwargs, match):
    kwargs.setdefault("rng", np.random.default_rng(0))
    with pytest.raises(ParameterError, match=match):
        ref.gaussian_random_field(shape, 1.0, **kwargs)


def test_level_cut():
    f = np.array([[-1.0, 0.5], [0.5, 2.0]])
    cut = ref.level_cut(f, 0.5)
    assert cut.dtype == bool
    np.testing.assert_array_equal(cut, [[False, False], [False, True]])
    with pytest.raises(ParameterError, match=r"threshold=nan must be a finite number"):
        ref.level_cut(f, float("nan"))


# --------------------------------------------------------------------------
# Gaussian random fields: analytic formulas
# --------------------------------------------------------------------------
U = np.linspace(-3.0, 3.0, 25)


@pytest.mark.parametrize("lam2", [0.04, 1.0, 7.5])
def test_grf_expected_rice_crofton_relations(lam2):
    """L_A = (pi/2) P_L and S_V = 2 P_L, P_L = (sqrt(lam2) / pi) e^{-u^2/2} (Rice 1945)."""
    p_l = math.sqrt(lam2) / math.pi * np.exp(-(U**2) / 2)
    d2 = ref.grf_excursion_expected(2, U, lam2)
    d3 = ref.grf_excursion_expected(3, U, lam2)
    # identities: round-off only
    np.testing.assert_allclose(d2["perimeter_density"], math.pi / 2 * p_l, rtol=1e-12)
    np.testing.assert_allclose(d3["surface_density"], 2 * p_l, rtol=1e-12)
    np.testing.assert_allclose(d2["area_fraction"], ndtr(-U), rtol=1e-12)
    np.testing.assert_allclose(d3["volume_fraction"], ndtr(-U), rtol=1e-12)


@pytest.mark.parametrize("lam2", [0.04, 1.0, 7.5])
def test_grf_expected_planar_sections(lam2):
    """A plane section of a 3D isotropic GRF is a 2D GRF with the same lambda2;
    stereology (Crofton): A_A = V_V, L_A = (pi/4) S_V, chi_A = M_V / (2 pi)."""
    d2 = ref.grf_excursion_expected(2, U, lam2)
    d3 = ref.grf_excursion_expected(3, U, lam2)
    # identities: round-off only (abs for the zero of u e^{-u^2/2} at u = 0)
    np.testing.assert_allclose(d2["area_fraction"], d3["volume_fraction"], rtol=1e-12)
    np.testing.assert_allclose(
        d2["perimeter_density"], math.pi / 4 * d3["surface_density"], rtol=1e-12
    )
    np.testing.assert_allclose(
        d2["euler_density"], d3["mean_curvature_density"] / (2 * math.pi), rtol=1e-12, atol=1e-15
    )


def test_grf_expected_complement_symmetries():
    """{f > -u} is the complement of {f' > u} with f' = -f (same law): in 2D chi
    changes sign, in 3D chi is unchanged and M changes sign (orientation);
    boundary measures are unchanged."""
    lam2 = 0.3
    p2, m2 = (ref.grf_excursion_expected(2, s * U, lam2) for s in (1, -1))
    p3, m3 = (ref.grf_excursion_expected(3, s * U, lam2) for s in (1, -1))
    # identities: round-off only
    np.testing.assert_allclose(p2["area_fraction"] + m2["area_fraction"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(p2["perimeter_density"], m2["perimeter_density"], rtol=1e-12)
    np.testing.assert_allclose(p2["euler_density"], -m2["euler_density"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(p3["volume_fraction"] + m3["volume_fraction"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(p3["surface_density"], m3["surface_density"], rtol=1e-12)
    np.testing.assert_allclose(
        p3["mean_curvature_density"], -m3["mean_curvature_density"], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(p3["euler_density"], m3["euler_density"], rtol=1e-12)


@pytest.mark.parametrize("lam2", [0.04, 2.0])
def test_grf_expected_hermite_derivative_structure(lam2):
    """EC densities rho_j ~ H_{j-1}(u) e^{-u^2/2} obey rho_{j+1} = -rho_j' / sqrt(2 pi).
    With the flag coefficients this links neighbouring densities:
    2D: L_A = -sqrt(pi lam2 / 2) A_A',  chi_A = -sqrt(lam2) L_A' / (pi sqrt(2 pi));
    3D: S_V = -4 sqrt(lam2 / (2 pi)) V_V',  M_V = -sqrt(2 pi lam2) S_V' / 4,
        chi_V = -sqrt(lam2) M_V' / (2 pi)^{3/2}."""
    h = 1e-5

    def deriv(ndim, key):
        return (
            ref.grf_excursion_expected(ndim, U + h, lam2)[key]
            - ref.grf_excursion_expected(ndim, U - h, lam2)[key]
        ) / (2 * h)

    d2 = ref.grf_excursion_expected(2, U, lam2)
    d3 = ref.grf_excursion_expected(3, U, lam2)
    s = math.sqrt(lam2)
    # central differences with h = 1e-5: truncation ~h^2 ~ 1e-10, round-off ~1e-11 / h
    tol = dict(rtol=1e-6, atol=1e-8 * max(1.0, lam2**1.5))
    np.testing.assert_allclose(
        d2["perimeter_density"], -math.sqrt(math.pi * lam2 / 2) * deriv(2, "area_fraction"), **tol
    )
    np.testing.assert_allclose(
        d2["euler_density"],
        -s / (math.pi * math.sqrt(2 * math.pi)) * deriv(2, "perimeter_density"),
        **tol,
    )
    np.testing.assert_allclose(
        d3["surface_density"],
        -4 * math.sqrt(lam2 / (2 * math.pi)) * deriv(3, "volume_fraction"),
        **tol,
    )
    np.testing.assert_allclose(
        d3["mean_curvature_density"],
        -math.sqrt(2 * math.pi * lam2) / 4 * deriv(3, "surface_density"),
        **tol,
    )
    np.testing.assert_allclose(
        d3["euler_density"], -s / (2 * math.pi) ** 1.5 * deriv(3, "mean_curvature_density"), **tol
    )


def test_grf_expected_scalar_and_array_thresholds_agree():
    arr = ref.grf_excursion_expected(3, U, 0.5)
    for i in (0, 7, 24):
        scalar = ref.grf_excursion_expected(3, float(U[i]), 0.5)
        assert set(scalar) == {
            "volume_fraction",
            "surface_density",
            "mean_curvature_density",
            "euler_density",
        }
        for key, value in scalar.items():
            assert isinstance(value, float)
            assert value == pytest.approx(arr[key][i], rel=1e-14, abs=1e-300)  # same arithmetic


@pytest.mark.parametrize(
    "ndim, u, lam2, match",
    [
        (1, 0.0, 1.0, r"ndim=1 is not supported: allowed values are 2 and 3"),
        (4, 0.0, 1.0, r"ndim=4"),
        (2, 0.0, 0.0, r"lambda2=0\.0 must be .*> 0"),
        (3, 0.0, -1.0, r"lambda2=-1\.0 must be .*> 0"),
        (3, float("inf"), 1.0, r"threshold=inf must be finite"),
    ],
)
def test_grf_expected_bad_inputs(ndim, u, lam2, match):
    with pytest.raises(ParameterError, match=match):
        ref.grf_excursion_expected(ndim, u, lam2)
