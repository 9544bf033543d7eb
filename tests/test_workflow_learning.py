"""Workflow tests of the learning stage on the tiny study (marked `workflow`)."""

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import TINY, planned_rules, snakemake, tiny_config_with

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def learning(tiny_run):
    return tiny_run / "results/tiny/learning"


def test_split_holds_out_whole_simulations(tiny_run, learning):
    split = pd.read_csv(learning / "split.csv")
    dataset = pd.read_csv(tiny_run / "results/tiny/dataset.csv")
    assert set(split["sim_id"]) == set(dataset["sim_id"])
    test_ids = set(split.loc[split["subset"] == "test", "sim_id"])
    assert 0 < len(test_ids) < len(split)
    preds = pd.read_csv(learning / "test_predictions.csv")
    # every test prediction is of a held-out run, and every held-out row is predicted
    assert set(preds["sim_id"]) == test_ids
    n_test_rows = dataset["sim_id"].isin(test_ids).sum()
    assert (preds.groupby("functional").size() == n_test_rows).all()
    # cross-validation saw the training runs only
    cfg = yaml.safe_load(TINY.read_text())["learning"]
    for kind in cfg["features"]:
        for model in cfg["models"]:
            cv = pd.read_csv(learning / "cv" / kind / f"{model}_predictions.csv")
            assert not set(cv["sim_id"]) & test_ids


def test_comparison_covers_every_input_model_and_functional(learning):
    cfg = yaml.safe_load(TINY.read_text())["learning"]
    comp = pd.read_csv(learning / "comparison.csv")
    assert len(comp) == len(cfg["features"]) * len(cfg["models"]) * 3  # 3 functionals in 2D
    sel = pd.read_csv(learning / "selection.csv")
    assert sorted(sel["functional"]) == ["area_density", "euler_density", "perimeter_density"]
    assert sel["model"].str.startswith("gp_").all() and not sel["model"].str.endswith("_joint").any()
    # the selection is the best cross-validated GP of each functional
    for r in sel.itertuples():
        c = comp[(comp["functional"] == r.functional) & comp["gp"] & ~comp["model"].str.endswith("_joint")]
        assert r.cv_r2 == pytest.approx(c["r2"].max())


def test_targets_agree_with_test_metrics(learning):
    metrics = pd.read_csv(learning / "test_metrics.csv")
    targets = pd.read_csv(learning / "targets.csv")
    gp = metrics[metrics["role"] != "physics"].set_index(["functional", "role"])
    for r in targets.itertuples():
        m = gp.loc[(r.functional, r.role)]
        assert r.r2 == m["r2"]
        assert r.r2_met == (r.r2 >= r.r2_target)
        assert r.coverage_met == (r.coverage_target_lo <= r.coverage_95 <= r.coverage_target_hi)
        ok = [lo <= v <= hi for v, lo, hi in ((r.coverage_95_cal, r.coverage_target_lo, r.coverage_target_hi),
                                              (r.coverage_68_cal, r.coverage_68_target_lo, r.coverage_68_target_hi),
                                              (r.z_std_cal, r.z_std_target_lo, r.z_std_target_hi))]
        assert r.calibration_met_cal == all(ok)
    # the paper's exact GP is scored beside the selected model of every functional (tiny.yaml has gp_paper)
    assert set(targets["role"]) == {"selected", "baseline"}
    assert (targets.loc[targets["role"] == "baseline", "model"] == "gp_paper").all()
    assert targets.groupby("functional").size().eq(2).all()
    # the recalibrated std is the selected model's CV factor times its own std
    factors = pd.read_csv(learning / "calibration_factors.csv")
    preds = pd.read_csv(learning / "test_predictions.csv").merge(factors, on=["functional", "features", "model"])
    np.testing.assert_allclose(preds["y_std_cal"], preds["sigma_scale"] * preds["y_std"], rtol=1e-9)
    assert (factors["sigma_scale"] > 0).all() and (factors["n_cv"] > 0).all()
    # the physics estimators are scored beside the models
    assert set(metrics.loc[metrics["model"] == "physics", "functional"]) == {"area_density", "perimeter_density"}
    assert np.isfinite(metrics["rmse"]).all()
    summary = (learning / "summary.md").read_text()
    assert "paper's GP" in summary and " -> " in summary


