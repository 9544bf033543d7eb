"""The inference stage's orchestration (scattermorph.inference_study) on a small
synthetic study whose curves are a known smooth function of (phi0, chi/chi_s, t).

Independent answers: the held-out snapshots and their ids against the split,
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

from scattermorph import inference as inf
from scattermorph import inference_study as S
from scattermorph.errors import InputFileError, ParameterError

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
    """(table, arrays, split): 4 compositions x quenches x replicates runs of 5
    snapshots; replicates 0 and 3 train, 1 and 2 are held out (with 2
    replicates: 0 trains, 1 is held out, so the training runs hold no replicates)."""
    rng = np.random.default_rng(seed)
    rows, curves, split = [], [], []
    for phi0 in (0.2, 0.3, 0.4, 0.5):
        for quench in quenches:
            for rep in range(replicates):
                sim = f"p{phi0}_q{quench}_r{rep}"
                subset = "train" if rep in (0, 3) else "test"
                split.append({"sim_id": sim, "phi0": phi0, "quench": quench, "replicate": rep, "subset": subset})
                for k, t in enumerate(np.geomspace(5, 60, 5)):
                    q1 = 0.3 * t ** (-1 / 3)
                    rows.append(dict(sim_id=sim, snapshot=k, phi0=phi0, quench=quench, time_over_tau=t,
                                     dimension=3, volume_density=phi0, surface_density=2.0 * q1,
                                     mean_curvature_density=0.1 * q1 ** 2,
                                     euler_density=-0.01 * q1 ** 3 * (1 + phi0)))
                    curves.append(_curve(phi0, quench, t) * np.exp(0.02 * rng.standard_normal(Q.size)))
    return pd.DataFrame(rows), {"q": Q, "s_q": np.array(curves)}, pd.DataFrame(split)


@pytest.fixture(scope="module")
def study():
    return make_study()


@pytest.fixture(scope="module")
def stage(study):
    table, arrays, split = study
    return S.run_stage(table, arrays, split, features=FEATURES, n_grid=N_GRID, level=0.9, rank_bins=4, seed=1)


@pytest.fixture(scope="module")
def one_quench():
    """One quench depth, two replicates (the shape of the tiny test studies)."""
    table, arrays, split = make_study(quenches=(1.15,), replicates=2)
    out = S.run_stage(table, arrays, split, features=FEATURES, n_grid=N_GRID, level=0.9, rank_bins=4, seed=1)
    return (table, arrays, split), out


def test_calibration_table_has_every_held_out_snapshot(study, stage):
    table, _, split = study
    cal = stage["calibration"]
    held = table[table["sim_id"].isin(split.loc[split["subset"] == "test", "sim_id"])]
    assert len(cal) == len(held) == 80
    assert list(cal.columns[:3]) == ["sim_id", "snapshot", "time_over_tau"]
    assert sorted(zip(cal["sim_id"], cal["snapshot"])) == sorted(zip(held["sim_id"], held["snapshot"]))
    for name in inf.PARAMS:
        # a quantile is a sum of cell masses: 1 up to rounding (1 + 2e-16 is seen)
        assert cal[f"{name}_quantile"].between(-1e-12, 1 + 1e-12).all()
        assert cal[f"{name}_width_ratio"].between(0, 1).all()
    # the truths are the held-out rows' own parameters
    assert np.allclose(np.sort(cal["log10_t_true"]), np.sort(np.log10(held["time_over_tau"])))


def test_identifiability_counts_bands_and_correlations(stage):
    ident = stage["identifiability"].set_index("parameter")
    n, n_runs = 80, 16
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
    assert (v["n"] == 80).all() and (v["n_runs"] == 16).all() and (v["n_train_runs"] == 16).all()


def test_example_is_the_snapshot_nearest_the_box_centre(study, stage):
    """Box centre: phi0 0.35 (equidistant from 0.3 and 0.4), quench 1.325
    (equidistant from both), log10 t at the middle snapshot (t = sqrt(5 x 60),
    snapshot 2). Ties go to the first sim_id: p0.3_q1.15_r1."""
    doc = stage["example"]
    assert doc["ids"]["sim_id"] == "p0.3_q1.15_r1" and doc["ids"]["snapshot"] == 2
    assert doc["posterior"]["params"]["phi0"]["truth"] == 0.3
    assert set(doc["functionals"]) == {"volume_density", "surface_density", "mean_curvature_density",
                                       "euler_density"}
    assert doc["functionals"]["volume_density"]["true"] == 0.3
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


def test_one_quench_depth_is_fixed_and_noise_comes_from_all_runs(one_quench):
    (_, _, _), out = one_quench
    ident = out["identifiability"].set_index("parameter")
    assert not ident.loc["quench", "inferred"] and ident.loc[["phi0", "log10_t"], "inferred"].all()
    assert np.isnan(ident.loc["quench", ["coverage_hpd", "width_ratio", "corr_phi0"]].astype(float)).all()
    assert np.isnan(ident.loc["phi0", "corr_quench"]) and ident.loc["phi0", "rank_counts"] != "n/a"
    assert ident.loc["quench", "rank_counts"] == "n/a"
    cal = out["calibration"]
    assert (cal["quench_mean"] == 1.15).all() and cal["quench_quantile"].isna().all()
    assert cal["phi0_quantile"].between(-1e-12, 1 + 1e-12).all()  # 1 up to rounding, as above
    assert (out["validation"]["noise_source"] == S.NOISE_ALL_RUNS).all()
    assert out["example"]["fixed"] == ["quench"]


def test_fixed_parameter_view_gives_the_direct_posterior(one_quench):
    """With one quench depth, calibrate sees the emulator through a view with a
    flat unit-width quench axis: the phi0 and t posteriors must equal the
    direct grid posterior of the emulator itself (whose quench axis is a point)."""
    (table, arrays, split), out = one_quench
    train, test = inf.split_by_simulation(table, split)
    cal_model, _ = S.fit_study_calibration(table, arrays, train, features=FEATURES, seed=1)
    em = cal_model.emulator
    X, _ = inf.study_features(Q, arrays["s_q"][test], 3, **cal_model.features)
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
    page = S.inference_summary(validation=stage["validation"], identifiability=ident, example=stage["example"],
                               sources=src)
    row = next(line for line in page.splitlines() if line.startswith("| phi0 |") and "band" in line)
    r = ident.set_index("parameter").loc["phi0"]
    assert f"| {r['coverage_hpd']:.2f} | {r['coverage_central']:.2f} |" in row
    assert r["rank_counts"] in row
    for name in src.values():
        assert f"From `{name}`." in page
    assert "Example: p0.3_q1.15_r1, snapshot 2" in page
    # the files as the rule writes and reads them give the same page
    ident.to_csv(tmp_path / "i.csv", index=False)
    stage["validation"].to_csv(tmp_path / "v.csv", index=False)
    again = S.inference_summary(validation=pd.read_csv(tmp_path / "v.csv"),
                                identifiability=pd.read_csv(tmp_path / "i.csv"), example=stage["example"],
                                sources=src)
    assert again == page


def test_summary_of_a_fixed_parameter(one_quench):
    _, out = one_quench
    page = S.inference_summary(validation=out["validation"], identifiability=out["identifiability"],
                               example=out["example"], sources={"validation": "v", "identifiability": "i",
                                                                "example": "e"})
    assert "| chi/chi_s | fixed |" in page and "one value in the training runs" in page
    assert S.NOISE_ALL_RUNS in page


def test_figures_draw_from_the_files(stage, one_quench):
    from scattermorph import plot_inference as P

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
    table, arrays, split = study
    settings = dict(n_grid=N_GRID, level=0.9, rank_bins=4) | kw
    with pytest.raises(ParameterError, match=match):
        S.run_stage(table, arrays, split, features=FEATURES, **settings)


def test_bad_studies_refused(study):
    table, arrays, split = study
    with pytest.raises(ParameterError, match="does not name every simulation"):
        S.run_stage(table, arrays, split.iloc[1:], features=FEATURES, n_grid=N_GRID)
    with pytest.raises(ParameterError, match="holds out no simulation"):
        S.run_stage(table, arrays, split.assign(subset="train"), features=FEATURES, n_grid=N_GRID)
    with pytest.raises(InputFileError, match=r"learning/split.csv lacks the column\(s\) subset"):
        S.run_stage(table, arrays, split.drop(columns="subset"), features=FEATURES, n_grid=N_GRID)
    single = table[table["sim_id"].str.endswith(("_r0", "_r1"))]
    one_each = single.drop_duplicates(["phi0", "quench", "time_over_tau"])  # no replicates anywhere
    rows = one_each.index.to_numpy()
    with pytest.raises(ParameterError, match="the inference stage needs replicate runs: no replicate runs"):
        S.run_stage(one_each.reset_index(drop=True), {"q": Q, "s_q": arrays["s_q"][rows]},
                    split[split["sim_id"].isin(one_each["sim_id"])].assign(
                        subset=lambda d: np.where(d["phi0"] < 0.35, "train", "test")),
                    features=FEATURES, n_grid=N_GRID)


def test_bad_files_refused(stage, tmp_path):
    with pytest.raises(InputFileError, match="no such file; run the rule calibrate_inference"):
        S.read_example(tmp_path / "none.json", tmp_path / "none.npz")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputFileError, match="not JSON"):
        S.read_example(tmp_path / "bad.json", tmp_path / "none.npz")
    with pytest.raises(InputFileError, match="the calibration table lacks the column"):
        S.identifiability_table(stage["calibration"].drop(columns="phi0_quantile"), lo=[0, 0, 0], hi=[1, 1, 1])
    with pytest.raises(InputFileError, match=r"i\.csv lacks the column\(s\) rank_band"):
        S.inference_summary(validation=stage["validation"],
                            identifiability=stage["identifiability"].drop(columns="rank_band"),
                            example=stage["example"], sources={"validation": "v", "identifiability": "i.csv",
                                                               "example": "e"})
