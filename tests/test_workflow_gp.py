"""Workflow test of the Gaussian-process stage (issue 6) on the tiny study."""

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.workflow

FIGURES = ["gp_few_points", "gp_posterior", "gp_hyperparameter_maps", "emulator_validation",
           "emulator_response", "emulator_adaptive_design", "emulator_ch1d"]


@pytest.mark.parametrize("name", FIGURES)
def test_figures_exist_with_provenance(tiny_run, name):
    fig = tiny_run / "results/tiny/figures" / f"{name}.png"
    assert fig.stat().st_size > 5000
    assert (fig.parent / f"{name}.png.prov.json").exists()


def test_foundations_tables(tiny_run):
    res = tiny_run / "results/tiny/foundations"
    check = pd.read_csv(res / "loo_check.csv")
    # closed-form LOO equals brute-force refits to round-off
    assert (check["max_abs_difference"] <= 1e-8 * np.maximum(1, check["max_abs_value"])).all()
    opt = pd.read_csv(res / "gp_optima.csv")
    grid = opt[opt["source"] == "grid"].set_index("method")
    # the marginal likelihood has an interior optimum at a length scale of
    # order the data's curvature scale (lambda from 1 to 7.6)
    assert not grid.loc["lml", "on_grid_edge"]
    assert 0.5 < grid.loc["lml", "length_scale"] < 7
    # the buggy LOOCV squared error is minimised at the shortest length scale
    assert grid.loc["buggy_sq_error", "on_grid_edge"]
    # the best local likelihood maximum is scikit-learn's multi-start optimum
    local = opt[opt["method"] == "lml_local_maximum"]
    sk = opt[(opt["source"] == "sklearn_lbfgs")
             & (opt["output_scaling"] == local["output_scaling"].iloc[0])]
    assert local["value"].max() == pytest.approx(sk["value"].iloc[0], abs=1e-3)
    arr = np.load(res / "tutorial.npz")
    # neo-Hookean modulus of vulcanised rubber: ~0.4-0.6 MPa (Treloar 1975)
    assert 0.2 < float(arr["G_mpa"]) < 1.0


def test_emulator_outputs(tiny_run):
    res = tiny_run / "results/tiny/emulator"
    runs = pd.read_csv(res / "runs.csv")
    assert set(runs["role"]) == {"train", "test"}
    assert (runs["L_first_moment"] > 0).all()
    # domains coarsen: L grows with time in every run
    for _, g in runs.groupby("sim_id"):
        assert g.sort_values("time_over_tau")["L_first_moment"].iloc[-1] > \
            g.sort_values("time_over_tau")["L_first_moment"].iloc[0]
    metrics = pd.read_csv(res / "metrics.csv")
    assert np.isfinite(metrics[["rmse", "coverage95", "z_std"]].to_numpy()).all()
    speed = pd.read_csv(res / "speedup.csv").iloc[0]
    assert speed["speedup"] > 1
    curve = pd.read_csv(res / "adaptive_curve.csv")
    assert set(curve["design"]) == {"adaptive", "random"}
    ch = np.load(res / "ch1d.npz")
    assert ch["phi"].shape == ch["mean"].shape
    assert np.allclose(ch["phi"].mean(axis=1), float(ch["phi0"]), atol=1e-10)
    assert 0 <= float(ch["coverage95_held_out"]) <= 1
