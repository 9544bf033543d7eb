"""The inference stage's orchestration (scattermorph.infer.stage) and its summary
page (scattermorph.infer.summary) on a small synthetic study whose curves are a
known smooth function of (phi0, chi/chi_s, t).

Independent answers: the calibration snapshots and their ids against the input,
counts and bands against their definitions (binomial quantiles from scipy), the
example's choice against a hand-worked case and under shuffling, the posterior
of a study with one quench depth against a direct grid computation, a JSON
round trip, and the refusal of bad input with its message.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.infer import posterior as inf
from scattermorph.infer import stage as S
from scattermorph.infer.summary import inference_summary
from scattermorph.plots import inference as P

Q = np.logspace(-2.3, 0.3, 96)
FEATURES = {"n_points": 16, "x_range": [0.3, 3.0]}
N_GRID = 12  # coarse: every test posterior in milliseconds; the grid's own accuracy is tested in test_inference.py


def _curve(phi0, quench, t):
    """A peaked S(q) (as in test_inference.py): q1 shrinks with t, the peak sharpens with phi0 and quench."""
    q1 = 0.3 * t ** (-1 / 3)
    x = Q / q1
    g = 3 + 4 * phi0 + 2 * (quench - 1)
    return x ** 2 / (1 + 0.5 * x ** (2 + g)) / q1 ** 3


def make_study(quenches=(1.15, 1.5), replicates=4, seed=3):
    """(table, arrays): 4 compositions x quenches x replicates runs of 5 snapshots (t 5-60)."""
    rng = np.random.default_rng(seed)
    rows, curves = [], []
    for phi0 in (0.2, 0.3, 0.4, 0.5):
        for quench in quenches:
            for rep in range(replicates):
                sim = f"p{phi0}_q{quench}_r{rep}"
                for k, t in enumerate(np.geomspace(5, 60, 5)):
                    rows.append(_row(sim, k, phi0, quench, t))
                    curves.append(_curve(phi0, quench, t) * np.exp(0.02 * rng.standard_normal(Q.size)))
    return pd.DataFrame(rows), {"q": Q, "s_q": np.array(curves)}


def _row(sim, k, phi0, quench, t):
    q1 = 0.3 * t ** (-1 / 3)
    return dict(sim_id=sim, snapshot=k, phi0=phi0, quench=quench, time_over_tau=t, dimension=3,
                volume_density=phi0, surface_density=2.0 * q1, mean_curvature_density=0.1 * q1 ** 2,
                euler_density=-0.01 * q1 ** 3 * (1 + phi0))


def make_held(quenches=(1.15, 1.5), n_runs=12, seed=4):
    """(table, arrays) of calibration runs drawn from the prior, as
    scattermorph.sim.sweep.calibration_table draws them: phi0 and quench uniform
    over the study's range, 4 snapshots on the study's log-time grid shifted by
    a uniform fraction of its spacing."""
    rng = np.random.default_rng(seed)
    step = np.log(60 / 5) / 4
    rows, curves = [], []
    for r in range(n_runs):
        phi0, quench, u = rng.uniform(0.2, 0.5), rng.uniform(min(quenches), max(quenches)), rng.uniform()
        for k in range(4):
            t = 5 * np.exp((k + u) * step)
            rows.append(_row(f"cal{r:03d}", k, phi0, quench, t))
            curves.append(_curve(phi0, quench, t) * np.exp(0.02 * rng.standard_normal(Q.size)))
    return pd.DataFrame(rows), {"q": Q, "s_q": np.array(curves)}


@pytest.fixture(scope="module")
def study():
    return make_study() + make_held()


@pytest.fixture(scope="module")
def stage(study):
    return S.run_stage(*study, features=FEATURES, n_grid=N_GRID, level=0.9, rank_bins=4, seed=1)


@pytest.fixture(scope="module")
def one_quench():
    """One quench depth, two replicates (the shape of the tiny test studies)."""
    inputs = make_study(quenches=(1.15,), replicates=2) + make_held(quenches=(1.15,), n_runs=6)
    return inputs, S.run_stage(*inputs, features=FEATURES, n_grid=N_GRID, level=0.9, rank_bins=4, seed=1)


def test_calibration_table_has_every_calibration_snapshot(study, stage):
    _, _, held, _ = study
    cal = stage["calibration"]
    assert len(cal) == len(held) == 48 and len(stage["outside"]) == 0
    assert list(cal.columns[:3]) == ["sim_id", "snapshot", "time_over_tau"]
    assert sorted(zip(cal["sim_id"], cal["snapshot"])) == sorted(zip(held["sim_id"], held["snapshot"]))
    for name in inf.PARAMS:
        # a quantile is a sum of cell masses: 1 up to rounding (1 + 2e-16 is seen)
        assert cal[f"{name}_quantile"].between(-1e-12, 1 + 1e-12).all()
        assert cal[f"{name}_width_ratio"].between(0, 1).all()
        # the central interval holds the posterior median, inside the prior box
        assert (cal[f"{name}_central_lo"] <= cal[f"{name}_central_hi"]).all()
    # the truths are the calibration rows' own parameters
    assert np.allclose(np.sort(cal["log10_t_true"]), np.sort(np.log10(held["time_over_tau"])))


def test_identifiability_counts_bands_and_correlations(stage):
    ident = stage["identifiability"].set_index("parameter")
    n, n_runs = 48, 12
    assert list(ident.index) == list(inf.PARAMS) and ident["inferred"].all()
    for name in inf.PARAMS:
        r = ident.loc[name]
        assert 0 <= r["coverage_hpd"] <= 1 and 0 <= r["coverage_central"] <= 1
        counts = [int(c) for c in r["rank_counts"].split()]
        assert len(counts) == 4 and sum(counts) == n  # every held-out snapshot in one of rank_bins bins
        assert (r["band_lo"], r["band_hi"]) == (binom.ppf(0.025, n, 0.9) / n, binom.ppf(0.975, n, 0.9) / n)
        assert (r["band_runs_lo"], r["band_runs_hi"]) == (binom.ppf(0.025, n_runs, 0.9) / n_runs,
                                                          binom.ppf(0.975, n_runs, 0.9) / n_runs)
        assert r["n_runs"] == n_runs and r[f"corr_{name}"] == 1.0
        # Kish's effective size of 12 runs of 4 snapshots lies between the runs and the snapshots
        k = round(r["n_eff"])
        assert n_runs <= r["n_eff"] <= n
        assert (r["band_eff_lo"], r["band_eff_hi"]) == (binom.ppf(0.025, k, 0.9) / k, binom.ppf(0.975, k, 0.9) / k)
    corr = ident[[f"corr_{p}" for p in inf.PARAMS]].to_numpy()
    assert np.allclose(corr, corr.T) and np.all(np.abs(corr) <= 1)
    assert (ident["prior_lo"].tolist(), ident["prior_hi"].tolist()) == (
        [0.2, 1.15, np.log10(5)], [0.5, 1.5, pytest.approx(np.log10(60))])


def test_the_curve_pins_down_composition_and_age(stage):
    """The synthetic curve's peak width moves with phi0 and its q1 with t (by
    t^-1/3, removed by the scale-free features, but the peak shape does not
    depend on t at all, so the age is NOT identified from the shape); phi0 and
    quench enter through one exponent 4 phi0 + 2 quench, so they are
    anti-correlated. The 2 % noise leaves phi0 well inside the prior: the
    posterior is narrower than half the prior."""
    ident = stage["identifiability"].set_index("parameter")
    assert ident.loc["phi0", "width_ratio"] < 0.5
    assert ident.loc["log10_t", "width_ratio"] > 0.8  # shape carries no age: posterior ~ the prior
    assert ident.loc["phi0", "corr_quench"] < -0.3  # one exponent: more phi0 = less quench


def test_emulator_validation_rows(stage):
    v = stage["validation"]
    comp = v["component"].astype(str)
    k = int((comp != "pooled").sum())
    assert list(comp) == [str(j) for j in range(1, k + 1)] + ["pooled"]
    assert v["coverage"].between(0, 1).all()
    pooled = v[comp == "pooled"].iloc[0]
    assert pooled["explained_variance"] == pytest.approx(v.loc[comp != "pooled", "explained_variance"].sum())
    # 2 % multiplicative noise on a smooth family: the emulated S q1^d / Q is off by a few % at most (10 % bound)
    assert 0 < pooled["median_rel_error_S"] < 0.10
    assert pooled["noise_source"] == S.NOISE_TRAINING
    assert (v["n"] == 48).all() and (v["n_runs"] == 12).all() and (v["n_train_runs"] == 32).all()


def test_example_is_the_snapshot_nearest_the_box_centre(study, stage):
    """The study's box: phi0 [0.2, 0.5], quench [1.15, 1.5], t [5, 60]; the
    example is the calibration snapshot nearest its centre after mapping each
    parameter onto [0, 1] (computed here directly)."""
    _, _, held, _ = study
    u = np.column_stack([(held["phi0"] - 0.2) / 0.3, (held["quench"] - 1.15) / 0.35,
                         np.log(held["time_over_tau"] / 5) / np.log(12)])
    best = held.iloc[int(np.argmin(np.linalg.norm(u - 0.5, axis=1)))]
    doc = stage["example"]
    assert (doc["ids"]["sim_id"], doc["ids"]["snapshot"]) == (best["sim_id"], best["snapshot"])
    assert doc["posterior"]["params"]["phi0"]["truth"] == pytest.approx(best["phi0"])
    assert set(doc["functionals"]) == {"volume_density", "surface_density", "mean_curvature_density",
                                       "euler_density"}
    assert doc["functionals"]["volume_density"]["true"] == pytest.approx(best["phi0"])
    g = stage["grid"]
    assert g["weights"].shape == (N_GRID,) * 3 and g["weights"].sum() == pytest.approx(1)


def test_choose_example_by_hand_and_order_free(rng):
    theta = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.4], [0.5, 0.5, 0.6], [1.0, 1.0, 1.0]])
    sims, snaps = ["d", "c", "b", "a"], [0, 1, 1, 0]
    # rows 1 and 2 are both 0.1 from the centre: "b" sorts before "c"
    assert S.choose_example(theta, sims, snaps, [0, 0, 0], [1, 1, 1]) == 2
    perm = rng.permutation(4)
    i = S.choose_example(theta[perm], [sims[k] for k in perm], [snaps[k] for k in perm], [0, 0, 0], [1, 1, 1])
    assert sims[perm[i]] == "b"
    # a fixed parameter (hi == lo) sits at the centre and does not decide
    assert S.choose_example(theta, sims, snaps, [0, 7, 0], [1, 7, 1]) == 2
    with pytest.raises(ParameterError, match="no held-out snapshots"):
        S.choose_example(np.empty((0, 3)), [], [], [0, 0, 0], [1, 1, 1])


def test_example_json_round_trip(stage, tmp_path):
    js, npz = tmp_path / "example.json", tmp_path / "example_posterior.npz"
    doc = dict(stage["example"], extra=float("nan"))  # NaN is written as null (strict JSON)
    S.write_example(doc, stage["grid"], js, npz)
    back, grid = S.read_example(js, npz)
    assert back["extra"] is None
    back.pop("extra")
    assert back == stage["example"]
    assert json.loads(js.read_text())["ids"] == stage["example"]["ids"]
    for a, b in zip(grid["axes"], stage["grid"]["axes"]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(grid["weights"], stage["grid"]["weights"])


def test_one_quench_depth_is_fixed(one_quench):
    _, out = one_quench
    ident = out["identifiability"].set_index("parameter")
    assert not ident.loc["quench", "inferred"] and ident.loc[["phi0", "log10_t"], "inferred"].all()
    assert np.isnan(ident.loc["quench", ["coverage_hpd", "width_ratio", "corr_phi0", "n_eff"]].astype(float)).all()
    assert np.isnan(ident.loc["phi0", "corr_quench"]) and ident.loc["phi0", "rank_counts"] != "n/a"
    assert ident.loc["quench", "rank_counts"] == "n/a"
    cal = out["calibration"]
    assert (cal["quench_mean"] == 1.15).all() and cal["quench_quantile"].isna().all()
    assert cal["phi0_quantile"].between(-1e-12, 1 + 1e-12).all()  # 1 up to rounding, as above
    assert (out["validation"]["noise_source"] == S.NOISE_TRAINING).all()
    assert out["example"]["fixed"] == ["quench"]


def test_noise_from_all_runs_when_the_training_rows_hold_no_replicates():
    """Fitting on one replicate of each point (the other held out): the feature
    noise is the pooled replicate scatter of all the study's runs."""
    table, arrays = make_study(quenches=(1.15,), replicates=2)
    train = table["sim_id"].str.endswith("_r0").to_numpy()
    cal, source = S.fit_study_calibration(table, arrays, train, features=FEATURES, seed=1)
    assert source == S.NOISE_ALL_RUNS
    X, _ = inf.study_features(Q, arrays["s_q"], 3, **cal.features)
    direct, _ = inf.pooled_covariance(X, inf.replicate_groups(table))
    C = cal.emulator.pca.components_
    assert np.allclose(cal.emulator.noise_cov, C @ direct @ C.T)


