"""Machine-learning layer: features from S(q), GP and baseline regressors,
splits, metrics and grouped evaluation, all on small synthetic data."""

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import ParameterError
from scattermorph.learn.estimators import BASELINES, GP_KERNELS, make_baseline, make_gp
from scattermorph.learn.features import (
    curve_moments,
    density_power,
    features_dimensionless,
    features_log_sq,
    features_scale_free,
    from_scale_free,
    scale_free_targets,
)
from scattermorph.learn.metrics import evaluate_grouped, regression_metrics
from scattermorph.learn.splits import grouped_split, paper_splits

# Hyper-parameters that run to a bound (e.g. an irrelevant ARD length scale)
# are expected here and are not failures.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _smooth_data(rng, n=300, noise=0.05, extra=0):
    """y = sin(x1) + x2^2 + noise on [-2, 2]^2 (+ ``extra`` irrelevant columns)."""
    X = rng.uniform(-2, 2, size=(n, 2 + extra))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 + noise * rng.standard_normal(n)
    return X, y


# --------------------------------------------------------------------------
# Gaussian processes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", GP_KERNELS)
def test_every_gp_kernel_learns_a_smooth_function(rng, kernel):
    X, y = _smooth_data(rng, n=200)
    model = make_gp(kernel, restarts=0, random_state=0)  # standardised data: the start is good
    model.fit(X[:160], y[:160])
    mu, sd = model.predict(X[160:], return_std=True)
    m = regression_metrics(y[160:], mu, sd)
    # var(y) ~ 1.6 while the noise variance is 0.0025: a consistent smooth
    # regressor on 160 points in 2-D explains far more than 95 % of the variance
    # (even the rough exponential kernel); 0.95 leaves room for its roughness.
    assert m["r2"] > 0.95


def test_ard_gives_irrelevant_feature_a_long_length_scale(rng):
    X, y = _smooth_data(rng, n=200, extra=1)  # column 2 does not enter y
    model = make_gp("squared_exponential", ard=True, n_features=3, restarts=1, random_state=0)
    model.fit(X, y)
    ls = model.named_steps["gp"].kernel_.k1.k2.length_scale
    assert ls.shape == (3,)
    # relevant features vary y on the scale of the data (~1 in standardised
    # units); the likelihood pushes the irrelevant one towards the upper bound
    # (1e3). A factor 10 is a loose yet unambiguous "much longer".
    assert ls[2] > 10 * max(ls[0], ls[1])


def test_gp_is_calibrated_on_data_from_a_gp_prior():
    """Draw datasets from the prior the GP assumes (RBF, amplitude 1, length 1,
    noise 0.1) and check its held-out predictive distribution."""
    rng = np.random.default_rng(7)
    n_sets, n_train, n_test = 5, 100, 60
    zs, inside95 = [], []
    for k in range(n_sets):
        x = rng.uniform(0, 10, size=n_train + n_test)
        d = x[:, None] - x[None, :]
        cov = np.exp(-0.5 * d ** 2) + 0.1 ** 2 * np.eye(x.size)
        y = rng.multivariate_normal(np.zeros(x.size), cov, method="cholesky")
        model = make_gp("squared_exponential", restarts=1, random_state=k)
        model.fit(x[:n_train, None], y[:n_train])
        mu, sd = model.predict(x[n_train:, None], return_std=True)
        z = (y[n_train:] - mu) / sd
        zs.append(z)
        inside95.append(np.abs(z) <= 1.96)
    z = np.concatenate(zs)
    n = z.size  # 300
    m = regression_metrics(np.zeros(n), -z, np.ones(n))  # same z, via the API
    # If calibrated, each |z| <= 1.96 is a Bernoulli(0.95) draw: the count is
    # binomial with sd sqrt(0.95 * 0.05 / n) = 0.0126 in the fraction; allow 3
    # sd (0.038). The test points are nearly independent because 100 points on
    # [0, 10] with length scale 1 pin the latent function far below the noise
    # level, so the predictive variance is dominated by the independent noise.
    tol95 = 3 * np.sqrt(0.95 * 0.05 / n)
    assert abs(np.mean(np.concatenate(inside95)) - 0.95) <= tol95
    assert abs(m["coverage_95"] - 0.95) <= tol95
    # mean of n standard normals has sd 1/sqrt(n) = 0.058, sample std has sd
    # ~1/sqrt(2n) = 0.041; 3 sd plus a little slack for the fitted (not known)
    # hyper-parameters gives 0.2 and 0.15.
    assert abs(m["z_mean"]) < 0.2
    assert abs(m["z_std"] - 1) < 0.15


