"""Partial views (scattermorph.classify.views): exact visible fractions, no read
outside the view, and the visible-part statistics against brute force."""

import itertools

import numpy as np
import pytest

from scattermorph.classify.features import view_features
from scattermorph.classify.views import (
    MAX_ASPECT,
    binarise_visible,
    draw_view,
    masked_two_point,
    random_section,
    view_frame,
    visible_configurations,
    visible_minkowski_densities,
    window_shape,
)
from scattermorph.errors import ParameterError
from scattermorph.measure.minkowski import configuration_histogram, minkowski
from scattermorph.measure.scattering import structure_factor

FRACTIONS = [0.001, 0.01, 0.0137, 0.05, 0.1, 0.25, 0.5, 0.77, 0.999, 1.0]
SHAPES = [(64, 64), (128, 128), (48, 80), (17, 23)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", FRACTIONS)
def test_pixel_subset_has_exactly_the_requested_count(shape, f, rng):
    v = draw_view("pixels", shape, f, rng)
    n = shape[0] * shape[1]
    assert v.n_visible == max(1, round(f * n))
    assert v.fraction == v.n_visible / n


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", FRACTIONS)
def test_window_fraction_is_exact_to_one_side_rounding(shape, f, rng):
    h, w = window_shape(shape, f)
    n = shape[0] * shape[1]
    # w is the nearest integer to f N / h for the chosen h: error <= h / 2
    # (a window has at least one pixel)
    assert abs(h * w - max(f * n, 1)) <= h / 2 + 1e-9
    if shape[0] == shape[1] and shape[0] >= 16 and f * n >= 4:  # else the bound may be impossible
        assert max(h, w) / min(h, w) <= MAX_ASPECT + 1e-12
    v = draw_view("window", shape, f, rng)
    assert v.n_visible == h * w and v.fraction == h * w / n
    # a window is consecutive rows and columns of the periodic tile
    assert np.all(np.diff(v.rows) % shape[0] == 1) or h == 1
    assert np.all(np.diff(v.cols) % shape[1] == 1) or w == 1
    assert np.array_equal(np.flatnonzero(v.mask.any(axis=1)), np.sort(v.rows))


def test_full_fraction_sees_everything(rng):
    for kind in ("window", "pixels"):
        assert draw_view(kind, (32, 40), 1.0, rng).mask.all()


@pytest.mark.parametrize("kind", ["window", "pixels", "section_window", "section_pixels"])
@pytest.mark.parametrize("f", [0.01, 0.1, 0.4, 1.0])
def test_features_never_read_hidden_pixels(kind, f):
    """Poison every hidden pixel with NaN: the features must stay finite and
    equal those of the clean image (so nothing outside the view was used)."""
    rng = np.random.default_rng(3)
    x = np.linspace(0, 4 * np.pi, 64)
    field = 0.5 + 0.3 * np.sin(x[:, None]) * np.cos(1.3 * x[None, :]) + 0.05 * rng.standard_normal((64, 64))
    if kind.startswith("section_"):
        vol = np.stack([field * (1 + 0.01 * k) for k in range(8)])
        field, _ = random_section(vol, np.random.default_rng(5))
    view = draw_view(kind, field.shape, f, np.random.default_rng(11))
    poisoned = np.where(view.mask, field, np.nan)
    kw = dict(spacing=2.0, level="mean", radii=[0.5, 4, 8, 16, 32], raw_grid=8)
    raw_a, phys_a = view_features(field, view, **kw)
    raw_b, phys_b = view_features(poisoned, view, **kw)
    assert np.all(np.isfinite(raw_b)) and np.all(np.isfinite(phys_b))
    np.testing.assert_array_equal(raw_a, raw_b)
    np.testing.assert_array_equal(phys_a, phys_b)


def test_binarise_uses_visible_level(rng):
    img = rng.random((20, 20))
    v = draw_view("pixels", img.shape, 0.3, rng)
    frame, mask, _ = view_frame(img, v)
    b, lv = binarise_visible(frame, mask, "mean")
    assert lv == pytest.approx(img[v.mask].mean(), rel=1e-12)
    assert not b[~mask].any()
    _, med = binarise_visible(frame, mask, "equal_volume")
    assert med == pytest.approx(np.median(img[v.mask]), rel=1e-12)


def _brute_hist(binary, mask, periodic):
    ny, nx = binary.shape
    h = np.zeros(16, int)
    ys = range(ny) if periodic else range(ny - 1)
    xs = range(nx) if periodic else range(nx - 1)
    for y, x in itertools.product(ys, xs):
        cells = [((y + (b & 1)) % ny, (x + (b >> 1)) % nx) for b in range(4)]
        if all(mask[c] for c in cells):
            h[sum(int(binary[c]) << b for b, c in enumerate(cells))] += 1
    return h


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("f", [0.5, 0.9, 1.0])
def test_visible_configurations_brute_force(periodic, f, rng):
    binary = rng.random((13, 11)) < 0.45
    mask = rng.random((13, 11)) < f
    np.testing.assert_array_equal(
        visible_configurations(binary, mask, periodic), _brute_hist(binary, mask, periodic)
    )


def test_fully_visible_periodic_densities_equal_minkowski(rng):
    binary = rng.random((40, 40)) < 0.5
    mask = np.ones_like(binary)
    np.testing.assert_array_equal(visible_configurations(binary, mask, True),
                                  configuration_histogram(binary))
    for conn in (4, 8):
        d = visible_minkowski_densities(binary, mask, True, spacing=2.0, connectivity=conn)
        ref = minkowski(binary, spacing=2.0, connectivity=conn)
        # same weights, same number of windows: equal to round-off
        assert d["area_fraction"] == pytest.approx(ref["area_density"], rel=1e-12)
        assert d["perimeter_density"] == pytest.approx(ref["perimeter_density"], rel=1e-12)
        assert d["euler_density"] == pytest.approx(ref["euler_density"], rel=1e-12, abs=1e-15)


def test_window_densities_of_stripes_are_local():
    """Vertical stripes, 4 on / 4 off: every interior window sees straight
    interfaces, so the Euler density is exactly 0 and the area fraction of
    the complete windows is exactly that of the window."""
    img = (np.arange(64)[None, :] // 4 % 2 == 0) & np.ones((64, 64), bool)
    d = visible_minkowski_densities(img[:16, :24], np.ones((16, 24), bool), False)
    assert d["euler_density"] == 0
    assert d["n_windows"] == 15 * 23
    # column pairs of the window: 23 windows per row, ones at x in stripes
    cols = img[0, :24].astype(float)
    assert d["area_fraction"] == pytest.approx(np.mean(0.5 * (cols[:-1] + cols[1:])), rel=1e-12)


def _brute_s2(binary, mask, periodic, max_d):
    ny, nx = binary.shape
    out = {}
    for dy in range(-max_d, max_d + 1):
        for dx in range(-max_d, max_d + 1):
            both = pairs = 0
            for y, x in itertools.product(range(ny), range(nx)):
                y2, x2 = y + dy, x + dx
                if periodic:
                    y2, x2 = y2 % ny, x2 % nx
                elif not (0 <= y2 < ny and 0 <= x2 < nx):
                    continue
                if mask[y, x] and mask[y2, x2]:
                    pairs += 1
                    both += binary[y, x] and binary[y2, x2]
            out[(dy, dx)] = (both, pairs)
    return out


@pytest.mark.parametrize("periodic", [True, False])
def test_masked_two_point_brute_force(periodic, rng):
    binary = rng.random((12, 10)) < 0.4
    mask = rng.random((12, 10)) < 0.7
    brute = _brute_s2(binary, mask, periodic, 3)
    # shells that each hold one distance: |r| = 0, 1, sqrt2, 2, sqrt5
    dists = [0.0, 1.0, np.sqrt(2), 2.0, np.sqrt(5)]
    edges = [-0.1, 0.5, 1.2, 1.7, 2.1, 2.5]
    s2, pairs = masked_two_point(binary, mask, periodic, edges)
    for i, d in enumerate(dists):
        sel = [v for (dy, dx), v in brute.items() if abs(np.hypot(dy, dx) - d) < 1e-9]
        both = sum(v[0] for v in sel)
        n = sum(v[1] for v in sel)
        assert pairs[i] == n
        assert s2[i] == pytest.approx(both / n, rel=1e-9)


def test_two_point_is_the_transform_of_the_structure_factor(rng):
    """Full periodic view: S2(r) - p^2 is the autocovariance of the phase
    indicator, i.e. the inverse FFT of S(k) of scattermorph.measure.scattering."""
    binary = rng.random((32, 32)) < 0.35
    s2, _ = masked_two_point(binary, np.ones_like(binary), True, [0.5, 1.2], spacing=1.0)
    s, _, _ = structure_factor(binary.astype(float), 1.0)
    cov = np.fft.irfftn(s, s=binary.shape, axes=(0, 1))  # dx = 1: S = |F|^2 / N
    mean_nn = np.mean([cov[1, 0], cov[-1, 0], cov[0, 1], cov[0, -1]])
    p = binary.mean()
    assert s2[0] - p * p == pytest.approx(mean_nn, abs=1e-12)


def test_random_section_is_a_plane(rng):
    vol = rng.random((6, 7, 8))
    sec, (axis, index) = random_section(vol, rng)
    np.testing.assert_array_equal(sec, np.take(vol, index, axis=axis))


@pytest.mark.parametrize("f", [0.0, -0.1, 1.5, float("nan"), True])
def test_bad_fraction_refused(f, rng):
    with pytest.raises(ParameterError, match="visible fraction"):
        draw_view("window", (8, 8), f, rng)


def test_bad_kind_and_rng_refused(rng):
    with pytest.raises(ParameterError, match="unknown"):
        draw_view("disc", (8, 8), 0.5, rng)
    with pytest.raises(ParameterError, match="Generator"):
        draw_view("window", (8, 8), 0.5, 42)
    with pytest.raises(ParameterError, match="2D"):
        draw_view("window", (8, 8, 8), 0.5, rng)


# --------------------------------------------------------------------------
# 3D sub-volume views (subvolume_window / subvolume_voxels)
# --------------------------------------------------------------------------
SHAPES3 = [(16, 16, 16), (12, 20, 16), (17, 9, 23)]
FRACTIONS3 = [0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 0.999, 1.0]


def _cuboid_oracle(shape, f):
    """The documented rule of window_shape in 3D, as a plain double loop."""
    nz, ny, nx = shape
    target = f * nz * ny * nx
    best = None
    for d in range(1, nz + 1):
        for h in range(1, ny + 1):
            w = round(target / (d * h))
            if not 1 <= w <= nx:
                continue
            key = (max(d, h, w) / min(d, h, w), abs(d * h * w - target), d, h)
            if best is None or key < best[0]:
                best = (key, (d, h, w))
    return best[1]


def _is_cyclic_run(idx, n):
    """``idx`` are consecutive indices on a ring of n cells."""
    return np.array_equal(np.sort(idx), np.sort((idx[0] + np.arange(idx.size)) % n))


@pytest.mark.parametrize("shape", SHAPES3)
@pytest.mark.parametrize("f", FRACTIONS3)
def test_subvolume_window_fraction_shape_and_wrap(shape, f, rng):
    sides = window_shape(shape, f)
    assert sides == _cuboid_oracle(shape, f)
    d, h, w = sides
    n = int(np.prod(shape))
    assert abs(d * h * w - max(f * n, 1)) <= d * h / 2 + 1e-9
    if f == 1.0:
        assert sides == shape
    v = draw_view("subvolume_window", shape, f, rng)
    assert v.kind == "window" and v.shape == shape
    assert v.n_visible == d * h * w and v.fraction == d * h * w / n
    # the mask is the product of three cyclic runs (a cuboid of the torus)
    for idx, k, m in zip(v.index, sides, shape):
        assert idx.size == k and _is_cyclic_run(idx, m)
    ind = [np.isin(np.arange(m), idx) for idx, m in zip(v.index, shape)]
    np.testing.assert_array_equal(v.mask, ind[0][:, None, None] & ind[1][None, :, None] & ind[2][None, None, :])


def test_subvolume_window_is_cube_like_and_wraps():
    # 64^3 at f = 0.1: a cube of side (0.1)^(1/3) 64 = 29.7
    assert sorted(window_shape((64, 64, 64), 0.1)) == [29, 30, 30]
    for f in (0.01, 0.05, 0.1, 0.3, 0.5):
        sides = window_shape((64, 64, 64), f)
        assert max(sides) / min(sides) <= MAX_ASPECT
    # windows that cross the box edge continue on the other side: among many
    # draws some wrap on each axis, and every one is a cyclic run
    rng = np.random.default_rng(0)
    wrapped = np.zeros(3, bool)
    for _ in range(50):
        v = draw_view("subvolume_window", (10, 12, 14), 0.3, rng)
        for a, (idx, m) in enumerate(zip(v.index, (10, 12, 14))):
            assert _is_cyclic_run(idx, m)
            wrapped[a] |= bool(np.any(np.diff(idx) < 0))
    assert wrapped.all()


@pytest.mark.parametrize("shape", SHAPES3)
@pytest.mark.parametrize("f", FRACTIONS3)
def test_voxel_subset_has_exactly_the_requested_count(shape, f, rng):
    v = draw_view("subvolume_voxels", shape, f, rng)
    n = int(np.prod(shape))
    assert v.kind == "voxels" and v.mask.shape == shape
    assert v.n_visible == max(1, round(f * n)) and v.fraction == v.n_visible / n


def test_volume_kinds_need_3d_and_plane_kinds_need_2d(rng):
    with pytest.raises(ParameterError, match="3D structures; use window / pixels"):
        draw_view("subvolume_window", (8, 8), 0.5, rng)
    with pytest.raises(ParameterError, match="subvolume_window / subvolume_voxels"):
        draw_view("pixels", (8, 8, 8), 0.5, rng)


def _field3d(n=24, seed=3):
    rng = np.random.default_rng(seed)
    x = np.arange(n) * 2 * np.pi / n
    z, y, xx = np.meshgrid(x, x, x, indexing="ij")
    return 0.5 + 0.3 * np.sin(2 * z) * np.cos(y) * np.sin(2 * xx + 1) + 0.05 * rng.standard_normal((n, n, n))


@pytest.mark.parametrize("kind", ["subvolume_window", "subvolume_voxels"])
@pytest.mark.parametrize("f", [0.01, 0.1, 0.5, 1.0])
def test_subvolume_features_never_read_hidden_voxels(kind, f):
    field = _field3d()
    view = draw_view(kind, field.shape, f, np.random.default_rng(11))
    poisoned = np.where(view.mask, field, np.nan)
    kw = dict(spacing=2.0, level="mean", radii=[0.5, 4, 8, 16, 32], raw_grid=4)
    raw_a, phys_a = view_features(field, view, **kw)
    raw_b, phys_b = view_features(poisoned, view, **kw)
    assert raw_a.shape == (2 * 4**3,) and phys_a.shape == (7 + 4,)
    assert np.all(np.isfinite(raw_b)) and np.all(np.isfinite(phys_b))
    np.testing.assert_array_equal(raw_a, raw_b)
    np.testing.assert_array_equal(phys_a, phys_b)
    # the mask half of the raw features: the visible fraction of each block
    assert raw_a[4**3:].mean() == pytest.approx(view.fraction, rel=1e-12)


def _brute_hist3(binary, mask, periodic):
    shape = binary.shape
    h = np.zeros(256, int)
    ranges = [range(n) if periodic else range(n - 1) for n in shape]
    for p in itertools.product(*ranges):
        cells = [tuple((pi + oi) % n for pi, oi, n in zip(p, ((b >> 1) & 1, b & 1, b >> 2), shape))
                 for b in range(8)]
        if all(mask[c] for c in cells):
            h[sum(int(binary[c]) << b for b, c in enumerate(cells))] += 1
    return h


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("f", [0.7, 1.0])
def test_visible_configurations_3d_brute_force(periodic, f, rng):
    binary = rng.random((5, 4, 6)) < 0.45
    mask = rng.random((5, 4, 6)) < f
    np.testing.assert_array_equal(visible_configurations(binary, mask, periodic),
                                  _brute_hist3(binary, mask, periodic))


def test_fully_visible_periodic_3d_densities_equal_minkowski(rng):
    binary = _field3d(20) > 0.5
    mask = np.ones_like(binary)
    np.testing.assert_array_equal(visible_configurations(binary, mask, True),
                                  configuration_histogram(binary))
    for conn in (6, 26):
        d = visible_minkowski_densities(binary, mask, True, spacing=2.0, connectivity=conn)
        ref = minkowski(binary, spacing=2.0, periodic=True, connectivity=conn)
        assert d["n_windows"] == binary.size
        assert d["volume_fraction"] == pytest.approx(ref["volume_density"], rel=1e-12)
        for key in ("surface_density", "mean_curvature_density", "euler_density"):
            assert d[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-15), key


def _brute_s2_3d(binary, mask, periodic, max_d):
    shape = binary.shape
    out = {}
    for disp in itertools.product(range(-max_d, max_d + 1), repeat=3):
        both = pairs = 0
        for p in itertools.product(*map(range, shape)):
            q = tuple(a + b for a, b in zip(p, disp))
            if periodic:
                q = tuple(a % n for a, n in zip(q, shape))
            elif not all(0 <= a < n for a, n in zip(q, shape)):
                continue
            if mask[p] and mask[q]:
                pairs += 1
                both += binary[p] and binary[q]
        out[disp] = (both, pairs)
    return out


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("f", [0.6, 1.0])
def test_masked_two_point_3d_brute_force(periodic, f, rng):
    """Masked S2 in 3D against pair counting; with every voxel visible it is
    the plain (unmasked) two-point probability of the phase."""
    # sides > 2 x the largest lag, so +-2 are distinct offsets on the torus
    binary = rng.random((5, 6, 7)) < 0.4
    mask = rng.random((5, 6, 7)) < f if f < 1 else np.ones((5, 6, 7), bool)
    brute = _brute_s2_3d(binary, mask, periodic, 2)
    dists = [0.0, 1.0, np.sqrt(2), np.sqrt(3), 2.0]
    edges = [-0.1, 0.5, 1.2, 1.6, 1.9, 2.1]
    s2, pairs = masked_two_point(binary, mask, periodic, edges, spacing=1.0)
    for i, dist in enumerate(dists):
        sel = [v for k, v in brute.items() if abs(np.linalg.norm(k) - dist) < 1e-9]
        both, n = sum(v[0] for v in sel), sum(v[1] for v in sel)
        assert pairs[i] == n
        assert s2[i] == pytest.approx(both / n, rel=1e-9)
        if f == 1 and periodic:  # every pair of the torus: N per displacement
            assert n == binary.size * len(sel)
