"""Tests of scattermorph.learn.protocols: the learning protocols.

Synthetic datasets with a known answer stand in for the study's data: a
"simulation" is a group of rows sharing a parameter, the target is a smooth
function of the inputs, so a working protocol must recover it; leakage
between training and test simulations is checked structurally.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scattermorph.errors import ParameterError
from scattermorph.learn import protocols as ev
from scattermorph.learn.metrics import regression_metrics
from scattermorph.learn.summary import robustness_markdown


def synthetic(rng, n_sims=12, per_sim=6, noise=0.0):
    """Rows of n_sims 'simulations'; two inputs; targets smooth in them."""
    sim = np.repeat(np.arange(n_sims), per_sim)
    a = rng.uniform(0, 1, n_sims)[sim]  # per-simulation parameter (like phi0)
    t = np.tile(np.linspace(0, 1, per_sim), n_sims)  # time within a run
    X = np.column_stack([a, t])
    table = pd.DataFrame({
        "sim_id": [f"s{i:02d}" for i in sim], "phi0": a, "quench": 1.5 + (sim % 2) * 0.5,
        "replicate": sim % 3, "snapshot": np.tile(np.arange(per_sim), n_sims),
        "f1": np.sin(3 * a) + 0.5 * t + noise * rng.standard_normal(sim.size),
        "f2": a ** 2 - t + noise * rng.standard_normal(sim.size),
    })
    return table, X


def test_split_by_simulation_never_shares_a_run(rng):
    table, _ = synthetic(rng)
    split = ev.split_by_simulation(table, 0.5, 3)
    assert set(split["subset"]) == {"train", "test"}
    assert split["sim_id"].is_unique and len(split) == table["sim_id"].nunique()
    # half of 12 equal-size runs: exactly 6 each (grouped_split rounds to a whole run)
    assert (split["subset"] == "test").sum() == 6
    assert ev.split_by_simulation(table, 0.5, 3).equals(split)  # same seed, same split


def test_cross_validation_predicts_every_row_once_from_unseen_runs(rng):
    """Out-of-fold: each row predicted exactly once, by a fold whose model did
    not see its simulation; a smooth noise-free target is learnt (R^2 > 0.95:
    the GP interpolates a 2-input smooth function from 9 of 12 runs)."""
    table, X = synthetic(rng)
    metrics, preds = ev.cross_validate(table, X, None, model="gp_se", functionals=["f1", "f2"], ndim=2,
                                       n_splits=4, restarts=0, seed=1)
    for f in ["f1", "f2"]:
        p = preds[preds["functional"] == f]
        assert sorted(p["row"]) == list(table.index)
    # a simulation belongs to one fold only
    assert (preds.groupby("sim_id")["fold"].nunique() == 1).all()
    summary = ev.summarise_cv(metrics.assign(features="x", model="gp_se"), preds.assign(features="x", model="gp_se"))
    assert (summary["r2"] > 0.95).all()
    assert set(summary.columns) >= {"coverage_95", "z_std", "r2_fold_sd", "fit_seconds"}


def test_joint_gp_matches_shape_and_learns(rng):
    table, X = synthetic(rng)
    metrics, preds = ev.cross_validate(table, X, None, model="gp_m52_joint", functionals=["f1", "f2"],
                                       ndim=2, n_splits=3, restarts=0, seed=1)
    assert len(preds) == 2 * len(table)
    assert np.all(np.isfinite(preds["y_std"])) and np.all(preds["y_std"] > 0)
    summary = ev.summarise_cv(metrics.assign(features="x", model="j"), preds.assign(features="x", model="j"))
    assert (summary["r2"] > 0.9).all()


def test_baselines_have_no_std_and_no_calibration(rng):
    table, X = synthetic(rng)
    metrics, preds = ev.cross_validate(table, X, None, model="ridge", functionals=["f1"], ndim=2, n_splits=3)
    assert preds["y_std"].isna().all()
    summary = ev.summarise_cv(metrics.assign(features="x", model="ridge"), preds.assign(features="x", model="ridge"))
    assert "coverage_95" not in summary or summary["coverage_95"].isna().all()


def test_scale_free_targets_are_scored_in_physical_units(rng):
    """With q1 given, the model learns density / q1^p and the prediction is
    converted back: a perimeter density that is exactly c * q1 is learnt as a
    constant, and the scored values are the physical ones."""
    table, X = synthetic(rng)
    q1 = 0.1 + table["phi0"].to_numpy()
    table["perimeter_density"] = 0.7 * q1
    _, preds = ev.cross_validate(table, X, q1, model="gp_se", functionals=["perimeter_density"], ndim=2,
                                 n_splits=3, restarts=0, seed=0)
    assert np.allclose(preds["y_true"], table.loc[preds["row"], "perimeter_density"])
    # a constant target is learnt exactly (up to the GP's fitted noise)
    assert np.allclose(preds["y_pred"], preds["y_true"], rtol=1e-3)


def test_selection_uses_cross_validation_only():
    summary = pd.DataFrame({
        "features": ["a", "a", "b", "b", "a"],
        "model": ["gp_se", "ridge", "gp_m52", "gp_m52_joint", "gp_exp"],
        "functional": ["f"] * 5,
        "r2": [0.8, 0.99, 0.85, 0.95, np.nan],
    })
    summary["gp"] = summary["model"].str.startswith("gp_")
    sel = ev.select_models(summary, ["f"])
    # best GP, joint models and NaN scores excluded, the better ridge ignored
    assert sel.iloc[0][["features", "model"]].tolist() == ["b", "gp_m52"]
    sel = ev.select_models(summary, ["f"], gp_only=False)
    assert sel.iloc[0]["model"] == "ridge"
    sel = ev.select_models(summary.assign(rmse=[3, 1, 2, 0.5, 9]), ["f"], criterion="rmse")
    assert sel.iloc[0]["model"] == "gp_m52"


def test_holdout_test_scores_only_the_test_runs(rng):
    table, X = synthetic(rng, noise=0.02)
    split = ev.split_by_simulation(table, 0.5, 0)
    test = table["sim_id"].isin(split.loc[split["subset"] == "test", "sim_id"]).to_numpy()
    sel = pd.DataFrame({"functional": ["f1"], "features": ["x"], "model": ["gp_se"]})
    preds, metrics = ev.holdout_test(table, {"x": (X, None)}, ~test, test, selection=sel, ndim=2, restarts=0)
    assert set(preds["row"]) == set(np.flatnonzero(test))
    assert metrics.loc[0, "n_test_sims"] == 6 and metrics.loc[0, "n_train_sims"] == 6
    assert metrics.loc[0, "r2"] > 0.9


def test_calibration_curve_of_exact_gaussian_errors(rng):
    """Errors drawn from N(0, sigma): the observed coverage of every central
    interval equals the nominal one within 4 binomial standard errors
    (n = 20,000: se <= 0.0036)."""
    n = 20000
    sd = rng.uniform(0.5, 2.0, n)
    y = rng.standard_normal(n) * sd
    levels, obs = ev.calibration_curve(y, np.zeros(n), sd)
    se = np.sqrt(levels * (1 - levels) / n)
    assert np.all(np.abs(obs - levels) <= 4 * se + 1e-12)
    # intervals half as wide are over-confident: coverage well below nominal
    _, narrow = ev.calibration_curve(y, np.zeros(n), sd / 2)
    assert np.all(narrow[levels > 0.3] < levels[levels > 0.3] - 0.05)


def test_extrapolation_variance_rises_outside(rng):
    """Train on phi0 <= 0.5 of a smooth target, predict beyond: the GP's std
    outside is larger than inside (stationary kernel, distance to the data)."""
    table, X = synthetic(rng, n_sims=16)
    sel = pd.DataFrame({"functional": ["f1"], "features": ["x"], "model": ["gp_se"]})
    res = ev.extrapolation(table, {"x": (X, None)}, selection=sel, ndim=2, column="phi0", split=0.5,
                           restarts=0, seed=0)
    inside = res.loc[res["domain"] == "inside", "y_std"].median()
    far = res.loc[(res["domain"] == "outside") & (res["phi0"] > 0.8), "y_std"]
    if far.empty:
        pytest.skip("no run drawn beyond phi0 = 0.8")
    assert far.median() > 2 * inside
    with pytest.raises(ParameterError, match="one side empty"):
        ev.extrapolation(table, {"x": (X, None)}, selection=sel, ndim=2, column="phi0", split=2.0)


def test_learning_curve_improves_with_more_runs(rng):
    table, X = synthetic(rng, n_sims=16, noise=0.01)
    split = ev.split_by_simulation(table, 0.25, 0)
    test = table["sim_id"].isin(split.loc[split["subset"] == "test", "sim_id"]).to_numpy()
    sel = pd.DataFrame({"functional": ["f1"], "features": ["x"], "model": ["gp_se"]})
    lc = ev.learning_curve(table, {"x": (X, None)}, ~test, test, selection=sel, ndim=2, sizes=[2, 12, 99],
                           repeats=3, restarts=0, seed=0)
    assert set(lc["n_sims"]) == {2, 12}  # 99 > number of training runs: skipped
    r2 = lc.groupby("n_sims")["r2"].mean()
    assert r2[12] > r2[2] and r2[12] > 0.95


def test_check_targets_flags_each_miss():
    metrics = pd.DataFrame({"functional": ["area_density", "euler_density"], "features": ["a", "a"],
                            "model": ["gp_se", "gp_se"], "r2": [0.96, 0.85], "coverage_95": [0.99, 0.93]})
    t = ev.check_targets(metrics, {"r2": {"area_density": 0.95, "euler_density": 0.9},
                                   "coverage_95": [0.9, 0.98]})
    assert t["r2_met"].tolist() == [True, False]
    assert t["coverage_met"].tolist() == [False, True]


def test_paper_series_and_protocol(rng):
    table, X = synthetic(rng, n_sims=12, per_sim=10)
    # replicate 0 at the shallowest quench: runs 0 and 6 of the synthetic set
    assert ev.paper_series(table, 5) == ["s00", "s06"] or ev.paper_series(table, 5) == ["s06", "s00"]
    table = table.assign(replicate=0, quench=1.5)
    series = ev.paper_series(table, 3)
    assert len(series) == 3 and len(set(series)) == 3
    phi = table.drop_duplicates("sim_id").set_index("sim_id")["phi0"]
    assert phi[series[0]] == phi.min() and phi[series[-1]] == phi.max()  # spread over phi0
    out = ev.paper_protocol(table, X, None, functionals=["f1"], ndim=2, kernels=["squared_exponential"],
                            series=series[:1], n_repeats=4, n_train=30, n_test=7, seed=0)
    # 10 snapshots: the paper's ratio gives 8 train / 2 test
    assert len(out) == 4 and all(len(r.split()) == 2 for r in out["test_rows"])
    assert np.all(out["relative_rmse"] >= 0)


def test_stage_seed_is_deterministic_and_distinct():
    assert ev.stage_seed(7, 1, 2) == ev.stage_seed(7, 1, 2)
    assert len({ev.stage_seed(7, 1, k) for k in range(50)}) == 50
    assert ev.stage_seed(7, 1) != ev.stage_seed(8, 1)


def test_unknown_model_and_input_are_refused():
    with pytest.raises(ParameterError, match="unknown model 'gp_foo'"):
        ev.make_model("gp_foo", 3)
    with pytest.raises(ParameterError, match="unknown input kind"):
        ev.build_features("raw", pd.DataFrame(), {"q": np.ones(2), "i_q": np.ones((1, 2))}, 2)


def test_gp_paper_is_the_plain_sklearn_gp():
    """The study's baseline row: Jones & Clarke's exact GP (default kernel
    bounds and starts, unscaled inputs, normalize_y, 2 restarts)."""
    assert "gp_paper" in ev.MODELS and ev.is_gp("gp_paper") and not ev.is_joint("gp_paper")
    gp = ev.make_model("gp_paper", 5, restarts=0, seed=3).named_steps["gp"]
    assert repr(gp.kernel) == "1**2 * RBF(length_scale=1) + WhiteKernel(noise_level=1)"
    assert gp.normalize_y and gp.n_restarts_optimizer == 2 and gp.random_state == 3


# --------------------------------------------------------------------------
# sigma-scaling recalibration of the held-out intervals (issue 15)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
def test_sigma_scale_factor_recovers_the_inflation_of_the_errors(rng, c):
    """Errors c times the stated std: the factor recovers c, and the scaled
    intervals of *independent* points cover their nominal fraction.

    Tolerances (n = 4000 points per half, 4 standard errors each):
    s^2 / c^2 = mean(z0^2), z0 ~ N(0, 1), is chi^2_n / n with sd sqrt(2 / n),
    so s / c has sd 1 / sqrt(2 n) = 0.0112 (delta method): |s/c - 1| <= 0.045.
    Coverage of the other half with the fitted s: binomial se
    sqrt(p (1 - p) / n) (0.0074 at 68.3 %, 0.0034 at 95 %) plus the error of s
    propagated through d coverage / d log s = 2 z_p phi(z_p) (0.48 at z = 1,
    0.23 at z = 1.96: 0.0054 and 0.0026), in quadrature 0.0092 and 0.0043:
    4 se = 0.037 and 0.017."""
    n = 4000
    sd = rng.uniform(0.5, 2.0, 2 * n)
    y = c * sd * rng.standard_normal(2 * n)
    mu = np.zeros(2 * n)
    s = ev.sigma_scale_factor(y[:n], mu[:n], sd[:n])
    assert abs(s / c - 1) <= 4 / np.sqrt(2 * n)
    # before: coverage of the stated +-1 / +-1.96 sd is P(|Z| <= z / c) (exact, not estimated)
    before = ev._metrics(y[n:], mu[n:], sd[n:])
    for key, z, se in (("coverage_68", 1.0, np.sqrt(0.683 * 0.317 / n)), ("coverage_95", 1.96, np.sqrt(0.05 * 0.95 / n))):
        p = 2 * stats.norm.cdf(z / c) - 1
        assert before[key] == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n) + 1e-12)
    after = ev._metrics(y[n:], mu[n:], s * sd[n:])
    assert after["coverage_68"] == pytest.approx(0.6827, abs=0.037)
    assert after["coverage_95"] == pytest.approx(0.9500, abs=0.017)
    # std of z of N(0, 1) with n points: sd sqrt(1 / (2 n)) = 0.0112, plus s's relative error 0.0112: 4 se = 0.063
    assert after["z_std"] == pytest.approx(1.0, abs=0.063)


def test_sigma_scale_factor_refuses_bad_input():
    assert ev.sigma_scale_factor([1.0, -1.0], [0.0, 0.0], [0.5, 0.5]) == pytest.approx(2.0)  # exact: z = +-2
    with pytest.raises(ParameterError, match="finite"):
        ev.sigma_scale_factor([1.0], [0.0], [np.nan])
    with pytest.raises(ParameterError, match="non-empty"):
        ev.sigma_scale_factor([], [], [])


def test_calibration_factors_use_each_selected_models_own_cv_predictions():
    """Factors by hand: z = (1 - 0) / 0.5 = 2 everywhere for (f1, a, gp_se),
    z = +-1 for (f1, b, gp_paper); a model without std gets NaN; rows of other
    models of the same functional are not mixed in."""
    cv = pd.DataFrame({
        "functional": ["f1"] * 6 + ["f1"] * 2,
        "features": ["a", "a", "b", "b", "a", "a", "a", "a"],
        "model": ["gp_se", "gp_se", "gp_paper", "gp_paper", "gp_m52", "gp_m52", "ridge", "ridge"],
        "y_true": [1.0, 1.0, 1.0, -1.0, 5.0, 5.0, 1.0, 1.0],
        "y_pred": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "y_std": [0.5, 0.5, 1.0, 1.0, 0.1, 0.1, np.nan, np.nan],
    })
    sel = pd.DataFrame({"functional": ["f1", "f1", "f1"], "features": ["a", "b", "a"],
                        "model": ["gp_se", "gp_paper", "ridge"]})
    f = ev.calibration_factors(cv, sel).set_index("model")
    assert f.loc["gp_se", "sigma_scale"] == pytest.approx(2.0)
    assert f.loc["gp_paper", "sigma_scale"] == pytest.approx(1.0)
    assert np.isnan(f.loc["ridge", "sigma_scale"])
    assert f.loc["gp_se", "cv_coverage_68"] == 0.0 and f.loc["gp_paper", "cv_coverage_68"] == 1.0
    assert (f["n_cv"] == 2).all()


def test_baseline_is_the_paper_gp_on_the_papers_input():
    comp = pd.DataFrame({"functional": ["f", "f", "f", "g", "g"],
                         "features": ["log_sq", "scale_free", "scale_free", "scale_free", "dimensionless"],
                         "model": ["gp_paper", "gp_paper", "gp_se", "gp_paper", "gp_paper"],
                         "r2": [0.5, 0.9, 0.99, 0.7, 0.8]})
    b = ev.baseline_selection(comp, ["f", "g", "h"]).set_index("functional")
    assert b.loc["f", "features"] == "log_sq"  # the paper's input wherever the study has it
    assert b.loc["g", "features"] == "dimensionless"  # else its best cross-validated input
    assert "h" not in b.index and (b["model"] == "gp_paper").all()
    assert ev.baseline_selection(comp[comp["model"] != "gp_paper"], ["f"]).empty


def test_holdout_test_recalibrates_with_the_given_factor(rng):
    """y_std_cal is the factor times y_std, and the *_cal metrics are those
    of learn.regression_metrics on it (computed independently here)."""
    table, X = synthetic(rng, noise=0.02)
    split = ev.split_by_simulation(table, 0.5, 0)
    test = table["sim_id"].isin(split.loc[split["subset"] == "test", "sim_id"]).to_numpy()
    sel = pd.DataFrame({"functional": ["f1"], "features": ["x"], "model": ["gp_se"]})
    factors = pd.DataFrame({"functional": ["f1"], "features": ["x"], "model": ["gp_se"], "sigma_scale": [2.5]})
    preds, metrics = ev.holdout_test(table, {"x": (X, None)}, ~test, test, selection=sel, ndim=2, restarts=0,
                                     factors=factors)
    np.testing.assert_allclose(preds["y_std_cal"], 2.5 * preds["y_std"], rtol=1e-12)
    ref = regression_metrics(preds["y_true"], preds["y_pred"], 2.5 * preds["y_std"])
    raw = regression_metrics(preds["y_true"], preds["y_pred"], preds["y_std"])
    m = metrics.iloc[0]
    assert m["sigma_scale"] == 2.5
    for k in ("coverage_68", "coverage_95", "z_std", "nlpd"):
        assert m[f"{k}_cal"] == pytest.approx(ref[k]) and m[k] == pytest.approx(raw[k])
    # without factors: no recalibrated columns (the robustness test's use)
    preds, metrics = ev.holdout_test(table, {"x": (X, None)}, ~test, test, selection=sel, ndim=2, restarts=0)
    assert "y_std_cal" not in preds and "coverage_95_cal" not in metrics


def test_check_targets_judges_calibration_before_and_after():
    metrics = pd.DataFrame({
        "functional": ["area_density", "area_density"], "role": ["selected", "baseline"],
        "features": ["a", "log_sq"], "model": ["gp_se", "gp_paper"], "r2": [0.96, 0.9],
        "sigma_scale": [1.5, 1.0],
        "coverage_95": [0.80, 0.95], "coverage_68": [0.50, 0.70], "z_std": [1.5, 1.0],
        "coverage_95_cal": [0.94, 0.95], "coverage_68_cal": [0.70, 0.59], "z_std_cal": [1.0, 1.0]})
    t = ev.check_targets(metrics, {"r2": {"area_density": 0.95}, "coverage_95": [0.9, 0.98]})
    assert t["role"].tolist() == ["selected", "baseline"]
    assert t["r2_met"].tolist() == [True, False]
    assert t["coverage_met"].tolist() == [False, True]
    assert t["calibration_met"].tolist() == [False, True]
    # 0.59 is outside the default 68 % band (0.60-0.76)
    assert t["calibration_met_cal"].tolist() == [True, False]
    assert (t["coverage_68_target_lo"] == 0.60).all() and (t["z_std_target_hi"] == 1.2).all()



def test_robustness_table_pairs_ideal_and_smeared_training_rows():
    rows = [(-1, 0.0, np.inf, "ideal", "euler_density", 0.88), (0, 0.1, np.inf, "ideal", "euler_density", 0.60),
            (0, 0.1, np.inf, "smeared", "euler_density", 0.86), (1, 0.0, 1e4, "ideal", "euler_density", 0.8)]
    m = pd.DataFrame(rows, columns=["setting", "resolution", "counts", "training", "functional", "r2"]).assign(
        background=0.0)
    t = ev.robustness_table(m)
    # one row per setting with a resolution (setting 1 has none: noise only)
    assert len(t) == 1
    r = t.iloc[0]
    assert (r.r2_ideal, r.r2_trained_ideal, r.r2_trained_smeared) == (0.88, 0.60, 0.86)
    assert r.gap == pytest.approx(0.02, abs=1e-12)
    page = "\n".join(robustness_markdown(m))
    assert "| 0 | 0.1 | none | 0 | euler_density | 0.880 | 0.600 | 0.860 | 0.020 |" in page
    assert "- setting 1: euler_density 0.800" in page  # the per-setting line keeps the ideal-trained rows


def test_grouped_folds_keep_every_sweep_point_in_every_training_fold():
    """Two or three runs per sweep point: no fold holds out every run of a
    point (each fold's model is trained on every point, like the stratified
    held-out test); folds never split a simulation and are about equal in
    size. One run per point: plain GroupKFold (every run in one fold)."""
    rows = []
    for i, phi0 in enumerate([0.2, 0.3, 0.4, 0.5]):
        for quench in (1.15, 1.5):
            for rep in range(2 + (i % 2)):
                for snap in range(3):
                    rows.append({"sim_id": f"p{phi0}_q{quench}_r{rep}", "phi0": phi0,
                                 "quench": quench, "snapshot": snap})
    table = pd.DataFrame(rows)
    for seed in range(4):
        folds = ev.grouped_folds(table, 3, seed)
        assert table.assign(f=folds).groupby("sim_id")["f"].nunique().max() == 1
        for k in range(3):
            train = table[folds != k]
            assert len(train.groupby(["phi0", "quench"])) == 8, (seed, k)
        sizes = np.bincount(folds) / 3  # runs per fold
        assert sizes.max() - sizes.min() <= 1
    single = table[table["sim_id"].str.endswith("_r0")]
    folds = ev.grouped_folds(single, 4, 0)
    assert sorted(np.bincount(folds) // 3) == [2, 2, 2, 2]
