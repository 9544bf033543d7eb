"""Babinet's principle: what scattering cannot tell (issue 15, item 4).

Swapping the two phases of a structure (binary image -> its complement)
leaves S(q) unchanged at every q != 0, since the indicator 1 - chi has the
Fourier transform of -chi away from q = 0. The Minkowski functionals transform
as integral geometry predicts for the complement on a periodic box (a torus,
whose own Euler characteristic is 0): volume fraction v -> 1 - v, surface
(perimeter) unchanged, integrated mean curvature changes sign (the normals
flip), and the Euler characteristic computed with the *complementary*
connectivity (foreground 8 <-> 4 in 2D, 26 <-> 6 in 3D, so that the two
phases' digital topologies are consistent) changes sign in 2D and is
unchanged in 3D. Hence the convention of the study: the functionals describe
the minority phase (phi > mean cut of a blend with phi0 < 1/2), foreground
connectivity 8 (2D) / 26 (3D); a measured curve alone cannot tell which phase
that is.
"""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from scattermorph.measure import scattering as sc
from scattermorph.measure.minkowski import minkowski


def _structure(shape, seed):
    """A periodic random two-phase structure, 30 % foreground."""
    g = gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0, mode="wrap")
    return g > np.quantile(g, 0.7)


@pytest.mark.parametrize("shape,conn,dual", [((64, 64), 8, 4), ((64, 48), 4, 8), ((24, 24, 24), 26, 6),
                                             ((20, 24, 16), 6, 26)])
def test_swapping_the_phases_keeps_s_of_q_and_transforms_the_functionals(shape, conn, dual):
    b = _structure(shape, seed=len(shape) + conn)
    edges, _ = sc.q_grid(2 * np.pi / max(shape), np.pi, 30)
    s_b, n_b = sc.radial_profile(b.astype(float), 1.0, edges)
    s_c, n_c = sc.radial_profile((~b).astype(float), 1.0, edges)
    np.testing.assert_array_equal(n_b, n_c)
    ok = n_b > 0
    # identical up to floating-point rounding of the FFT (relative 1e-12 is ~1e4 ulp)
    np.testing.assert_allclose(s_c[ok], s_b[ok], rtol=1e-12, atol=0)
    f = minkowski(b, connectivity=conn)
    c = minkowski(~b, connectivity=dual)
    if b.ndim == 2:
        assert c["area_density"] == pytest.approx(1 - f["area_density"], abs=1e-15)  # exact pixel counts
        assert c["perimeter_density"] == pytest.approx(f["perimeter_density"], rel=1e-12)  # same edges, rounding
        assert c["euler"] == -f["euler"]  # integers: exact
    else:
        assert c["volume_density"] == pytest.approx(1 - f["volume_density"], abs=1e-15)
        assert c["surface_density"] == pytest.approx(f["surface_density"], rel=1e-12)
        assert c["mean_curvature"] == pytest.approx(-f["mean_curvature"], rel=1e-12)
        assert c["euler"] == f["euler"]


def test_invariant_carries_phi_only_as_phi_times_one_minus_phi():
    """The absolute invariant of a two-phase structure (contrast 1) is
    v (1 - v): the same for v and 1 - v, so only min(v, 1 - v) is identifiable
    and d/dv vanishes at v = 1/2."""
    b = _structure((64, 64), seed=5)
    v = b.mean()
    # Parseval on the periodic grid: exact up to rounding
    assert sc.invariant(b.astype(float), 1.0) == pytest.approx(v * (1 - v), rel=1e-10)
    assert sc.invariant((~b).astype(float), 1.0) == pytest.approx(v * (1 - v), rel=1e-10)
