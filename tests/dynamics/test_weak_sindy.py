"""Weak-form SINDy against independent answers: a manufactured solution of a
linear PDE in the library (no solver involved), the phi^4 Cahn-Hilliard model
run by the project's solver (exactly in the library), the blend's model, the
phi <-> 1 - phi symmetry, and the chemical potentials of the free energies."""

import numpy as np
import pytest

from scattermorph.dynamics.library import chemical_potential, conservative_library, true_coefficients
from scattermorph.dynamics.regression import block_bootstrap, stlsq
from scattermorph.dynamics.series import coarse_grain, simulate_series, subsample_times
from scattermorph.dynamics.weak import fit_weak, weak_system
from scattermorph.errors import ParameterError
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau


@pytest.fixture(scope="module")
def landau_series():
    """Noise-free phi^4 run, 64^2 cells of b, 0-40 (10 tau) in 201 snapshots."""
    model = Landau(phi0=0.5, kappa=1.0)
    times = np.linspace(0.0, 40.0, 201)
    phi = simulate_series(model, (64, 64), 1.0, times, dt=0.02, rng=np.random.default_rng(1),
                          amplitude=0.05)
    return model, phi, times


def manufactured(c1, c4, times, n=32, dx=1.0):
    """Exact solution of d_t phi = c1 lap(u) + c4 lap^2 phi: two cosines of
    wavenumbers k1 != k2, each growing at its own rate -c1 k^2 + c4 k^4."""
    x = np.arange(n) * dx
    k1, k2 = 2 * np.pi * 3 / (n * dx), 2 * np.pi * 5 / (n * dx)
    r1, r2 = -c1 * k1**2 + c4 * k1**4, -c1 * k2**2 + c4 * k2**4
    t = times[:, None, None]
    return (0.5 + 0.01 * np.exp(r1 * t) * np.cos(k1 * x)[None, :, None]
            + 0.02 * np.exp(r2 * t) * np.cos(k2 * x)[None, None, :])


def test_manufactured_linear_solution_is_recovered_exactly():
    # no solver: the only errors are the trapezoidal time integrals of smooth
    # exponentials against bumps that vanish to third order (Euler-Maclaurin),
    # ~1e-7 relative at 401 snapshots; the cubic term (zero) must be dropped
    times = np.linspace(0.0, 5.0, 401)
    phi = manufactured(-1.0, -1.0, times)
    lib = conservative_library(degree=3)
    fit = fit_weak(phi, times, 1.0, lib, window=41, k_max=1.0)
    np.testing.assert_allclose(fit.coef, [-1.0, 0.0, -1.0], atol=1e-5)
    assert fit.coef[1] == 0.0


def test_landau_model_recovered_within_one_percent(landau_series):
    # the criterion: every coefficient within 1 % noise-free; measured
    # 1e-4 (the solver's second-order time error at dt = tau / 200)
    model, phi, times = landau_series
    lib = conservative_library(degree=5)
    fit = fit_weak(phi, times, 1.0, lib)
    truth = true_coefficients(model, lib)
    assert fit.coef[truth == 0].tolist() == [0.0]
    np.testing.assert_allclose(fit.coef[truth != 0], truth[truth != 0], rtol=0.01)


def test_symmetric_library_is_equivariant_under_phase_exchange(landau_series):
    # phi -> 1 - phi maps u -> -u: every odd term flips sign with d_t phi, so
    # the coefficients are the same to round-off (an even term would flip)
    _, phi, times = landau_series
    lib = conservative_library(degree=5)
    assert all(t.odd for t in lib)
    a = fit_weak(phi[::2], times[::2], 1.0, lib, threshold=0.0).coef
    b = fit_weak(1.0 - phi[::2], times[::2], 1.0, lib, threshold=0.0).coef
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    full = conservative_library(degree=4, symmetric=False)
    assert [t.name for t in full if not t.odd] == ["lap(u^2)", "lap(u^4)"]


