"""Tests of scattermorph.gp.emulator: design, emulator calibration, 1D Cahn-Hilliard."""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import ROOT
from scattermorph.errors import ParameterError
from scattermorph.gp import emulator as em
from scattermorph.sim.free_energy import make_model

CONFIG = yaml.safe_load((ROOT / "config/2d.yaml").read_text())  # fixed cell size dx


def test_design_is_a_seeded_latin_hypercube():
    emu = CONFIG["emulator"]
    a = em.design_table(emu, 1)
    b = em.design_table(emu, 1)
    c = em.design_table(emu, 2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["phi0"], c["phi0"])
    train = a[a["role"] == "train"]
    n = len(train)
    assert n == emu["n_train"] and (a["role"] == "test").sum() == emu["n_test"]
    # Latin hypercube: exactly one point in each of the n strata of each input
    for col in ("phi0", "quench"):
        lo, hi = emu[col]
        strata = np.floor((train[col] - lo) / (hi - lo) * n).astype(int)
        assert sorted(strata) == list(range(n))
    assert a["batch"].max() == (len(a) - 1) // emu["batch_size"]


def test_check_emulator_refuses_a_small_box():
    cfg = copy.deepcopy(CONFIG)
    cfg["emulator"]["grid"] = 32
    with pytest.raises(ParameterError, match="too small"):
        em.check_emulator(cfg)
    cfg = copy.deepcopy(CONFIG)
    cfg["emulator"]["adaptive"]["n_initial"] = cfg["emulator"]["n_train"] + 1
    with pytest.raises(ParameterError, match="n_initial"):
        em.check_emulator(cfg)


def test_cells_per_wavelength_sizes_each_emulator_run():
    """emulator.cells_per_wavelength = n: each run's cell is lambda_m / n, so
    its box holds grid / n wavelengths at every design point (the linear
    theory's lambda_m, scattermorph.sim.free_energy), and dx must then be null."""
    cfg = yaml.safe_load((ROOT / "config/tiny.yaml").read_text())
    cfg["emulator"].update(dx=None, cells_per_wavelength=8)
    em.check_emulator(cfg)
    for phi0, quench in [(0.35, 2.0), (0.5, 2.5)]:
        rec = em.emulator_record(cfg, phi0=phi0, quench=quench, index=0, sim_id="e")
        lam = make_model("flory_huggins", N=cfg["simulation"]["N"], chi=0.0, phi0=phi0)
        lam = make_model("flory_huggins", N=lam.N, chi=quench * lam.chi_s, phi0=phi0).length_scale
        assert rec.dx == pytest.approx(lam / 8, rel=1e-12)
        assert rec.shape[0] * rec.dx / lam == pytest.approx(cfg["emulator"]["grid"] / 8)
    cfg["emulator"]["dx"] = 2.0
    with pytest.raises(ParameterError, match="give exactly one"):
        em.check_emulator(cfg)


def _synthetic(rng, n_runs, n_t=5, noise=0.05):
    """Runs of a smooth synthetic simulator: L grows as t^(1/3), the other
    outputs vary smoothly; Gaussian noise of known size on each output."""
    p = rng.uniform(0.3, 0.5, n_runs)
    q = rng.uniform(1.5, 2.5, n_runs)
    t = np.geomspace(5, 40, n_t)
    P, Q, T = (np.repeat(p, n_t), np.repeat(q, n_t), np.tile(t, n_runs))
    return pd.DataFrame({
        "sim_id": np.repeat([f"s{i}" for i in range(n_runs)], n_t),
        "phi0": P, "quench": Q, "time_over_tau": T,
        "L_first_moment": 20 / Q * T ** (1 / 3) * np.exp(noise * rng.standard_normal(P.size)),
        "area_density": P + 0.1 * np.sin(6 * Q) + noise * rng.standard_normal(P.size),
    })