def test_fixed_parameter_gives_the_direct_posterior(one_quench):
    """With one quench depth the prior's quench axis is a point (a degenerate
    grid axis): the calibration's phi0 and t posteriors must equal the direct
    grid posterior of the emulator itself."""
    (table, arrays, held, harr), out = one_quench
    cal_model, _ = S.fit_study_calibration(table, arrays, np.ones(len(table), bool), features=FEATURES, seed=1)
    em = cal_model.emulator
    X, _ = inf.study_features(Q, harr["s_q"], 3, **cal_model.features)
    z = em.transform(X[:1])[0]
    post = inf.grid_posterior(lambda th: em.loglike(z, th), em.lo, em.hi, N_GRID)
    direct = inf.summarise_posterior(post, 0.9)["params"]
    row = out["calibration"].iloc[0]
    for name in ("phi0", "log10_t"):
        # same cells and likelihood up to rounding of the k x k Cholesky (1e-9 of the prior width)
        assert row[f"{name}_mean"] == pytest.approx(direct[name]["mean"], abs=1e-9)


def test_summary_page_quotes_the_tables(stage, tmp_path):
    src = {"validation": "v.csv", "identifiability": "i.csv", "example": "e.json"}
    ident = stage["identifiability"]
    page = inference_summary(validation=stage["validation"], identifiability=ident, example=stage["example"],
                             sources=src)
    row = next(line for line in page.splitlines() if line.startswith("| phi0 |") and "band" in line)
    r = ident.set_index("parameter").loc["phi0"]
    assert f"| {r['coverage_hpd']:.2f} | {r['coverage_central']:.2f} |" in row
    assert r["rank_counts"] in row
    for name in src.values():
        assert f"From `{name}`." in page
    ids = stage["example"]["ids"]
    assert f"Example: {ids['sim_id']}, snapshot {ids['snapshot']}" in page
    # the files as the rule writes and reads them give the same page
    ident.to_csv(tmp_path / "i.csv", index=False)
    stage["validation"].to_csv(tmp_path / "v.csv", index=False)
    again = inference_summary(validation=pd.read_csv(tmp_path / "v.csv"),
                              identifiability=pd.read_csv(tmp_path / "i.csv"), example=stage["example"],
                              sources=src)
    assert again == page


