"""Bayesian calibration through the emulator (scattermorph.infer.posterior, scattermorph infer).

Independent answers only: a synthetic family whose features are a known smooth
function of the parameters (the posterior must recover the truth and its 90 %
intervals must cover ~90 % of draws from the prior, within a binomial band),
the grid posterior against a brute-force Bayes computation with scipy's
multivariate normal, the summaries of a flat posterior against their closed
forms, and the CLI's refusal of bad input.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, kstest, multivariate_normal

from scattermorph.cli import main
from scattermorph.errors import ParameterError
from scattermorph.infer import posterior as inf
from scattermorph.learn.features import window_curve

LO, HI = np.array([0.2, 1.1, 0.5]), np.array([0.5, 1.6, 1.8])
SIGMA = 0.08  # feature noise of the synthetic family


def family(theta):
    """Six features, a known smooth (nonlinear) function of the parameters."""
    u = (np.atleast_2d(theta) - LO) / (HI - LO)
    return np.column_stack([u[:, 0] + 0.3 * u[:, 1], np.sin(2 * u[:, 1]) - 0.2 * u[:, 2], u[:, 2] ** 2 + u[:, 0],
                            u[:, 0] * u[:, 2], 0.5 * u[:, 1] + u[:, 2], np.cos(u[:, 0] + u[:, 2])])


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(17)
    axes = [np.linspace(lo, hi, 5) for lo, hi in zip(LO, HI)]
    design = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    theta = np.repeat(design, 2, axis=0)  # two replicates per design point
    groups = np.repeat(np.arange(design.shape[0]), 2)
    X = family(theta) + SIGMA * rng.standard_normal((theta.shape[0], 6))
    em = inf.ScatteringEmulator(n_components=6, seed=0).fit(theta, X, groups)
    return em, rng


def test_replicate_noise_recovered(synthetic):
    em, _ = synthetic
    # PCA is orthonormal: white feature noise sigma^2 I stays sigma^2 I in component space
    assert np.allclose(np.diag(em.noise_cov), SIGMA ** 2, rtol=0.35)
    assert em.noise_dof == 125


def test_pooled_covariance_by_hand():
    Z = np.array([[1.0, 0.0], [3.0, 2.0], [10.0, 10.0], [10.0, 12.0], [10.0, 14.0], [7.0, 7.0]])
    cov, dof = inf.pooled_covariance(Z, [0, 0, 1, 1, 1, 2])  # the single row of group 2 is ignored
    # group 0: deviations (-1,-1), (1,1); group 1: (0,-2), (0,0), (0,2); dof = 1 + 2
    assert dof == 3
    assert np.allclose(cov, np.array([[2.0, 2.0], [2.0, 10.0]]) / 3)
    with pytest.raises(ParameterError, match="no replicate"):
        inf.pooled_covariance(Z[:2], [0, 1])


def test_grid_posterior_equals_brute_force_bayes(synthetic):
    em, rng = synthetic
    truth = np.array([0.3, 1.3, 1.0])
    z = em.transform(family(truth) + SIGMA * rng.standard_normal(6))[0]
    post = inf.grid_posterior(lambda th: em.loglike(z, th), em.lo, em.hi, n=4)
    axes = inf.grid_axes(em.lo, em.hi, 4)
    brute = np.empty((4, 4, 4))
    for i, a in enumerate(axes[0]):
        for j, b in enumerate(axes[1]):
            for k, c in enumerate(axes[2]):
                m, v = em.predict(np.array([[a, b, c]]))
                brute[i, j, k] = multivariate_normal(m[0], em.noise_cov + np.diag(v[0])).pdf(z)  # x uniform prior
    brute /= brute.sum()
    assert np.allclose(post["weights"], brute, rtol=1e-8, atol=1e-12)


def test_flat_posterior_summaries_closed_form():
    n = 20
    post = inf.grid_posterior(lambda th: np.zeros(th.shape[0]), LO, HI, n=n)
    s = inf.summarise_posterior(post, 0.9, truth=LO + 0.01 * (HI - LO))
    for j, name in enumerate(inf.PARAMS):
        r = s["params"][name]
        w = HI[j] - LO[j]
        assert np.isclose(r["mean"], (LO[j] + HI[j]) / 2)
        assert np.allclose(r["central"], [LO[j] + 0.05 * w, HI[j] - 0.05 * w])
        assert np.isclose(r["width_ratio"], 0.9)
        assert np.isclose(r["sd_ratio"], np.sqrt(1 - 1 / n ** 2))  # cell centres: discrete uniform
        assert np.isclose(r["quantile"], 0.01)  # the CDF of a uniform density
        assert not r["covered_central"]
    assert np.allclose(s["correlation"], np.eye(3), atol=1e-12)


def test_posterior_recovers_truth_and_covers_ninety_percent(synthetic):
    em, rng = synthetic
    n = 60
    truths = LO + (HI - LO) * rng.random((n, 3))  # draws from the prior: SBC's premise
    X = family(truths) + SIGMA * rng.standard_normal((n, 6))
    cal = inf.calibrate(em, truths, X, n_grid=32)
    summary = inf.calibration_summary(cal).set_index("parameter")
    lo, hi = binom.ppf(0.005, n, 0.9) / n, binom.ppf(0.995, n, 0.9) / n  # 99 % band of n independent intervals
    for name in inf.PARAMS:
        assert lo <= summary.loc[name, "coverage_central"] <= hi, (name, summary.loc[name].to_dict())
        assert lo <= summary.loc[name, "coverage_hpd"] <= hi, (name, summary.loc[name].to_dict())
        # the curve pins the parameter down: posterior well inside the prior, mean near the truth
        assert summary.loc[name, "width_ratio"] < 0.6
        assert summary.loc[name, "rms_error"] < 0.2 * (HI - LO)[inf.PARAMS.index(name)]
    # ranks of the truth (posterior quantiles) look uniform: Kolmogorov-Smirnov at 1 %
    for name in inf.PARAMS:
        assert kstest(cal[f"{name}_quantile"], "uniform").pvalue > 0.01


def test_effective_size_recovers_known_intra_cluster_correlation():
    """Kish's n_eff = n / (1 + (m - 1) rho) with rho the one-way ANOVA
    intra-class correlation. Oracle: values a_g + e with var(a) = 1 and
    var(e) = 3 have rho = 1 / 4 exactly; 400 clusters of 10 estimate it to
    about +-0.03 (the ANOVA estimator's sd ~ (1 - rho)(1 + (m-1) rho) sqrt(2 / (m (m-1) g))),
    so +-0.1 never fails by chance. Independent values give rho ~ 0, n_eff ~ n;
    identical values within a cluster give rho = 1, n_eff = number of clusters."""
    rng = np.random.default_rng(5)
    g, m = 400, 10
    clusters = np.repeat(np.arange(g), m)
    v = np.repeat(rng.standard_normal(g), m) + np.sqrt(3) * rng.standard_normal(g * m)
    n_eff, rho = inf.effective_size(v, clusters)
    assert rho == pytest.approx(0.25, abs=0.1)
    assert n_eff == pytest.approx(g * m / (1 + (m - 1) * rho))
    n_eff, rho = inf.effective_size(rng.standard_normal(g * m), clusters)
    assert rho < 0.05 and n_eff > 0.7 * g * m
    n_eff, rho = inf.effective_size(np.repeat(rng.standard_normal(g), m), clusters)
    assert rho == 1.0 and n_eff == pytest.approx(g)
    # every value its own cluster: nothing to correct
    assert inf.effective_size(v[:50], np.arange(50)) == (50.0, 0.0)


def test_calibration_summary_bands_widen_with_clustered_rows(synthetic):
    """With a run column the summary judges coverage by the effective sample
    size: rows copied 6 times within a run carry the information of one row,
    so n_eff equals the number of runs and the band is that of the runs."""
    em, rng = synthetic
    truths = LO + (HI - LO) * rng.random((30, 3))
    X = family(truths) + SIGMA * rng.standard_normal((30, 6))
    cal = inf.calibrate(em, np.repeat(truths, 6, axis=0), np.repeat(X, 6, axis=0), n_grid=16,
                        runs=np.repeat(np.arange(30), 6))
    s = inf.calibration_summary(cal).set_index("parameter")
    for name in inf.PARAMS:
        assert s.loc[name, "n"] == 180 and s.loc[name, "n_eff"] == pytest.approx(30)
        assert s.loc[name, "band_eff_lo"] == binom.ppf(0.025, 30, 0.9) / 30
        assert s.loc[name, "band_eff_lo"] < s.loc[name, "band_lo"]


def test_validate_emulator_on_held_out_draws(synthetic):
    em, rng = synthetic
    theta = LO + (HI - LO) * rng.random((80, 3))
    X = family(theta) + SIGMA * rng.standard_normal((80, 6))
    v = inf.validate_emulator(em, theta, X)
    assert v["n"] == 80 and 0.8 <= v["coverage"] <= 0.98
    assert v["rms_log10"] < 2 * SIGMA


# --------------------------------------------------------------------------
# a tiny synthetic study on disk, for the study loader and the CLI
# --------------------------------------------------------------------------
def _curve(q, phi0, quench, t):
    """A peaked S(q): q1 shrinks with t, the peak sharpens with phi0 and quench."""
    q1 = 0.3 * t ** (-1 / 3)
    x = q / q1
    g = 3 + 4 * phi0 + 2 * (quench - 1)
    return x ** 2 / (1 + 0.5 * x ** (2 + g)) / q1 ** 3


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("study")
    q = np.logspace(-2.3, 0.3, 96)
    rows, curves = [], []
    for phi0 in (0.2, 0.3, 0.4, 0.5):
        for quench in (1.15, 1.5):
            for rep in range(2):
                for t in np.geomspace(5, 60, 5):
                    s = _curve(q, phi0, quench, t) * np.exp(0.02 * rng.standard_normal(q.size))
                    q1 = 0.3 * t ** (-1 / 3)
                    rows.append(dict(sim_id=f"p{phi0}_q{quench}_r{rep}", phi0=phi0, quench=quench,
                                     time_over_tau=t, dimension=3, volume_density=phi0,
                                     surface_density=2.0 * q1, mean_curvature_density=0.1 * q1 ** 2,
                                     euler_density=-0.01 * q1 ** 3 * (1 + phi0)))
                    curves.append(s)
    pd.DataFrame(rows).to_csv(d / "dataset.csv", index=False)
    np.savez(d / "dataset_sq.npz", q=q, s_q=np.array(curves))
    curve = d / "curve.txt"  # phi0 0.3, quench 1.15, t 10, q in 1/nm = 10 x 1/A... any unit: scale-free
    np.savetxt(curve, np.column_stack([q * 7.0, 123.0 * _curve(q, 0.3, 1.15, 10.0)]))
    return d, curve


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_cli_end_to_end(study, tmp_path, capsys):
    d, curve = study
    out_json, out_png = tmp_path / "post.json", tmp_path / "post.png"
    # the synthetic curve has no background: given as 0, so the q1 compared below is the curve's own
    code, out, err = run(capsys, "infer", curve, "--study", d, "--q-unit", "1/nm", "--json", out_json,
                         "--plot", out_png, "--cache-dir", tmp_path / "cache", "--grid", "24", "--background", "0")
    assert code == 0, err
    assert "phi0" in out and "chi/chi_s" in out and "2 pi / q1" in out
    doc = json.loads(out_json.read_text())
    p = doc["posterior"]["params"]
    assert p["phi0"]["hpd"][0] <= 0.3 <= p["phi0"]["hpd"][1]
    assert p["log10_t"]["hpd"][0] <= 1.0 <= p["log10_t"]["hpd"][1]
    # the length scale is read in the curve's own unit: 7 x the windowed q1 of the same curve in 1/b
    q = np.logspace(-2.3, 0.3, 96)
    q1_b = window_curve(q, _curve(q, 0.3, 1.15, 10.0), 3, (0.3, 3.0))[2]
    assert doc["q1"] == pytest.approx(7.0 * q1_b, rel=1e-6)
    assert doc["length_2pi_over_q1"] == pytest.approx(2 * np.pi / doc["q1"])
    # implied densities: the truth's (volume = phi0, surface = 2 x 0.3 t^(-1/3) in 1/b), in the curve's unit
    f = doc["functionals"]
    assert abs(f["volume_density"]["mean"] - 0.3) < 3 * f["volume_density"]["std"] + 0.03
    assert f["surface_density"]["mean"] == pytest.approx(7.0 * 2.0 * 0.3 * 10.0 ** (-1 / 3), rel=0.05)
    assert out_png.stat().st_size > 10_000
    # second run: the cached hyper-parameters are used, the answer is the same
    code, out2, _ = run(capsys, "infer", curve, "--study", d, "--q-unit", "1/nm",
                        "--cache-dir", tmp_path / "cache", "--grid", "24", "--background", "0")
    assert code == 0 and out2 == out
    assert len(list((tmp_path / "cache").glob("inference_*.json"))) == 1


@pytest.mark.parametrize("content,match", [
    ("", "the file is empty"),
    ("q I\n1 2\n3 x\n", r"line 3, column 2: 'x' is not a number"),
])
def test_infer_bad_curve_exit_2_nothing_written(study, tmp_path, capsys, content, match):
    d, _ = study
    bad = tmp_path / "bad.dat"
    bad.write_text(content)
    out_json = tmp_path / "o.json"
    code, out, err = run(capsys, "infer", bad, "--study", d, "--json", out_json, "--cache-dir", tmp_path)
    assert code == 2 and out == "" and not out_json.exists()
    assert err.startswith("scattermorph infer: error:") and re.search(match, err)


def test_infer_missing_study_exit_2(study, tmp_path, capsys):
    _, curve = study
    code, out, err = run(capsys, "infer", curve, "--study", tmp_path / "nowhere", "--q-unit", "1/nm")
    assert code == 2 and out == "" and "dataset.csv: no such file" in err