def test_make_gp_options():
    with_noise = make_gp("matern52", random_state=0).named_steps["gp"]
    without = make_gp("matern52", noise=False, random_state=0).named_steps["gp"]
    assert "WhiteKernel" in repr(with_noise.kernel) and "WhiteKernel" not in repr(without.kernel)
    assert with_noise.normalize_y and with_noise.n_restarts_optimizer == 3
    assert "nu=0.5" in repr(make_gp("exponential").named_steps["gp"].kernel)


def test_gp_fit_is_deterministic_for_a_seed(rng):
    X, y = _smooth_data(rng, n=80)
    a = make_gp("rational_quadratic", restarts=2, random_state=3).fit(X, y)
    b = make_gp("rational_quadratic", restarts=2, random_state=3).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))  # same seed, same restarts: identical


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_fit_a_smooth_function(rng, name):
    X, y = _smooth_data(rng, n=250)
    model = make_baseline(name, random_state=0).fit(X[:200], y[:200])
    r2 = regression_metrics(y[200:], model.predict(X[200:]))["r2"]
    if name == "ridge":
        # linear in x: captures only sin(x1) ~ x1 and the mean of x2^2;
        # x2^2 carries ~ 1.4 of the 1.8 variance, so R^2 is low but above 0
        assert 0.0 < r2 < 0.6
    else:
        # flexible regressors on 200 points in 2-D; a forest's piecewise-constant
        # fit is the weakest, ~0.95, so 0.9 is a safe floor
        assert r2 > 0.9


# --------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------
def test_stratified_grouped_split_puts_each_stratum_on_both_sides():
    """Two runs per sweep point and f = 1/2: every point has exactly one run
    in the test set (never both: no point is only extrapolated to); with
    three runs per point the floor(f m) = 1 per point plus the remainders
    reach round(f M) test runs in all; groups never straddle."""
    points = [f"p{i}" for i in range(12)]
    for reps, f in [(2, 0.5), (3, 0.5), (3, 0.25)]:
        groups = np.repeat([f"{p}_r{r}" for p in points for r in range(reps)], 5)
        strata = np.repeat([p for p in points for _ in range(reps)], 5)
        for seed in range(5):
            train, test = grouped_split(groups, f, seed, strata=strata)
            assert not set(groups[train]) & set(groups[test])
            test_runs = set(groups[test])
            assert len(test_runs) == round(f * len(points) * reps)
            per_point = {p: sum(g.startswith(p + "_") for g in test_runs) for p in points}
            assert all(v >= np.floor(f * reps) for v in per_point.values())
            assert all(v <= np.ceil(f * reps) for v in per_point.values())
    with pytest.raises(ParameterError, match="spans several strata"):
        grouped_split(["a", "a", "b", "b"], 0.5, 0, strata=["x", "y", "x", "x"])


def test_grouped_split_keeps_groups_apart_and_hits_the_fraction():
    sizes = np.array([3, 7, 5, 12, 4, 9, 6, 8, 10, 2])
    groups = np.repeat(np.array([f"s{i}" for i in range(sizes.size)]), sizes)
    for seed in range(20):
        train, test = grouped_split(groups, 0.3, seed)
        assert np.all(train ^ test)  # every row on exactly one side
        assert not set(groups[train]) & set(groups[test])
        assert abs(test.sum() - 0.3 * groups.size) <= sizes.max()  # within one group
    a = grouped_split(groups, 0.3, 5)
    b = grouped_split(groups, 0.3, np.random.default_rng(5))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))  # same seed, same split
    splits = {tuple(grouped_split(groups, 0.3, s)[1]) for s in range(10)}
    assert len(splits) > 1  # the seed matters


