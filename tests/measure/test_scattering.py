"""Scattering: Parseval, peak positions, invariant, Porod's law, scaling with
box and pixel size, instrument effects."""

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scattermorph.errors import ParameterError
from scattermorph.measure import reference as rf
from scattermorph.measure import scattering as sc


@pytest.mark.parametrize("shape, dx", [((64, 48), 1.0), ((32, 32, 16), 0.7)])
def test_parseval_invariant_equals_variance(rng, shape, dx):
    phi = rng.normal(size=shape) ** 2  # any field, non-Gaussian on purpose
    # exact identity up to FFT round-off (~1e-15 relative per mode)
    assert sc.invariant(phi, dx) == pytest.approx(phi.var(), rel=1e-12)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("n_waves", [3, 8])
def test_periodic_pattern_peaks_at_its_wavenumber(ndim, n_waves):
    n, dx = 64, 1.5
    box = n * dx
    x = (np.arange(n) + 0.5) * dx
    grids = np.meshgrid(*([x] * ndim), indexing="ij")
    phi = 0.5 + 0.3 * np.cos(2 * np.pi * n_waves * grids[0] / box)
    q0 = 2 * np.pi * n_waves / box
    edges, centres = sc.q_grid(2 * np.pi / box * 0.5, np.pi / dx, 60, "linear")
    s_q, counts = sc.radial_profile(phi, dx, edges)
    i = int(np.nanargmax(s_q))
    assert edges[i] <= q0 < edges[i + 1]  # the peak bin holds q0 exactly
    # all the intensity sits in that shell: the other bins are zero to round-off
    assert np.nansum(np.delete(np.nan_to_num(s_q), i)) < 1e-20 * s_q[i]
    # Parseval: two modes (+q0, -q0) carry var = 0.3^2 / 2
    assert sc.invariant(phi, dx) == pytest.approx(0.045, rel=1e-12)


def test_counts_per_bin_sum_to_modes_inside_grid():
    n, dx = 32, 1.0
    edges = np.linspace(0, 10, 11)  # covers every |k| <= sqrt(2) pi
    _, counts = sc.radial_profile(np.random.default_rng(0).random((n, n)), dx, edges)
    assert counts.sum() == n * n  # each full-spectrum mode counted once


def test_peak_position_refines_inside_bin():
    q = np.geomspace(0.01, 1, 50)
    q_true = 0.123
    s = np.exp(-((np.log(q) - np.log(q_true)) ** 2) / 0.1)
    # a log-normal peak is a parabola in (log q, log S): exact refinement
    assert sc.peak_position(q, s) == pytest.approx(q_true, rel=1e-10)


def test_volume_fraction_from_invariant_exact_for_binary(rng):
    img = rf.boolean_model((256, 256), 1.0, intensity=0.002, radius=6.0, rng=rng)
    v = img.mean()
    assert v < 0.5
    # for a 0/1 field var = v (1 - v) exactly, so the minority root is v
    est = sc.volume_fraction_from_invariant(sc.invariant(img))
    assert est == pytest.approx(v, rel=1e-9)
    # Babinet: the complement gives the same minority fraction
    assert sc.volume_fraction_from_invariant(sc.invariant(~img)) == pytest.approx(v, rel=1e-9)


def _hard_discs(rng, n, k):
    centres, radii = [], []
    while len(centres) < k:
        c, r = rng.uniform(0, n, 2), rng.uniform(10, 30)
        if all(np.linalg.norm((c - c2 + n / 2) % n - n / 2) > r + r2 + 2
               for c2, r2 in zip(centres, radii)):
            centres.append(c)
            radii.append(r)
    img = np.zeros((n, n), bool)
    for c, r in zip(centres, radii):
        img |= rf.union_of_balls((n, n), 1.0, np.array([c]), r)
    return img, 2 * np.pi * np.sum(radii) / n**2


def test_porod_estimate_matches_interface_length(rng):
    """Non-overlapping polydisperse discs: the exact perimeter density is
    sum(2 pi R) / area, independent of any Minkowski code."""
    n = 1024
    img, length_density = _hard_discs(rng, n, 150)
    edges, centres = sc.q_grid(2 * np.pi / n, np.pi, 100)
    s_q, _ = sc.radial_profile(img, 1.0, edges)
    k = sc.porod_constant(centres, s_q, 2, (0.2, 1.0), method="plateau")
    est = sc.specific_surface_from_porod(k, 2)
    # Tolerance 5 %: the staircase of the digitised boundaries adds lattice-scale
    # roughness that raises the tail by 1-4 % (measured over seeds), plus the
    # residual form-factor oscillations averaged over a finite window.
    assert est == pytest.approx(length_density, rel=0.05)