def test_robustness_extrapolation_and_paper_tables(learning):
    rob = pd.read_csv(learning / "robustness.csv")
    assert rob["setting"].min() == -1 and rob["setting"].nunique() == 2
    # the tiny setting has a resolution: scored trained on ideal and on smeared curves
    assert set(rob.loc[rob["setting"] == 0, "training"]) == {"ideal", "smeared"}
    assert set(rob.loc[rob["setting"] == -1, "training"]) == {"ideal"}
    assert "trained on smeared" in (learning / "summary.md").read_text()
    ext = pd.read_csv(learning / "extrapolation.csv")
    assert set(ext["domain"]) == {"inside", "outside"} and set(ext["parameter"]) == {"phi0"}
    assert (ext.loc[ext["domain"] == "outside", "value"] > 0.4).all()
    assert (ext["y_std"] > 0).all()
    paper = pd.read_csv(learning / "paper_protocol.csv")
    assert set(paper["kernel"]) == {"squared_exponential", "rational_quadratic", "matern52", "exponential"}
    lc = pd.read_csv(learning / "learning_curves.csv")
    assert set(lc["n_sims"]) <= {1, 2, 3}


def test_learning_figures_and_table_exist(tiny_run):
    figs = tiny_run / "results/tiny/figures"
    for name in ["parity", "error_vs_euler", "calibration", "learning_curves", "extrapolation",
                 "model_comparison", "paper_protocol", "robustness"]:
        data = (figs / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
        assert (figs / f"{name}.png.prov.json").exists()
    page = (figs / "model_comparison.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<b>" in page


def test_changing_a_learning_setting_reruns_only_learning(tiny_run, tmp_path):
    """A learning parameter plans the learning jobs and their figures, never a
    simulation or measurement."""
    cfg = tiny_config_with("learning.restarts", 1)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    res = snakemake("--configfile", str(changed), "-n", cwd=tiny_run)
    assert res.returncode == 0, res.stderr[-2000:]
    planned = planned_rules(res)
    assert "cross_validate_models" in planned and "plot_parity" in planned
    assert not planned & {"simulate_microstructure", "measure_snapshots", "assemble_dataset",
                          "plot_morphology_gallery", "split_dataset"}


def test_editing_a_target_leaves_the_cross_validation_current(tiny_run, tmp_path):
    """The cross-validation jobs take only the learning keys they use as
    params: changing a target (which only the held-out check reads) marks no
    cross-validation file stale by its parameters (FINDINGS: it used to mark
    all of them, and rerun them)."""
    from scattermorph.audit import audit

    cfg = yaml.safe_load(TINY.read_text())
    old = cfg["learning"]["targets"]["r2"]["perimeter_density"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(tiny_config_with("learning.targets.r2.perimeter_density", old / 2)))
    problems, _ = audit([tiny_run / "results/tiny/learning"], params=True, configfile=changed)
    by_params = [p for p in problems if "parameters changed" in p]
    assert by_params  # the rules that read the targets are reported ...
    assert not any("/cv/" in p for p in by_params), by_params  # ... the cross-validation is not


def test_only_a_study_that_says_so_ships_its_model(tiny_run, tmp_path):
    """learning.ship_model (false in tiny) adds the ship_model job that writes
    models/default.npz; without it nothing writes to models/."""
    assert not (tiny_run / "models").exists()
    changed = tmp_path / "ship.yaml"
    changed.write_text(yaml.safe_dump(tiny_config_with("learning.ship_model", True)))
    res = snakemake("--configfile", str(changed), "-n", cwd=tiny_run)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ship_model" in planned_rules(res) and "models/default.npz" in res.stdout