def test_paper_splits_within_one_series():
    table = pd.DataFrame({"sim_id": ["long"] * 40 + ["short"] * 20, "snapshot": list(range(40)) + list(range(20))})
    seen = {}
    for sid, tr, te in paper_splits(table, n_repeats=4, rng=1):
        assert not set(tr) & set(te)
        assert set(table["sim_id"].iloc[np.concatenate([tr, te])]) == {sid}
        seen.setdefault(sid, []).append((tr.size, te.size))
    assert seen["long"] == [(30, 7)] * 4
    # 20 < 37 snapshots: all used, test share round(20 * 7 / 37) = 4
    assert seen["short"] == [(16, 4)] * 4
    first = list(paper_splits(table, n_repeats=2, rng=3))
    again = list(paper_splits(table, n_repeats=2, rng=3))
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]) for a, b in zip(first, again))


# --------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------
def test_features_log_sq_drops_bins_empty_in_any_row():
    q = np.linspace(0.1, 1.0, 8)
    s = np.tile(np.arange(1.0, 9.0), (3, 1))
    s[0, 2] = np.nan
    counts = np.full(s.shape, 5)
    counts[1, 5] = 0
    X, mask = features_log_sq(q, s, counts)
    expect = np.ones(8, bool)
    expect[[2, 5]] = False
    assert np.array_equal(mask, expect)
    assert np.array_equal(X, np.log10(s[:, expect]))
    X2, mask2 = features_log_sq(q, s)  # without counts only the NaN bin goes
    assert mask2.sum() == 7 and X2.shape == (3, 7)


def _scaling_curves(Ls, ndim, q):
    """S(q) = L^d f(qL), f(u) = u^2 / (1 + u^4): exact dynamic scaling."""
    u = q[None, :] * np.asarray(Ls)[:, None]
    return np.asarray(Ls)[:, None] ** ndim * u ** 2 / (1 + u ** 4)


@pytest.mark.parametrize("ndim", [2, 3])
def test_features_dimensionless_collapse_scaling_curves(ndim):
    r = 10 ** (1 / 50)
    q = 1e-3 * r ** np.arange(200)
    L0 = 10.0
    # L's that differ by whole grid steps: the q/q1 nodes coincide, so the
    # interpolated features agree up to rounding
    Ls = L0 * r ** np.array([0, 10, 25])
    X, grid = features_dimensionless(q, _scaling_curves(Ls, ndim, q), Ls, ndim)
    assert X.shape == (3, grid.size + 1) and grid[0] == pytest.approx(0.3) and grid[-1] == pytest.approx(5)
    assert np.allclose(X[1:, :-1], X[0, :-1], rtol=0, atol=1e-10)  # float rounding only
    assert np.allclose(X[:, -1], np.log10(2 * np.pi / Ls))
    # arbitrary L's: linear interpolation in log-log with step h = 0.02 decades
    # errs by at most h^2/8 * max|d2 log10 f / d(log10 u)^2| = 5e-5 * ln10 * 4
    # = 4.6e-4 per curve, so two curves differ by < 1e-3
    Ls = np.array([10.0, 13.7, 31.4])
    X, _ = features_dimensionless(q, _scaling_curves(Ls, ndim, q), Ls, ndim)
    assert np.abs(X[1:, :-1] - X[0, :-1]).max() < 1e-3
    # the raw log S features, by contrast, do not collapse at all
    raw, _ = features_log_sq(q, _scaling_curves(Ls, ndim, q))
    assert np.abs(raw[2] - raw[0]).max() > 0.5


