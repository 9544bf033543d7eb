"""Forecasters: the discovered-equation integrator against the project's
solver, exact mass conservation, the Fourier operator on a known linear
system, and the trajectory errors."""

import numpy as np
import pytest

from scattermorph.dynamics.forecast import fit_fourier_operator, integrate_fit, linear_forecast, trajectory_errors
from scattermorph.dynamics.library import conservative_library, true_coefficients
from scattermorph.dynamics.series import simulate_series
from scattermorph.dynamics.strong import fd_laplacian, strong_terms
from scattermorph.dynamics.weak import Fit
from scattermorph.errors import ParameterError
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau


@pytest.mark.parametrize("model", [Landau(phi0=0.5, kappa=1.0),
                                   FloryHugginsDeGennes.at_quench(100, 0.5, 1.5)])
def test_integrator_at_true_coefficients_reproduces_the_projects_solver(model):
    # both second order in time at dt = tau / 200; measured max difference
    # 1e-4 after 10 tau (the field's amplitude is ~0.3); tolerance 2e-3
    tau = model.time_scale
    dx = 1.0 if model.name == "landau" else model.length_scale / 8
    times = np.linspace(0.0, 10 * tau, 6)
    phi = simulate_series(model, (32, 32), dx, times, dt=tau / 200, rng=np.random.default_rng(3),
                          amplitude=0.05 if model.name == "landau" else 0.01)
    lib = conservative_library(degree=3, log=model.name != "landau",
                               degennes=model.name != "landau")
    pred = integrate_fit(Fit(lib, true_coefficients(model, lib)), phi[0], dx, times, dt=tau / 200)
    assert phi[-1].std() > 0.1
    assert np.abs(pred - phi).max() < 2e-3


def test_conservative_model_conserves_mass_exactly(rng):
    # any coefficients: every term is a Laplacian, so the k = 0 mode never changes
    lib = conservative_library(degree=5)
    fit = Fit(lib, np.array([-0.7, 3.1, 1.5, -0.8]))
    phi0 = 0.45 + 0.05 * rng.standard_normal((32, 32))
    out = integrate_fit(fit, phi0, 1.0, np.linspace(0, 20, 5), dt=0.05)
    assert np.all(np.isfinite(out))
    assert np.abs(out.mean(axis=(1, 2)) - phi0.mean()).max() < 1e-12


def test_fourier_operator_recovers_known_rates():
    # data made by the linear forecaster with known per-shell rates
    rng = np.random.default_rng(4)
    edges = np.linspace(0.3, np.pi, 9)  # the first shell above k = 0, the mean
    rate = np.linspace(0.3, -0.5, 8)
    times = np.linspace(0, 2, 5)
    runs = [linear_forecast(0.5 + 0.01 * rng.standard_normal((16, 16)), 1.0, times, edges, rate)
            for _ in range(2)]
    np.testing.assert_allclose(fit_fourier_operator(runs, times, 1.0, edges), rate, atol=1e-9)


def test_trajectory_errors_of_the_truth_are_zero_and_of_a_doubled_field_three():
    rng = np.random.default_rng(5)
    true = 0.5 + 0.1 * rng.standard_normal((3, 16, 16))
    edges = np.linspace(0, np.pi, 6)
    err = trajectory_errors(true, true, 1.0, edges)
    assert all(np.all(v == 0) for v in err.values())
    # S(q) of 2 (phi - 0.5) is 4 S(q): relative error 3; the cut at the mean
    # (and so every functional) is unchanged
    err = trajectory_errors(0.5 + 2 * (true - 0.5), true, 1.0, edges)
    np.testing.assert_allclose(err["sq"], 3.0, rtol=1e-10)
    assert np.all(err["euler"] == 0)
    with pytest.raises(ParameterError, match="shape"):
        trajectory_errors(true[:2], true, 1.0, edges)


def test_blown_up_forecast_is_nan_not_an_error():
    # an anti-diffusive fourth-order term blows up; the errors are NaN from then
    fit = Fit(conservative_library(degree=1), np.array([-1.0, 5.0]))
    out = integrate_fit(fit, 0.5 + 0.01 * np.cos(np.arange(16) * 2.5)[None, :] * np.ones((16, 1)),
                        1.0, np.linspace(0, 200, 5), dt=0.1)
    assert np.isnan(out[-1]).all()


def test_strong_form_terms_have_the_stencils_symbol():
    # the 5-point Laplacian of cos(k x) is -(2 sin(k dx / 2) / dx)^2 cos(k x)
    n, dx = 32, 0.5
    k = 2 * np.pi * 3 / (n * dx)
    phi = np.cos(k * np.arange(n) * dx)[None, :] * np.ones((n, 1))
    expect = -(2 * np.sin(k * dx / 2) / dx) ** 2 * phi
    np.testing.assert_allclose(fd_laplacian(phi, dx, (0, 1)), expect, atol=1e-12)
    np.testing.assert_allclose(strong_terms(phi, dx)[4], expect, atol=1e-12)


def test_linear_forecast_with_the_closed_form_rate_follows_the_linearised_solver():
    # amplitude 1e-6: the nonlinear terms are 1e-12 of the linear ones for 2 tau,
    # so the project's solver and exp(omega(k) t) agree to its time error
    model = FloryHugginsDeGennes.at_quench(100, 0.5, 1.5)
    tau, dx = model.time_scale, model.length_scale / 8
    times = np.linspace(0.0, 2 * tau, 3)
    phi = simulate_series(model, (32, 32), dx, times, dt=tau / 400, rng=np.random.default_rng(6),
                          amplitude=1e-6)
    pred = linear_forecast(phi[0], dx, times, np.linspace(0, np.pi / dx, 17), model.linear_growth_rate)
    amp = np.abs(phi[-1] - 0.5).max()
    assert np.abs(pred[-1] - phi[-1]).max() < 1e-3 * amp