def test_blend_with_de_gennes_term_recovered():
    # the blend's model is in the library with the log and de Gennes terms;
    # noise-free every coefficient within 1 % (measured 1e-4)
    model = FloryHugginsDeGennes.at_quench(100, 0.5, 1.5)
    tau, dx = model.time_scale, model.length_scale / 8
    times = np.linspace(0.0, 20 * tau, 201)
    phi = simulate_series(model, (48, 48), dx, times, dt=tau / 100,
                          rng=np.random.default_rng(2), amplitude=0.01)
    lib = conservative_library(degree=3, log=True, degennes=True)
    fit = fit_weak(phi, times, dx, lib)
    truth = true_coefficients(model, lib)
    np.testing.assert_allclose(fit.coef[truth != 0], truth[truth != 0], rtol=0.01)
    assert np.all(fit.coef[truth == 0] == 0.0)


@pytest.mark.parametrize("model", [Landau(phi0=0.5, kappa=1.3),
                                   FloryHugginsDeGennes(N=50, chi=0.05, phi0=0.4)])
def test_true_coefficients_give_the_models_chemical_potential(model):
    # mu is defined up to a constant: the library's mu minus the model's
    # f'(phi) must be flat
    lib = conservative_library(degree=5, log=True, degennes=model.name != "landau")
    phi = np.linspace(0.05, 0.95, 41)
    diff = chemical_potential(lib, true_coefficients(model, lib), phi) - model.mu_bulk(phi)
    assert np.ptp(diff) < 1e-12


def test_model_outside_the_library_is_refused():
    with pytest.raises(ParameterError, match="log=True"):
        true_coefficients(FloryHugginsDeGennes(N=50, chi=0.05, phi0=0.5), conservative_library())


def test_stlsq_drops_a_small_term_and_keeps_the_rest(rng):
    theta = rng.standard_normal((200, 3))
    b = theta @ np.array([2.0, 1e-4, -1.0])
    assert stlsq(theta, b, threshold=0.01).tolist()[1] == 0.0
    np.testing.assert_allclose(stlsq(theta, b, threshold=0.0), [2.0, 1e-4, -1.0], rtol=1e-10)


def test_block_bootstrap_spread_matches_the_blocks_scatter(rng):
    # one block-level offset per block: the bootstrap sd of a mean is the
    # between-block sd / sqrt(n_blocks) (within 30 %: 400 resamples of 20 blocks)
    blocks = np.repeat(np.arange(20), 50)
    b = rng.standard_normal(20)[blocks] + 0.01 * rng.standard_normal(1000)
    boot = block_bootstrap(np.ones((1000, 1)), b, blocks, rng=rng, n_boot=400, threshold=0.0)
    expect = b.reshape(20, 50).mean(1).std(ddof=1) / np.sqrt(20)
    assert boot[:, 0].std() == pytest.approx(expect, rel=0.3)


def test_bad_inputs_name_the_value():
    phi = np.full((10, 16, 16), 0.5)
    times = np.linspace(0, 1, 10)
    with pytest.raises(ParameterError, match="k_max"):
        weak_system(phi, times, 1.0, conservative_library(), k_max=2.0)
    with pytest.raises(ParameterError, match="window"):
        weak_system(phi, times, 1.0, conservative_library(), window=3)
    with pytest.raises(ParameterError, match="increase"):
        weak_system(phi, times[::-1], 1.0, conservative_library())
    with pytest.raises(ParameterError, match="log=False"):
        weak_system(phi + 0.6, times, 1.0, conservative_library(log=True))
    with pytest.raises(ParameterError, match="divide"):
        coarse_grain(phi, 3)
    with pytest.raises(ParameterError, match="stride"):
        subsample_times(phi, times, 10)


def test_coarse_grain_averages_blocks():
    phi = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    out = coarse_grain(phi, 2)
    assert out.shape == (2, 2, 2)
    assert out[0, 0, 0] == np.mean([0, 1, 4, 5])