def test_summary_of_a_fixed_parameter(one_quench):
    _, out = one_quench
    page = inference_summary(validation=out["validation"], identifiability=out["identifiability"],
                             example=out["example"], sources={"validation": "v", "identifiability": "i",
                                                              "example": "e"})
    assert "| chi/chi_s | fixed |" in page and "one value in the study" in page


def test_figures_draw_from_the_files(stage, one_quench):
    for out in (stage, one_quench[1]):
        for fig in (P.plot_calibration(out["calibration"], out["identifiability"]),
                    P.plot_identifiability(out["calibration"], out["identifiability"]),
                    P.plot_example(out["example"], out["grid"])):
            assert len(fig.axes) >= 3


@pytest.mark.parametrize("kw, match", [
    (dict(n_grid=2), r"inference\.n_grid = 2: give an integer in \[4, 80\]"),
    (dict(level=1.0), r"inference\.level = 1\.0: give a credible level in \(0, 1\)"),
    (dict(rank_bins=1), r"inference\.rank_bins = 1: give an integer >= 2"),
])
def test_bad_settings_refused(study, kw, match):
    settings = dict(n_grid=N_GRID, level=0.9, rank_bins=4) | kw
    with pytest.raises(ParameterError, match=match):
        S.run_stage(*study, features=FEATURES, **settings)


