"""Pinhole resolution smearing (scattermorph.sas.resolution) against closed forms."""

import numpy as np
import pytest

from scattermorph.errors import ParameterError
from scattermorph.measure import scattering as sc
from scattermorph.sas.resolution import bin_edges, pinhole_weights, smear_pinhole


def _gauss(q, q0, s):
    return np.exp(-0.5 * ((q - q0) / s) ** 2) / (s * np.sqrt(2 * np.pi))


def test_gaussian_peak_convolved_with_gaussian_resolution_is_the_closed_form():
    """N(q0, s) * N(0, sigma) = N(q0, sqrt(s^2 + sigma^2)) (constant dQ, full Gaussian support)."""
    q = np.linspace(0.01, 2.0, 2000)  # step 1e-3, 30x finer than the resolution
    s, sigma, q0 = 0.05, 0.03, 1.0
    out = smear_pinhole(q, _gauss(q, q0, s), sigma, nsigma=(np.inf, np.inf))
    exact = _gauss(q, q0, np.hypot(s, sigma))
    inner = (q > 0.3) & (q < 1.7)
    # the midpoint rule with exact bin masses errs by O((step/s)^2) ~ 4e-4 of the peak
    np.testing.assert_allclose(out[inner], exact[inner], atol=2e-3 * exact.max())


def test_truncated_support_stays_close_to_the_closed_form():
    """sasmodels' support [-2.5, +3] sigma misses 0.75 % of the Gaussian mass: the peak
    height moves by less than that fraction of itself."""
    q = np.linspace(0.01, 2.0, 2000)
    s, sigma, q0 = 0.05, 0.03, 1.0
    out = smear_pinhole(q, _gauss(q, q0, s), sigma)
    exact = _gauss(q, q0, np.hypot(s, sigma))
    inner = (q > 0.3) & (q < 1.7)
    np.testing.assert_allclose(out[inner], exact[inner], atol=0.01 * exact.max())


def test_relative_resolution_on_a_log_grid_matches_direct_quadrature():
    """dQ = r q on a log grid: every point equals a fine numerical integral of
    I(q') N(q'; q, r q) over [q - 2.5 r q, q + 3 r q], renormalised."""
    q = np.geomspace(0.05, 5.0, 400)
    intensity = q**2 / (1 + (q / 0.5) ** 6)
    r = 0.1
    out = smear_pinhole(q, intensity, r * q)
    for i in (120, 200, 280):
        qi = q[i]
        qq = np.linspace(qi - 2.5 * r * qi, qi + 3 * r * qi, 20001)
        w = np.exp(-0.5 * ((qq - qi) / (r * qi)) ** 2)
        ref = np.trapezoid(np.interp(qq, q, intensity) * w, qq) / np.trapezoid(w, qq)
        # bins are 1.2 % of q wide against a 10 % resolution: rectangle rule within 1e-3
        assert abs(out[i] - ref) < 1e-3 * ref


def test_constant_stays_constant_and_nan_bins_are_skipped():
    q = np.geomspace(0.01, 1.0, 64)
    flat = np.full(q.size, 3.0)
    np.testing.assert_allclose(smear_pinhole(q, flat, 0.2 * q), 3.0, rtol=1e-13)
    flat[[5, 40]] = np.nan
    out = smear_pinhole(q, np.vstack([flat, 2 * flat]), 0.2 * q)
    assert np.isnan(out[:, [5, 40]]).all()
    np.testing.assert_allclose(out[0][np.isfinite(out[0])], 3.0, rtol=1e-13)
    np.testing.assert_allclose(out[1][np.isfinite(out[1])], 6.0, rtol=1e-13)


def test_zero_resolution_is_the_identity_and_weights_are_bin_masses():
    q = np.geomspace(0.01, 1.0, 30)
    i = q**-2
    np.testing.assert_array_equal(smear_pinhole(q, i, 0.0), i)
    W = pinhole_weights(q, 1e6, nsigma=(np.inf, np.inf))  # a Gaussian far wider than the grid
    e = bin_edges(q)
    # each weight is the Gaussian mass of its bin, which is ~ bin width / (sigma sqrt(2 pi))
    np.testing.assert_allclose(W[0], np.diff(np.maximum(e, 0)) / (1e6 * np.sqrt(2 * np.pi)), rtol=1e-6)


def test_apply_instrument_uses_the_same_smearing():
    q = np.geomspace(0.02, 1.0, 128)
    s = q**2 / (1 + (q / 0.1) ** 5)
    i_q, _ = sc.apply_instrument(q, s, resolution=0.1)
    np.testing.assert_array_equal(i_q, smear_pinhole(q, s, 0.1 * q))


@pytest.mark.parametrize("dq, match", [(-0.1, "finite and >= 0"), (np.nan, "finite and >= 0")])
def test_bad_resolution_is_refused(dq, match):
    with pytest.raises(ParameterError, match=match):
        smear_pinhole(np.linspace(1, 2, 5), np.ones(5), dq)
    with pytest.raises(ParameterError, match="strictly increasing"):
        smear_pinhole(np.array([1.0, 1.0, 2.0]), np.ones(3), 0.1)