@pytest.mark.slow
def test_emulator_intervals_cover_held_out_runs(rng):
    # independent held-out points (one snapshot per run, so they are
    # independent): the 95 % intervals must cover a fraction inside the
    # central 99.9 % binomial band for n = 200 (a calibrated emulator fails
    # this with probability 1e-3 per output)
    train = _synthetic(rng, 25, n_t=4)
    test = _synthetic(rng, 200, n_t=1)
    model = em.EmulatorSet([[0.3, 0.5], [1.5, 2.5], [5, 40]], ["L_first_moment", "area_density"],
                           restarts=0, random_state=0).fit(train)
    pred, metrics = em.validate_emulators(model, test)
    lo, hi = em.coverage_band(200, 0.95, level=0.999)
    for _, m in metrics.iterrows():
        assert lo <= m["coverage95"] <= hi, m.to_dict()
        # the standardised errors are ~N(0, 1): sd within 25 % of 1 (the sd
        # of a sample sd of 200 normals is 5 %)
        assert 0.75 < m["z_std"] < 1.25


def test_coverage_band_is_binomial():
    lo, hi = em.coverage_band(100, 0.95, level=0.99)
    assert 0.85 < lo < 0.95 < hi <= 1.0
    assert em.coverage_band(10**6, 0.95)[0] == pytest.approx(0.95, abs=1e-3)


def test_log_outputs_must_be_positive():
    with pytest.raises(ParameterError, match="must be > 0"):
        em.EmulatorSet.transform("L_first_moment", [1.0, 0.0])


@pytest.fixture
def blend():
    base = make_model("flory_huggins", N=100.0, chi=0.0, phi0=0.5, gradient="constant")
    return make_model("flory_huggins", N=100.0, chi=1.5 * base.chi_s, phi0=0.5, gradient="constant")


def test_ch1d_conserves_mass(blend, rng):
    tau = blend.time_scale
    phi = em.solve_ch1d(blend, 128, 1.0, np.array([5, 20]) * tau, dt=0.05 * tau, rng=rng)
    # the k = 0 mode is never changed: the mean is phi0 to round-off
    assert np.allclose(phi.mean(axis=1), 0.5, atol=1e-13)
    assert phi.max() - phi.min() > 0.5  # it phase-separated


@pytest.mark.parametrize("mode", [2, 3, 5])  # k < k_c = 0.3: growing modes
def test_ch1d_linear_growth_matches_dispersion(blend, mode):
    # one small mode grows as exp(omega(k) t) with omega = -k^2 (f'' + 2 kappa
    # k^2) (Cahn 1961); IMEX Euler without stabilisation has growth factor
    # (1 + dt k^2 |f''|) / (1 + 2 dt kappa k^4) per step, whose rate differs
    # from omega by O(dt omega^2): with dt = 0.002 tau the error after 2 tau is
    # below 1 %
    n, dx = 128, 1.0
    x = np.arange(n) * dx
    k = 2 * np.pi * mode / (n * dx)
    amp = 1e-6
    phi0 = 0.5 + amp * np.cos(k * x)
    tau = blend.time_scale
    T = 2 * tau
    out = em.solve_ch1d(blend, n, dx, np.array([T]), dt=0.002 * tau, stabilization=0.0,
                        phi_init=phi0)
    measured = np.abs(np.fft.rfft(out[0] - 0.5))[mode] / (n / 2)
    expected = amp * np.exp(blend.linear_growth_rate(k**2) * T)
    assert measured == pytest.approx(expected, rel=0.01)


def test_ch1d_refuses_bad_grid(blend):
    with pytest.raises(ParameterError, match="even number"):
        em.solve_ch1d(blend, 7, 1.0, [1.0], dt=0.1, rng=np.random.default_rng(0))


def test_warm_started_refit_does_not_lower_the_likelihood(rng):
    # a sequential design refits from the previous optimum with one local
    # search; L-BFGS-B only accepts descending steps, so on the enlarged data
    # the refit's log marginal likelihood is at least that of the old
    # hyper-parameters (1e-8 relative: the optimiser's own tolerance)
    bounds = [[0.3, 0.5], [1.5, 2.5], [5, 40]]
    train = _synthetic(rng, 12, n_t=3)
    more = pd.concat([train, _synthetic(rng, 2, n_t=3)], ignore_index=True)
    first = em.EmulatorSet(bounds, ["L_first_moment"], restarts=0, random_state=0).fit(train)
    old = em.EmulatorSet(bounds, ["L_first_moment"]).fit(more, start=first)
    frozen = em.EmulatorSet(bounds, ["L_first_moment"])
    frozen.models = dict(first.models)
    frozen.fit(more, optimize=False)
    a = old.models["L_first_moment"].log_marginal_likelihood_value_
    b = frozen.models["L_first_moment"].log_marginal_likelihood_value_
    assert a >= b - 1e-8 * abs(b)
