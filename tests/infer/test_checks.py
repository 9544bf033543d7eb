"""Does the emulator fit the curve, and is the posterior cut by the prior? (scattermorph.infer.checks)

Independent answers: the posterior predictive p-value of Gelman, Meng & Stern
against its definition by Monte Carlo (replicates drawn from the posterior),
the calibrated p-value's uniformity on curves drawn from the emulator itself
(the null it is calibrated for: a binomial band), its failure on curves of
other shapes (a power law, a one-phase Ornstein-Zernike curve), and the edge
masses of posteriors whose marginals are known in closed form.
"""

import numpy as np
import pytest
from scipy.stats import binom, chi2, kstest

from scattermorph.errors import ParameterError
from scattermorph.infer import checks
from scattermorph.infer import posterior as inf

LO, HI = np.array([0.2, 1.1, 0.5]), np.array([0.5, 1.6, 1.8])
SIGMA = 0.08  # feature noise of the synthetic family
N_GRID = 12  # the check's grid in these tests (the reference is computed on the same grid)


def family(theta):
    """Six features, a known smooth (nonlinear) function of the parameters."""
    u = (np.atleast_2d(theta) - LO) / (HI - LO)
    return np.column_stack([u[:, 0] + 0.3 * u[:, 1], np.sin(2 * u[:, 1]) - 0.2 * u[:, 2], u[:, 2] ** 2 + u[:, 0],
                            u[:, 0] * u[:, 2], 0.5 * u[:, 1] + u[:, 2], np.cos(u[:, 0] + u[:, 2])])


@pytest.fixture(scope="module")
def emulator():
    rng = np.random.default_rng(23)
    axes = [np.linspace(lo, hi, 3) for lo, hi in zip(LO, HI)]
    design = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    theta = np.repeat(design, 2, axis=0)
    groups = np.repeat(np.arange(design.shape[0]), 2)
    X = family(theta) + SIGMA * rng.standard_normal((theta.shape[0], 6))
    return inf.ScatteringEmulator(n_components=4, seed=0).fit(theta, X, groups)


def _draw_from_emulator(em, n, rng):
    """Component scores of curves the emulator predicts: theta from the prior, z ~ N(mu, diag v + N)."""
    theta = em.lo + rng.random((n, 3)) * (em.hi - em.lo)
    mean, var = em.predict(theta)
    L = np.linalg.cholesky(em.noise_cov[None] + var[:, :, None] * np.eye(em.k)[None])
    return mean + np.einsum("dij,dj->di", L, rng.standard_normal(mean.shape))


def test_gms_p_value_equals_its_monte_carlo_definition(emulator):
    """p = Pr(D(z_rep, theta) >= D(z, theta) | z), theta from the grid posterior, z_rep from the model."""
    em, rng = emulator, np.random.default_rng(5)
    grid = checks.GridGaussian(em, N_GRID)
    z = em.transform(family([0.3, 1.3, 1.0]) + 2 * SIGMA * rng.standard_normal(6))[0]  # a mediocre fit
    p, _ = grid.gms_p_value(z)
    D = grid.discrepancy(z)
    ll = -0.5 * (D + grid.logdet)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    n = 40_000
    cell = rng.choice(w.size, size=n, p=w)
    L = np.linalg.inv(grid.inv_chol[cell])
    z_rep = grid.mean[cell] + np.einsum("dij,dj->di", L, rng.standard_normal((n, em.k)))
    a = np.einsum("dij,dj->di", grid.inv_chol[cell], z_rep - grid.mean[cell])
    mc = np.mean(np.sum(a ** 2, axis=1) >= D[cell])
    assert 0.01 < p < 0.99  # a case where both tails matter
    assert abs(mc - p) < 4 * np.sqrt(p * (1 - p) / n)  # Monte Carlo error of n Bernoulli draws


