"""The joint posterior of a time series of curves (scattermorph.infer.series, ``infer`` with several curves).

Independent answers: the ``timed`` posterior against a brute-force Bayes
computation (scipy's multivariate normal of all the curves' components
stacked, with the cross-curve covariance written out), the ``free``
posterior against per-curve sums done by hand, the leave-one-run-out
residuals against refitted GPs, the correlation's positive-definite repair,
and a series that must cover the truth with a narrower interval than one curve.
"""

import json

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.gaussian_process import GaussianProcessRegressor

from scattermorph.cli import main
from scattermorph.errors import ParameterError
from scattermorph.infer import posterior as inf
from scattermorph.infer import series as ser

LO, HI = np.array([0.2, 1.1, 0.5]), np.array([0.5, 1.6, 1.8])
SIGMA = 0.05


def family(theta):
    """Five features, a smooth function of the parameters in which the quench acts only through time."""
    u = (np.atleast_2d(theta) - LO) / (HI - LO)
    rate = 0.5 + u[:, 1]
    return np.column_stack([u[:, 0] + 0.2 * u[:, 2], np.tanh(rate * u[:, 2]), u[:, 0] * u[:, 2],
                            np.sin(rate * u[:, 2] + u[:, 0]), 0.3 * u[:, 1] + u[:, 2] ** 2])


@pytest.fixture(scope="module")
def emulator():
    """Runs of 6 snapshots each (rows in run order, age increasing), two replicates per (phi0, quench)."""
    rng = np.random.default_rng(5)
    rows, groups = [], []
    for i, (p, c) in enumerate([(p, c) for p in np.linspace(0.2, 0.5, 4) for c in np.linspace(1.1, 1.6, 3)]):
        for rep in range(2):
            for j, t in enumerate(np.linspace(0.5, 1.8, 6)):
                rows.append((p, c, t))
                groups.append(i * 6 + j)
    theta = np.array(rows)
    X = family(theta) + SIGMA * rng.standard_normal((theta.shape[0], 5))
    return inf.ScatteringEmulator(n_components=5, seed=0).fit(theta, X, groups), rng


def test_training_runs_from_row_order():
    theta = np.array([[0.2, 1.1, 0.5], [0.2, 1.1, 0.7], [0.2, 1.1, 0.5], [0.3, 1.1, 0.9], [0.3, 1.2, 1.0]])
    assert ser.training_runs(theta).tolist() == [0, 0, 1, 2, 3]


def test_loro_residuals_equal_refitted_gps(emulator):
    # the closed form against leaving each run out and refitting with the same kernel
    em, _ = emulator
    runs = ser.training_runs(em.theta_train)
    U, z = em.box(em.theta_train), em.transform(em.X_train)[:, 0]
    gp = em.gps[0]
    fast = ser._loro_standardised(gp, U, z, runs)
    out = runs == 3
    ref = GaussianProcessRegressor(gp.kernel_, alpha=gp.alpha, normalize_y=False, optimizer=None)
    yn = (z - gp._y_train_mean) / gp._y_train_std
    m, sd = ref.fit(U[~out], yn[~out]).predict(U[out], return_std=True)
    np.testing.assert_allclose(fast[out], (yn[out] - m) / np.sqrt(sd ** 2 + gp.alpha), rtol=1e-6, atol=1e-8)


def test_correlation_matrices_are_positive_definite_correlations():
    # component 1: a triangle, 1 -> 0.5 -> 0 over 0.2 decades (a valid correlation in 1D): interpolated
    # linearly and left as it is; component 0 (0.99 then -0.9) is none: repaired to the nearest valid one
    corr = {"lags": np.array([0.0, 0.1, 0.2]), "correlation": np.array([[1.0, 1.0], [0.99, 0.5], [-0.9, 0.0]])}
    R = ser.correlation_matrices(np.linspace(0, 0.4, 9), corr)
    assert R.shape == (2, 9, 9)
    np.testing.assert_allclose(np.diagonal(R, axis1=1, axis2=2), 1.0, rtol=1e-12)
    assert np.linalg.eigvalsh(R).min() > 0
    assert R[1, 0, 1] == pytest.approx(0.75, rel=1e-9) and R[1, 0, 3] == pytest.approx(0.25, rel=1e-9)
    assert abs(R[1, 0, 8]) < 1e-12


def test_timed_posterior_equals_brute_force_bayes(emulator):
    em, rng = emulator
    grid = ser.SeriesGrid(em, 4, refine=128)  # a fine time axis: interpolation error far below the tolerance
    times = np.array([1.0, 2.0, 4.0])
    d = np.log10(times)
    truth = np.array([0.3, 1.3, 0.8])
    Z = em.transform(family(truth + np.outer(d, [0, 0, 1])) + SIGMA * rng.standard_normal((3, 5)))
    res = ser.series_posterior(grid, Z, times=times)
    post = res["grid"]
    Rinv, _ = grid.inverse_correlation(d)
    R = np.linalg.inv(Rinv)  # per component, the curves' correlation
    brute = np.empty((4, 4, 4))
    for idx in np.ndindex(4, 4, 4):
        th = np.array([post["axes"][k][i] for k, i in enumerate(idx)])
        m, v = em.predict(th[None] + np.outer(d, [0, 0, 1]))
        L = [np.linalg.cholesky(em.noise_cov + np.diag(vi)) for vi in v]
        cov = np.block([[L[i] @ np.diag(R[:, i, j]) @ L[j].T for j in range(3)] for i in range(3)])
        brute[idx] = multivariate_normal(m.ravel(), cov).logpdf(Z.ravel())
    brute = np.exp(brute - brute.max())
    brute /= brute.sum()
    assert np.allclose(post["weights"], brute, rtol=2e-3, atol=1e-6)
    assert res["mode"] == "timed" and res["ages"][2]["median"] == pytest.approx(res["ages"][0]["median"] + d[2])


