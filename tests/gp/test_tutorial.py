"""Tests of scattermorph.gp.tutorial: the GP tutorial maths against scikit-learn and
brute force."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.gp import tutorial as gp

DATA = Path(__file__).resolve().parents[2] / "data/treloar1944.csv"


@pytest.fixture(scope="module")
def treloar():
    return gp.load_treloar(DATA)


def test_data_file_is_the_issue_table(treloar):
    # 25 points from (1, 0) to (7.6, 64.4) kgf/cm^2, increasing, and the unit
    # conversion is the exact kgf/cm^2 -> MPa factor
    assert len(treloar) == 25
    assert treloar["stretch"].iloc[[0, -1]].tolist() == [1.0, 7.6]
    assert treloar["nominal_stress"].iloc[-1] == 64.4
    assert np.all(np.diff(treloar["nominal_stress"]) > 0)
    assert np.allclose(treloar["stress_mpa"], treloar["nominal_stress"] * 0.0980665, rtol=0, atol=0)
    head = DATA.read_text()
    assert "Trans. Faraday Soc. 40, 59-70 (1944)" in head and "kgf/cm^2" in head


def test_missing_file_and_columns(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        gp.load_treloar(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    with pytest.raises(InputFileError, match="missing column"):
        gp.load_treloar(bad)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
@pytest.mark.parametrize("ell", [0.1, 1.0, 10.0])
def test_noise_free_posterior_interpolates(treloar, n, ell):
    # noise-free: the mean equals the data and the variance vanishes at the
    # training points, up to the relative jitter 1e-10 sf2 amplified by the
    # condition number of K (the bound below: 10 x jitter x cond)
    x = treloar["stretch"].to_numpy()[::4][:n]
    y = treloar["stress_mpa"].to_numpy()[::4][:n]
    mu, var = gp.gp_posterior(x, y, x, length_scale=ell, signal_variance=1.0)
    cond = np.linalg.cond(gp.se_kernel(x, x, ell, 1.0) + 1e-10 * np.eye(n))
    tol = 10 * 1e-10 * cond
    assert np.all(np.abs(mu - y) <= tol * max(1.0, np.abs(y).max()) + 1e-12)
    assert np.all(var <= tol + 1e-12)
    # far from the data the prior returns (zero mean, variance sf2)
    mu_far, var_far = gp.gp_posterior(x, y, [x.max() + 50 * ell], length_scale=ell,
                                      signal_variance=1.0)
    assert abs(mu_far[0]) < 1e-8 and var_far[0] == pytest.approx(1.0)


def test_one_point_mean_is_the_blog_formula():
    # one point: mean = y k(x*, x) / k(x, x) exactly (the blog's first formula)
    xs = np.linspace(0, 5, 11)
    mu, var = gp.gp_posterior([2.0], [3.0], xs, length_scale=1.3, signal_variance=2.0, jitter=0)
    k = np.exp(-0.5 * ((xs - 2.0) / 1.3) ** 2)
    assert np.allclose(mu, 3.0 * k, rtol=1e-13)
    assert np.allclose(var, 2.0 * (1 - k**2), rtol=1e-12, atol=1e-14)


def test_posterior_matches_sklearn(treloar):
    x = treloar["stretch"].to_numpy()
    y, _, _ = gp.scale_output(treloar["nominal_stress"], "max")
    xs = np.linspace(0.5, 9, 50)
    mu, var = gp.gp_posterior(x, y, xs, length_scale=2.0, signal_variance=1.5,
                              noise_variance=1e-3, jitter=0)
    sk = GaussianProcessRegressor(ConstantKernel(1.5, "fixed") * RBF(2.0, "fixed"), alpha=1e-3,
                                  optimizer=None).fit(x[:, None], y)
    m2, s2 = sk.predict(xs[:, None], return_std=True)
    # same linear algebra, different order of operations: round-off level
    assert np.allclose(mu, m2, atol=1e-10)
    assert np.allclose(var, s2**2, atol=1e-10)


@pytest.mark.parametrize("ell,sf2,sn2", [(0.5, 1.0, 1e-2), (2.0, 2.7, 1e-4), (8.0, 30.0, 1e-3)])
def test_closed_form_loo_equals_brute_force(treloar, ell, sf2, sn2):
    x = treloar["stretch"].to_numpy()
    y, _, _ = gp.scale_output(treloar["nominal_stress"], "max")
    K = gp.se_kernel(x, x, ell, sf2) + sn2 * np.eye(x.size)
    cf = gp.loo_predictive(K, y)
    bf = gp.loo_brute_force(x, y, length_scale=ell, signal_variance=sf2, noise_variance=sn2)
    # round-off: condition number of K (<= sf2 n / sn2 ~ 1e6) x 1e-16 x |y|;
    # 1e-8 relative to the values' scale leaves a wide margin
    for c, b in zip(cf, bf):
        assert np.allclose(c, b, rtol=1e-7, atol=1e-8 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("ell,sf2,sn2", [(0.3, 0.5, 1e-2), (2.0, 2.7, 1e-4), (5.0, 10.0, 1e-3)])
def test_log_marginal_likelihood_equals_sklearn(treloar, ell, sf2, sn2):
    x = treloar["stretch"].to_numpy()
    y, _, _ = gp.scale_output(treloar["nominal_stress"], "standardise")
    K = gp.se_kernel(x, x, ell, sf2) + sn2 * np.eye(x.size)
    mine = gp.log_marginal_likelihood(K, y)
    kern = ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0)
    sk = GaussianProcessRegressor(kern, alpha=0.0, optimizer=None).fit(x[:, None], y)
    theirs = sk.log_marginal_likelihood(np.log([sf2, ell, sn2]))
    assert mine == pytest.approx(theirs, rel=1e-10, abs=1e-9)


def test_maps_equal_the_direct_formulas(treloar):
    # the eigen-decomposed grid reproduces the Cholesky formulas at every node
    x = treloar["stretch"].to_numpy()
    y, _, _ = gp.scale_output(treloar["nominal_stress"], "max")
    ls, sv, sn2 = np.array([0.2, 1.5, 6.0]), np.array([0.05, 1.0, 40.0]), 2e-4
    maps = gp.hyperparameter_maps(x, y, ls, sv, sn2)
    for a, ell in enumerate(ls):
        for b, s in enumerate(sv):
            Kf = gp.se_kernel(x, x, ell, s)
            K = Kf + sn2 * np.eye(x.size)
            mu, var, lp = gp.loo_predictive(K, y)
            bmu, bvar, blp = gp.loo_buggy(K, Kf, y)
            # eigh vs Cholesky: both backward stable, agree to round-off times
            # the condition number (<= 40 * 25 / 2e-4 = 5e6): 1e-6 relative
            assert maps["lml"][a, b] == pytest.approx(gp.log_marginal_likelihood(K, y), rel=1e-6)
            assert maps["loo_log_prob"][a, b] == pytest.approx(lp.mean(), rel=1e-6, abs=1e-7)
            assert maps["loo_sq_error"][a, b] == pytest.approx(((y - mu) ** 2).mean(), rel=1e-6)
            assert maps["buggy_log_prob"][a, b] == pytest.approx(blp.mean(), rel=1e-6, abs=1e-7)
            assert maps["buggy_sq_error"][a, b] == pytest.approx(((y - bmu) ** 2).mean(),
                                                                 rel=1e-5, abs=1e-14)


def test_buggy_loo_rewards_short_length_scales(treloar):
    # scoring with the full-data fit: the squared error keeps falling as the
    # length scale shrinks (no interior optimum), while the correct LOO error
    # has its minimum inside the range
    x = treloar["stretch"].to_numpy()
    y, _, _ = gp.scale_output(treloar["nominal_stress"], "max")
    ls = np.geomspace(0.1, 10, 41)
    m = gp.hyperparameter_maps(x, y, ls, np.array([1.0, 3.0, 10.0]), 1.7e-4)
    buggy = m["buggy_sq_error"].min(axis=1)
    good = m["loo_sq_error"].min(axis=1)
    assert np.argmin(buggy) == 0
    assert 0 < np.argmin(good) < ls.size - 1


def test_neo_hookean_fit_recovers_modulus(rng):
    lam = np.linspace(1, 4, 30)
    s = gp.neo_hookean(lam, 0.4) + rng.normal(0, 1e-3, lam.size)
    G, se = gp.fit_neo_hookean(lam, s)
    # noise 1e-3 over sum g^2 ~ 100: standard error ~1e-4; allow 5 se
    assert abs(G - 0.4) < 5 * se and se < 1e-3
    assert gp.neo_hookean(1.0, 2.0) == 0.0


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ParameterError, match="length_scale"):
        gp.se_kernel([1.0], [1.0], -1.0)
    with pytest.raises(ParameterError, match="noise_variance"):
        gp.hyperparameter_maps([1.0, 2.0], [0.0, 1.0], [1.0], [1.0], 0.0)
    with pytest.raises(ParameterError, match="output scaling"):
        gp.scale_output([1.0], "log")


def test_local_maxima_are_stationary_and_include_the_global_one(treloar):
    # every reported optimum is a stationary point of the likelihood (gradient
    # in log hyper-parameters below 1e-3, L-BFGS-B's projected-gradient
    # tolerance scale for a 25-point likelihood of ~50) and the best one
    # equals the multi-start fit (same optimum to 1e-3 in the likelihood)
    z, _, _ = gp.scale_output(treloar["nominal_stress"].to_numpy(), "max")
    x = treloar["stretch"].to_numpy()
    local = gp.lml_local_maxima(x, z)
    assert len(local) >= 1

    best = gp.sklearn_se_gp(x, z, restarts=8, random_state=0)
    for _, m in local.iterrows():
        k = ConstantKernel(m["signal_variance"]) * RBF(m["length_scale"]) \
            + WhiteKernel(m["noise_variance"])
        fitted = best.kernel_.clone_with_theta(k.theta)
        _, grad = best.log_marginal_likelihood(fitted.theta, eval_gradient=True)
        assert np.max(np.abs(grad)) < 1e-3 * max(1.0, abs(m["lml"])), m.to_dict()
    assert local["lml"].iloc[0] == pytest.approx(best.log_marginal_likelihood_value_, abs=1e-3)