# --------------------------------------------------------------------------
# metrics and evaluation
# --------------------------------------------------------------------------
def test_regression_metrics_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    pred = [1.0, 2.0, 3.0, 2.0]  # residuals 0, 0, 0, 2
    std = [1.0, 0.5, 2.0, 1.0]  # z = 0, 0, 0, 2
    m = regression_metrics(y, pred, std)
    assert m["n"] == 4
    assert m["r2"] == pytest.approx(1 - 4 / 5, abs=1e-15)  # SS_res 4, SS_tot 5
    assert m["rmse"] == pytest.approx(1.0, abs=1e-15)
    assert m["relative_rmse"] == pytest.approx(1 / np.sqrt(1.25), abs=1e-15)  # std(y) = sqrt(1.25)
    assert m["range_rmse"] == pytest.approx(1 / 3, abs=1e-15)
    assert m["coverage_68"] == 0.75 and m["coverage_95"] == 0.75  # z = 2 is outside both
    assert m["z_mean"] == pytest.approx(0.5, abs=1e-15)
    assert m["z_std"] == pytest.approx(np.sqrt(0.75), abs=1e-15)
    # mean log std is (0 + ln .5 + ln 2 + 0) / 4 = 0, mean z^2 / 2 = 0.5
    assert m["nlpd"] == pytest.approx(0.5 * np.log(2 * np.pi) + 0.5, abs=1e-14)
    assert set(regression_metrics(y, pred)) == {"n", "r2", "rmse", "relative_rmse", "range_rmse"}


def test_evaluate_grouped_holds_out_whole_groups(rng):
    groups = np.repeat(np.arange(8), 12)
    X, y = _smooth_data(rng, n=groups.size)
    res, pred = evaluate_grouped(X, y, groups, lambda: make_gp(restarts=0, random_state=0),
                                    n_splits=4, random_state=2, return_predictions=True)
    assert len(res) == 4 and res["n_test"].sum() == y.size
    assert (res["n_test_groups"] == 2).all()
    assert pred.groupby(groups[pred["row"]])["fold"].nunique().max() == 1  # a group is in one fold
    assert {"coverage_95", "z_std"} <= set(res.columns) and (res["r2"] > 0.8).all()
    ridge = evaluate_grouped(X, y, groups, make_baseline("ridge"), n_splits=4, random_state=2)
    assert "coverage_95" not in ridge.columns  # no predictive std, no calibration
    again = evaluate_grouped(X, y, groups, make_baseline("ridge"), n_splits=4, random_state=2)
    pd.testing.assert_frame_equal(ridge.drop(columns="fit_seconds"), again.drop(columns="fit_seconds"))


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
def test_bad_inputs_raise_parameter_error():
    q = np.linspace(0.1, 1, 5)
    with pytest.raises(ParameterError, match="must have shape"):
        features_log_sq(q, np.ones((2, 4)))
    with pytest.raises(ParameterError, match="positive"):
        features_log_sq(q, -np.ones((2, 5)))
    with pytest.raises(ParameterError, match="counts has shape"):
        features_log_sq(q, np.ones((2, 5)), np.ones((3, 5)))
    with pytest.raises(ParameterError, match="L1 must have shape"):
        features_dimensionless(q, np.ones((2, 5)), [1.0], 2)
    with pytest.raises(ParameterError, match="L1 must be finite and positive"):
        features_dimensionless(q, np.ones((2, 5)), [1.0, -1.0], 2)
    with pytest.raises(ParameterError, match="ndim"):
        features_dimensionless(q, np.ones((2, 5)), [1.0, 1.0], 4)
    with pytest.raises(ParameterError, match="positive"):
        features_dimensionless(q, np.zeros((2, 5)), [1.0, 1.0], 2)
    with pytest.raises(ParameterError, match="outside='edge'"):
        features_dimensionless(q, np.ones((2, 5)), [1.0, 1.0], 2)  # q/q1 only 0.016..0.16
    X, _ = features_dimensionless(q, np.ones((2, 5)), [1.0, 1.0], 2, outside="edge")
    assert np.all(np.isfinite(X))
    with pytest.raises(ParameterError, match="ARD is not possible for rational_quadratic"):
        make_gp("rational_quadratic", ard=True, n_features=3)
    with pytest.raises(ParameterError, match="n_features"):
        make_gp("squared_exponential", ard=True)
    with pytest.raises(ParameterError, match="unknown GP kernel"):
        make_gp("periodic")
    with pytest.raises(ParameterError, match="unknown baseline"):
        make_baseline("svm")
    with pytest.raises(ParameterError, match="at least 2 distinct groups"):
        grouped_split(["a"] * 5, 0.2, 0)
    with pytest.raises(ParameterError, match="test_fraction"):
        grouped_split(["a", "b"], 1.2, 0)
    with pytest.raises(ParameterError, match="sim_id"):
        list(paper_splits(pd.DataFrame({"x": [1, 2]})))
    with pytest.raises(ParameterError, match="y_std must be finite and positive"):
        regression_metrics([1, 2], [1, 2], [1, 0])
    with pytest.raises(ParameterError, match="same length"):
        regression_metrics([1, 2], [1])
    with pytest.raises(ParameterError, match="finite"):
        evaluate_grouped(np.ones((4, 1)), [1, np.nan, 2, 3], [0, 0, 1, 1], make_baseline("ridge"), n_splits=2)
    with pytest.raises(ParameterError, match="n_splits"):
        evaluate_grouped(np.ones((4, 1)), [1, 2, 2, 3], [0, 0, 1, 1], make_baseline("ridge"), n_splits=3)