def test_free_posterior_is_the_product_of_age_averaged_likelihoods(emulator):
    em, rng = emulator
    grid = ser.SeriesGrid(em, 6, correlated=False)
    Z = em.transform(family(np.array([[0.3, 1.3, 0.8], [0.3, 1.3, 1.2]])) + SIGMA * rng.standard_normal((2, 5)))
    one = ser.series_posterior(grid, Z[:1])["grid"]["weights"]
    alone = inf.grid_posterior(lambda th: em.loglike(Z[0], th), em.lo, em.hi, 6)["weights"]
    np.testing.assert_allclose(one, alone, rtol=1e-10, atol=1e-14)  # one curve: the single-curve posterior
    both = ser.series_posterior(grid, Z)["grid"]["weights"]
    l0, l1 = (np.exp(em.loglike(z, grid.mesh)).reshape(6, 6, 6) for z in Z)
    by_hand = l0 * l1.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(both, by_hand / by_hand.sum(), rtol=1e-8, atol=1e-14)


def test_a_series_narrows_the_quench_and_covers_it(emulator):
    # the quench acts through the rate of change: one curve leaves it open,
    # five dated curves pin it; both 90 % intervals cover the truth
    em, rng = emulator
    grid = ser.SeriesGrid(em, 16)
    truth = np.array([0.35, 1.4, 0.7])
    times = np.array([1.0, 1.6, 2.5, 4.0, 6.3])
    X = family(truth + np.outer(np.log10(times), [0, 0, 1])) + SIGMA * rng.standard_normal((5, 5))
    Z = em.transform(X)
    single = ser.series_posterior(grid, Z[:1], truth=truth)["posterior"]["params"]["quench"]
    timed = ser.series_posterior(grid, Z, times=times, truth=truth)["posterior"]["params"]["quench"]
    assert timed["covered_hpd"]
    assert timed["width_ratio"] < 0.6 * single["width_ratio"]


def test_series_refusals(emulator):
    em, _ = emulator
    grid = ser.SeriesGrid(em, 4, correlated=False)
    with pytest.raises(ParameterError, match="spans 2 decades"):
        ser.series_posterior(grid, np.zeros((2, em.k)), times=[1.0, 100.0])
    with pytest.raises(ParameterError, match="time since the quench"):
        ser.series_posterior(grid, np.zeros((2, em.k)), times=[0.0, 1.0])
    with pytest.raises(ParameterError, match="2 time stamps for 3 curves"):
        ser.series_posterior(grid, np.zeros((3, em.k)), times=[1.0, 2.0])


@pytest.mark.slow
def test_infer_cli_on_a_folder_of_dated_curves(tmp_path, capsys):
    # four snapshots of one run of the study (phi0 0.3, chi/chi_s 1.5; the shipped model's training
    # curves, in the shipped emulator's row order) stamped in seconds with tau = 3 s: the joint
    # posterior in the JSON ties their ages by the stamps and its intervals hold the run's parameters
    from scattermorph.infer.emulatorfile import load_shipped_emulator
    from scattermorph.predict.modelfile import load_shipped_model

    model, _ = load_shipped_model()
    cal, _ = load_shipped_emulator()
    rows = np.arange(20 * 12, 21 * 12)[[2, 4, 6, 8]]
    truth = cal.emulator.theta_train[rows]
    assert np.all(truth[:, :2] == [0.3, 1.5])
    folder = tmp_path / "series"
    folder.mkdir()
    q = model.curves["q"]
    for r, (_, _, log_t) in zip(rows, truth):
        s = model.curves["s_q"][r]
        ok = np.isfinite(s) & (s > 0)
        np.savetxt(folder / f"frame_t{3 * 10 ** log_t:.6g}.dat", np.column_stack([q[ok], s[ok]]))
    out = tmp_path / "series.json"
    code = main(["infer", str(folder), "--q-unit", "1/b", "--background", "0", "--grid", "12", "--json", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 3), err
    doc = json.loads(out.read_text())
    assert doc["mode"] == "timed" and doc["n_curves"] == 4 and doc["correlated"]
    np.testing.assert_allclose(np.log10(np.array(doc["times"]) / 3), truth[:, 2], atol=1e-5)
    p = doc["posterior"]["params"]
    for j, name in enumerate(("phi0", "quench", "log10_t")):
        assert p[name]["hpd"][0] <= truth[0, j] <= p[name]["hpd"][1], name
    assert len(doc["curves"]) == 4 and all("ppc" in c["checks"] for c in doc["curves"])
    assert any("quench depths" in w for w in doc["warnings"])  # the study's two: chi/chi_s interpolated
    code = main(["infer", str(folder), "--q-unit", "1/b", "--plot", str(tmp_path / "p.png")])
    assert code == 2 and "--plot draws one curve's posterior" in capsys.readouterr().err