def test_porod_3d_ball_ensemble(rng):
    """3D: polydisperse balls, S_V = sum 4 pi R^2 / V."""
    n = 128
    centres, radii = [], []
    while len(centres) < 25:
        c, r = rng.uniform(0, n, 3), rng.uniform(6, 12)
        if all(np.linalg.norm((c - c2 + n / 2) % n - n / 2) > r + r2 + 2
               for c2, r2 in zip(centres, radii)):
            centres.append(c)
            radii.append(r)
    img = np.zeros((n,) * 3, bool)
    for c, r in zip(centres, radii):
        img |= rf.union_of_balls((n,) * 3, 1.0, np.array([c]), r)
    s_v = 4 * np.pi * np.sum(np.square(radii)) / n**3
    edges, centres_q = sc.q_grid(2 * np.pi / n, np.pi, 60)
    s_q, _ = sc.radial_profile(img, 1.0, edges)
    est = sc.specific_surface_from_porod(sc.porod_constant(centres_q, s_q, 3, (0.5, 1.2), method="plateau"), 3)
    # Tolerance 10 %: smaller balls (6-12 voxels) leave stronger form-factor
    # oscillations in the window and more digitisation roughness than in 2D.
    assert est == pytest.approx(s_v, rel=0.10)


def test_scaling_with_box_size():
    """Tiling a periodic structure 2x2 leaves S(q) per unit volume unchanged on
    the modes both boxes share; the larger box only adds empty modes."""
    rng = np.random.default_rng(3)
    tile = rng.random((32, 32))
    big = np.tile(tile, (2, 2))
    s1, k1, _ = sc.structure_factor(tile, 1.0)
    s2, k2, _ = sc.structure_factor(big, 1.0)
    # Shared modes (even indices of the big box): the FFT sums 4 copies, so
    # |FFT|^2 is 16x while N is 4x: S_big = 4 S_small there, and the big box's
    # other modes are exactly empty.
    shared = s2[::2, ::2][:, : s1.shape[1]]
    assert np.allclose(shared, 4 * s1, rtol=1e-10, atol=1e-14)
    odd = s2.copy()
    odd[::2, ::2] = 0
    assert np.all(odd < 1e-20)
    # Each big-box mode occupies 1/4 of the q-space area of a small-box mode,
    # so the integrated intensity of every shell, sum S * (2 pi / L)^2, is the
    # same for both boxes: S(q) is a density comparable between boxes.
    edges, _ = sc.q_grid(0.3, 3.0, 12, "linear")
    a, ca = sc.radial_profile(tile, 1.0, edges)
    b, cb = sc.radial_profile(big, 1.0, edges)
    assert np.allclose(a * ca, b * cb / 4, rtol=1e-10)
    assert sc.invariant(tile) == pytest.approx(sc.invariant(big), rel=1e-12)


def test_scaling_with_pixel_size():
    """The same structure at pixel size dx: q scales as 1/dx and S(q) as dx^d."""
    rng = np.random.default_rng(4)
    phi = rng.random((64, 64))
    s1, k1, _ = sc.structure_factor(phi, 1.0)
    s2, k2, _ = sc.structure_factor(phi, 2.5)
    assert np.allclose(k2, k1 / 2.5)
    assert np.allclose(s2, s1 * 2.5**2)
    assert sc.characteristic_length(phi, 2.5) == pytest.approx(2.5 * sc.characteristic_length(phi, 1.0))


def test_characteristic_length_of_a_stripe_pattern():
    n, dx, m = 128, 1.0, 8
    x = (np.arange(n) + 0.5) * dx
    phi = np.cos(2 * np.pi * m * x / (n * dx))[:, None] * np.ones((1, n))
    # one pair of modes at q = 2 pi m / L: L_char is the stripe period exactly
    assert sc.characteristic_length(phi, dx) == pytest.approx(n * dx / m, rel=1e-12)