# --------------------------------------------------------------------------
# scale-free features (curve moments, unit-free inputs and targets)
# --------------------------------------------------------------------------
def test_curve_moments_of_an_analytic_curve():
    """S = q^-(d-1) exp(-q) on [a, b]: Q = e^-a - e^-b and
    q1 = ((a+1) e^-a - (b+1) e^-b) / Q exactly; with 20,000 log-spaced bins
    the trapezoid rule's error is ~(h^2/12) relative, h ~ 6e-4: < 1e-6."""
    a, b = 1e-4, 40.0
    q = np.logspace(np.log10(a), np.log10(b), 20000)
    Q_exact = np.exp(-a) - np.exp(-b)
    q1_exact = ((a + 1) * np.exp(-a) - (b + 1) * np.exp(-b)) / Q_exact
    for d in (2, 3):
        Q, q1 = curve_moments(q, q ** -(d - 1) * np.exp(-q), d)
        assert Q[0] == pytest.approx(Q_exact, rel=1e-6)
        assert q1[0] == pytest.approx(q1_exact, rel=1e-6)


def test_scale_free_features_ignore_units_and_intensity_scale(rng):
    """Rescaling q (unit change) and I (contrast, calibration) leaves the
    features unchanged to round-off and scales q1 exactly like q."""
    q = np.logspace(-2, 0.3, 64)
    s = np.exp(-((q[None, :] - rng.uniform(0.2, 0.5, (5, 1))) / 0.1) ** 2) + 1e-3 / q ** 4
    X, xg, q1, cov = features_scale_free(q, s, 2)
    X2, xg2, q1b, cov2 = features_scale_free(q * 10.0, s * 123.0, 2)
    assert np.allclose(X, X2, rtol=0, atol=1e-12)
    assert np.allclose(q1b, 10 * q1, rtol=1e-12)
    assert np.array_equal(cov, cov2)
    assert X.shape == (5, xg.size) and np.all((cov > 0) & (cov <= 1))


def test_scale_free_targets_round_trip_and_powers():
    """Each density divided by q1^p and multiplied back is unchanged; area
    fraction p = 0, perimeter p = 1, Euler density p = d."""
    assert density_power("area_density", 2) == 0
    assert density_power("perimeter_density", 2) == 1
    assert density_power("euler_density", 2) == 2 and density_power("euler_density", 3) == 3
    assert density_power("mean_curvature_density", 3) == 2
    v, q1 = np.array([0.1, 2.0]), np.array([0.3, 0.7])
    for name in ["area_density", "perimeter_density", "euler_density"]:
        assert np.allclose(from_scale_free(scale_free_targets(v, q1, name, 2), q1, name, 2), v)
    with pytest.raises(Exception, match="unknown functional"):
        density_power("volume", 3)
