"""The 3D study end to end (issue 14), on config/tiny3d.yaml (marked `workflow`).

config/tiny3d.yaml has the structure of the 3D default study (config.yaml):
dimension 3, cells sized by the fastest-growing wavelength, the study's own
snapshots behind the partial views, four functionals. The whole DAG runs once
per session (``tiny3d_run``); these tests check what is 3D about every stage.
"""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import ROOT, snakemake

pytestmark = pytest.mark.workflow

TINY3D = ROOT / "config/tiny3d.yaml"
FUNCTIONALS_3D = ["volume_density", "surface_density", "mean_curvature_density", "euler_density"]


@pytest.fixture(scope="module")
def tiny3d_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("tiny3d")
    res = snakemake("--configfile", str(TINY3D), "--cores", "2", cwd=wd, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    return wd


def test_every_run_holds_its_wavelengths_and_the_dataset_has_four_functionals(tiny3d_run):
    """Each run's cell is its fastest-growing wavelength / cells_per_wavelength
    (the box holds grid / cells_per_wavelength wavelengths); the dataset is 3D
    with the four Minkowski densities, and lists what the box/4-type rule
    dropped (the tiny config allows half the box)."""
    cfg = yaml.safe_load(TINY3D.read_text())
    res = tiny3d_run / "results/tiny3d"
    sims = pd.read_csv(res / "simulations.csv")
    table = pd.read_csv(res / "dataset.csv")
    dropped = pd.read_csv(res / "dataset_dropped.csv")
    assert set(table["dimension"]) == {3}
    assert table[FUNCTIONALS_3D].notna().all().all()
    n_snap = len(sims) * cfg["simulation"]["time"]["n_snapshots"]
    assert len(table) + len(dropped) == n_snap
    ratio = table["L_first_moment"] / (table["grid"] * table["dx"])
    assert ratio.max() <= cfg["measurement"]["max_length_fraction"]
    assert (dropped["L_over_box"] > cfg["measurement"]["max_length_fraction"]).all()
    lam = sims.set_index("sim_id")["lambda_fastest"]
    box = table.groupby("sim_id")[["grid", "dx"]].first().prod(axis=1)
    wavelengths = box / lam.loc[box.index]
    assert np.allclose(wavelengths, cfg["simulation"]["grid"] / cfg["simulation"]["cells_per_wavelength"])
    summary = (res / "dataset/summary.md").read_text()
    assert "snapshots dropped" in summary


def test_learning_reports_the_four_functionals(tiny3d_run):
    page = (tiny3d_run / "results/tiny3d/learning/summary.md").read_text()
    for f in FUNCTIONALS_3D:
        assert f in page, f


def test_partial_views_use_the_study_snapshots_with_both_classes(tiny3d_run):
    res = tiny3d_run / "results/tiny3d/classification"
    labels = pd.concat(pd.read_csv(p) for p in sorted(res.glob("labels*.csv")))
    assert set(labels["label_percolation"]) == {0, 1}


def test_inference_stage_in_3d(tiny3d_run):
    """The inference stage on the 3D study: every snapshot of the calibration
    runs has its posterior, the example implies the four 3D densities, and the posterior
    grid is n_grid^3 and normalised."""
    cfg = yaml.safe_load(TINY3D.read_text())
    res = tiny3d_run / "results/tiny3d/inference"
    held = pd.read_csv(res / "calibration_set.csv")
    cal = pd.read_csv(res / "calibration.csv")
    assert held["sim_id"].nunique() == cfg["inference"]["calibration_runs"]
    assert 0 < len(cal) <= len(held) and set(cal["sim_id"]) <= set(held["sim_id"])
    ident = pd.read_csv(res / "identifiability.csv")
    assert ident["parameter"].tolist() == ["phi0", "quench", "log10_t"]
    doc = json.loads((res / "example.json").read_text())
    assert set(doc["functionals"]) == set(FUNCTIONALS_3D)
    with np.load(res / "example_posterior.npz") as z:
        assert z["weights"].shape == (cfg["inference"]["n_grid"],) * 3
        assert z["weights"].sum() == pytest.approx(1, abs=1e-9)  # normalised, to rounding
    page = (res / "summary.md").read_text()
    assert f"Example: {doc['ids']['sim_id']}" in page


def test_transfer_stage_scores_every_set_next_to_the_same_simulator(tiny3d_run):
    """The transfer stage on the 3D study: every configured set and the
    same-simulator reference are scored per functional, each set's term is
    fitted without it, and the summary and figure are written."""
    cfg = yaml.safe_load(TINY3D.read_text())["transfer"]
    res = tiny3d_run / "results/tiny3d/transfer"
    scores = pd.read_csv(res / "scores.csv")
    assert set(scores["set"]) == set(cfg["sets"]) | {"same_simulator"}
    assert set(scores["functional"]) == set(FUNCTIONALS_3D)
    assert ((scores["n"] <= scores["n_all"]) & (scores["coverage_95"].between(0, 1) | scores["n"].eq(0))).all()
    loo = pd.read_csv(res / "leave_one_set_out.csv", keep_default_na=False)
    assert not any(held in fitted.split(",") for held, fitted in zip(loo["set"], loo["fitted_on"]))
    pred = pd.read_csv(res / "predictions.csv")
    grf = pred[pred["set"] == "grf"]
    assert len(grf) and not grf["in_domain"].any()  # a Gaussian-field cut is outside the blend model's domain
    assert "## Scores per set" in (res / "summary.md").read_text()
    assert (tiny3d_run / "results/tiny3d/figures/transfer.png").stat().st_size > 5_000


def test_every_figure_is_drawn_and_audit_is_clean(tiny3d_run):
    from scattermorph.audit import audit

    figs = sorted((tiny3d_run / "results/tiny3d/figures").glob("*.png"))
    names = {f.stem for f in figs}
    assert {"morphology_gallery", "motivating_pair", "coarsening", "inference_calibration",
            "inference_identifiability", "inference_example"} <= names
    for fig in figs:
        data = fig.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, fig.name
    notes = []
    problems, n = audit([tiny3d_run / "results"], params=True, notes=notes)
    assert problems == [] and n >= len(figs)