class TestInstrument:
    q = np.geomspace(0.01, 1.0, 40)
    s = 1.0 / (1 + (q / 0.1) ** 4)

    def test_all_off_is_identity(self):
        i_q, sig = sc.apply_instrument(self.q, self.s)
        assert np.array_equal(i_q, self.s) and np.all(sig == 0)

    def test_background_and_window(self):
        i_q, _ = sc.apply_instrument(self.q, self.s, background=0.01, q_window=(0.02, 0.5))
        inside = (self.q >= 0.02) & (self.q <= 0.5)
        assert np.allclose(i_q[inside], self.s[inside] + 0.01)
        assert np.all(np.isnan(i_q[~inside]))

    def test_smearing_preserves_a_flat_curve_and_broadens_a_peak(self):
        flat = np.full_like(self.q, 2.0)
        i_q, _ = sc.apply_instrument(self.q, flat, resolution=0.1)
        assert np.allclose(i_q, 2.0)  # weights are normalised
        peak = np.exp(-((np.log(self.q / 0.1)) ** 2) / 0.01)
        sm, _ = sc.apply_instrument(self.q, peak, resolution=0.1)
        assert sm.max() < peak.max()

    def test_poisson_counts(self):
        rng = np.random.default_rng(5)
        reps = np.array([sc.apply_instrument(self.q, self.s, counts=1e4, rng=rng)[0] for _ in range(400)])
        # mean unbiased, variance I / counts: 400 repeats give the mean to
        # ~sqrt(I/1e4/400) -> compare within 5 standard errors
        se = np.sqrt(self.s / 1e4 / 400)
        assert np.all(np.abs(reps.mean(0) - self.s) < 5 * se + 1e-12)
        assert np.allclose(reps.var(0), self.s / 1e4, rtol=0.3)  # chi2 with 399 dof: +-15% (2 sigma) x2 margin

    def test_bad_options(self):
        with pytest.raises(ParameterError, match="needs a numpy.random.Generator"):
            sc.apply_instrument(self.q, self.s, counts=100)
        with pytest.raises(ParameterError, match="resolution=-1"):
            sc.apply_instrument(self.q, self.s, resolution=-1)


def test_bad_fields():
    with pytest.raises(ParameterError, match="only 2D and 3D"):
        sc.structure_factor(np.zeros(10))
    with pytest.raises(ParameterError, match="NaN"):
        sc.structure_factor(np.full((8, 8), np.nan))
    with pytest.raises(ParameterError, match="dx=0"):
        sc.structure_factor(np.zeros((8, 8)), 0)
    with pytest.raises(ParameterError, match="q_min"):
        sc.q_grid(0.5, 0.1, 10)


def test_constant_field_has_no_length():
    assert math.isnan(sc.characteristic_length(np.ones((16, 16))))


def test_ruland_fit_recovers_sharp_porod_constant_of_a_diffuse_interface(rng):
    """Smoothing a binary structure with a Gaussian of width sigma multiplies
    S(q) by exp(-sigma^2 q^2) exactly; the Ruland fit undoes it."""
    n = 1024
    img, length_density = _hard_discs(rng, n, 150)
    sigma = 2.0
    smooth = gaussian_filter(img.astype(float), sigma, mode="wrap")
    edges, centres = sc.q_grid(2 * np.pi / n, np.pi, 100)
    s_q, _ = sc.radial_profile(smooth, 1.0, edges)
    k = sc.porod_constant(centres, s_q, 2, (0.2, 0.6), method="ruland")
    # same 5 % as the sharp case: digitisation roughness plus window oscillations
    assert sc.specific_surface_from_porod(k, 2) == pytest.approx(length_density, rel=0.05)
    # the plain plateau is badly biased low on the smooth field (> 30 %)
    k_plateau = sc.porod_constant(centres, s_q, 2, (0.2, 0.6), method="plateau")
    assert sc.specific_surface_from_porod(k_plateau, 2) < 0.7 * length_density


@pytest.mark.parametrize("shape", [(48, 64), (16, 20, 24)])
def test_radial_profile_equals_brute_force_histogram(rng, shape):
    """The compiled one-pass binning equals numpy.histogram over the full
    complex spectrum (an independent implementation), bin by bin."""
    phi = rng.random(shape)
    dx = 0.8
    edges = np.geomspace(2 * np.pi / (max(shape) * dx), np.pi / dx, 20)
    f = np.fft.fftn(phi - phi.mean())
    p = np.abs(f) ** 2 * dx ** phi.ndim / phi.size
    ks = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n, dx) for n in shape], indexing="ij")
    k = np.sqrt(sum(x**2 for x in ks))
    num, _ = np.histogram(k, bins=edges, weights=p)
    cnt, _ = np.histogram(k, bins=edges)
    s_q, counts = sc.radial_profile(phi, dx, edges)
    assert np.array_equal(counts, cnt)
    good = cnt > 0
    assert np.allclose(s_q[good], num[good] / cnt[good], rtol=1e-10)
    assert np.all(np.isnan(s_q[~good]))