def test_bad_studies_refused(study):
    table, arrays, held, harr = study
    with pytest.raises(ParameterError, match="the calibration set is empty: set inference.calibration_runs"):
        S.run_stage(table, arrays, held.iloc[:0], {"q": Q, "s_q": harr["s_q"][:0]}, features=FEATURES,
                    n_grid=N_GRID)
    with pytest.raises(ParameterError, match="q grid differs from the study's"):
        S.run_stage(table, arrays, held, {"q": 2 * Q, "s_q": harr["s_q"]}, features=FEATURES, n_grid=N_GRID)
    with pytest.raises(InputFileError, match=r"inference/calibration_set.csv lacks the column\(s\) quench"):
        S.run_stage(table, arrays, held.drop(columns="quench"), harr, features=FEATURES, n_grid=N_GRID)
    one_each = table[table["sim_id"].str.endswith("_r0")]  # no replicates anywhere
    rows = one_each.index.to_numpy()
    with pytest.raises(ParameterError, match="the inference stage needs replicate runs: no replicate runs"):
        S.run_stage(one_each.reset_index(drop=True), {"q": Q, "s_q": arrays["s_q"][rows]}, held, harr,
                    features=FEATURES, n_grid=N_GRID)


def test_calibration_snapshots_outside_the_prior_box_are_left_out(study):
    """A calibration snapshot beyond the study's range (here t > 60: the study
    dropped its late snapshots, say) has no prior mass at its truth: it is
    left out, named in ``outside``, and the rest are calibrated."""
    table, arrays, held, harr = study
    late = held.copy()
    late.loc[0, "time_over_tau"] = 80.0
    out = S.run_stage(table, arrays, late, harr, features=FEATURES, n_grid=N_GRID)
    assert len(out["calibration"]) == len(held) - 1
    assert out["outside"][["sim_id", "snapshot"]].values.tolist() == [[held.loc[0, "sim_id"], 0]]


def test_bad_files_refused(stage, tmp_path):
    with pytest.raises(InputFileError, match="no such file; run the rule calibrate_inference"):
        S.read_example(tmp_path / "none.json", tmp_path / "none.npz")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputFileError, match="not JSON"):
        S.read_example(tmp_path / "bad.json", tmp_path / "none.npz")
    with pytest.raises(InputFileError, match="the calibration table lacks the column"):
        S.identifiability_table(stage["calibration"].drop(columns="phi0_quantile"), lo=[0, 0, 0], hi=[1, 1, 1])
    with pytest.raises(InputFileError, match=r"i\.csv lacks the column\(s\) rank_band"):
        inference_summary(validation=stage["validation"],
                          identifiability=stage["identifiability"].drop(columns="rank_band"),
                          example=stage["example"], sources={"validation": "v", "identifiability": "i.csv",
                                                             "example": "e"})