def test_calibrated_p_is_uniform_on_curves_from_the_emulator(emulator):
    em, rng = emulator, np.random.default_rng(11)
    M, n = 400, 300
    ref = checks.ppc_reference(em, n_draws=M, n_grid=N_GRID, seed=1)
    grid = checks.GridGaussian(em, N_GRID)
    p = np.array([checks.posterior_predictive_check(grid, z, ref)["p_value"]
                  for z in _draw_from_emulator(em, n, rng)])
    for alpha in (0.05, 0.2, 0.5):
        # the fraction below alpha: binomial over the n test draws plus the reference's own
        # sampling error (all test draws share it); 4 standard deviations
        sd = np.sqrt(alpha * (1 - alpha) * (1 / n + 1 / M))
        assert abs(np.mean(p < alpha) - alpha) < 4 * sd + 1 / (M + 1), alpha
    assert kstest(p, "uniform").pvalue > 1e-3
    # the uncalibrated p_GMS is conservative (the data are used twice): far fewer below 0.05 than 5 %
    p_gms = np.array([grid.gms_p_value(z)[0] for z in _draw_from_emulator(em, n, rng)])
    assert np.mean(p_gms < 0.05) < binom.ppf(0.001, n, 0.05) / n


def test_check_fails_curves_the_emulator_cannot_make(emulator):
    em = emulator
    ref = checks.ppc_reference(em, n_draws=200, n_grid=N_GRID, seed=2)
    grid = checks.GridGaussian(em, N_GRID)
    good = checks.posterior_predictive_check(grid, em.transform(family([0.35, 1.35, 1.1]))[0], ref)
    bad = checks.posterior_predictive_check(grid, em.transform(-family([0.35, 1.35, 1.1]))[0], ref)
    assert good["passed"] and good["p_value"] > 0.1
    assert not bad["passed"] and bad["p_value"] == pytest.approx(1 / 201)  # the smallest p 200 draws resolve
    assert bad["p_gms"] < 1e-6 and bad["chi2_mode"] > chi2.isf(1e-6, em.k)


def _post(marginals, lo=LO, hi=HI):
    """A grid posterior whose weights are the outer product of three marginals (cell masses)."""
    w = np.einsum("i,j,k->ijk", *[np.asarray(m, float) / np.sum(m) for m in marginals])
    return {"weights": w, "lo": np.asarray(lo, float), "hi": np.asarray(hi, float)}


def test_edge_masses_closed_form_and_warnings():
    n = 40
    flat = np.ones(n)
    m = checks.edge_masses(_post([flat, flat, flat]))
    for name in inf.PARAMS:  # uniform: exactly 5 % in each outer 5 % (two cells of 40)
        assert m[name]["lower"] == pytest.approx(0.05) and m[name]["upper"] == pytest.approx(0.05)
    piled = np.exp(np.arange(n) / 2.0)  # grows toward the upper edge: 1 - e^(-1) of the mass in the last 2 cells
    interior = np.exp(-0.5 * ((np.arange(n) - 20) / 2.0) ** 2)
    masses, lines = checks.edge_warnings(_post([piled, interior, flat]))
    assert masses["phi0"]["upper"] == pytest.approx(1 - np.exp(-1), rel=0.02)
    assert masses["phi0"]["warned"] == "upper" and masses["quench"]["warned"] is None
    assert masses["log10_t"]["warned"] is None
    assert len(lines) == 1 and lines[0].startswith("phi0:") and "upper 5 %" in lines[0] and "0.5" in lines[0]
    _, lines = checks.edge_warnings(_post([interior, interior, piled[::-1]]))
    assert len(lines) == 1 and lines[0].startswith("log10 t/tau:") and "lower" in lines[0]
    # a parameter with one value in the box (fixed) is not checked
    fixed_hi = HI.copy()
    fixed_hi[1] = LO[1]
    assert "quench" not in checks.edge_masses(_post([flat, np.ones(1), flat], hi=fixed_hi))
    with pytest.raises(ParameterError, match="edge band"):
        checks.edge_masses(_post([flat, flat, flat]), band=0.6)


def test_reference_needs_draws(emulator):
    with pytest.raises(ParameterError, match="at least 20"):
        checks.ppc_reference(emulator, n_draws=5)
