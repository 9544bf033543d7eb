"""Workflow tests of the partial-view classification stage on the tiny study
(outputs of the session's tiny run; see tests/conftest.py)."""

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import ROOT, TINY, snakemake, tiny_config_with

pytestmark = pytest.mark.workflow

CLS = "results/tiny/classification"


def test_outputs_exist_and_figures_made(tiny_run):
    for name in ("biasvar_vs_fraction", "class_errors", "complexity_tradeoff"):
        fig = tiny_run / f"results/tiny/figures/{name}.png"
        assert fig.stat().st_size > 0
        assert (tiny_run / f"results/tiny/figures/{name}.png.prov.json").exists()
    for rule in ("bootstrap_classifiers", "compute_view_features", "sweep_complexity"):
        assert list((tiny_run / f"benchmarks/results/tiny/{rule}").glob("*.tsv"))


def test_every_classification_output_has_its_provenance(tiny_run):
    """Tables and arrays of the stage's compute rules (labels, section
    structures, view features, bootstrap predictions, error decomposition)
    carry a provenance sidecar like every other compute output."""
    files = [f for f in (tiny_run / CLS).rglob("*") if f.is_file() and not f.name.endswith(".prov.json")]
    assert len(files) >= 6
    missing = [str(f.relative_to(tiny_run)) for f in files
               if not f.with_name(f.name + ".prov.json").exists()]
    assert not missing, missing


def test_labels_are_physical(tiny_run):
    lab = pd.read_csv(tiny_run / CLS / "labels_study.csv")
    cfg = yaml.safe_load(TINY.read_text())
    assert len(lab) == 6 * cfg["simulation"]["time"]["n_snapshots"]
    # off-critical blends (phi0 = 0.3) form droplets; the minority phase of
    # a 2D 50:50 blend spans the box in some snapshots
    assert (lab.loc[lab.phi0 == 0.3, "label_percolation"] == 0).all()
    assert lab.loc[lab.phi0 == 0.5, "label_percolation"].any()
    assert (lab["minority_fraction"] <= 0.5).all()
    sec = pd.read_csv(tiny_run / CLS / "labels_sections.csv")
    # Gaussian-field cuts: the median cut (level 0) is bicontinuous in 3D,
    # the highest level leaves isolated blobs of the minority phase
    assert (sec.loc[sec.snapshot == 0, "label_percolation"] == 1).all()
    assert (sec.loc[sec.snapshot == sec.snapshot.max(), "label_percolation"] == 0).all()


def test_split_and_fractions(tiny_run):
    from scattermorph.classify.features import load_features

    cfg = yaml.safe_load(TINY.read_text())["classification"]
    for kind in cfg["views"]["kinds"]:
        data = load_features(tiny_run / CLS / "features" / f"{kind}.npz")
        rows = data["rows"]
        train = set(rows.loc[~rows.test, "group"])
        test = set(rows.loc[rows.test, "group"])
        assert train and test and not train & test  # grouped by simulation
        for j, f in enumerate(cfg["views"]["fractions"]):
            got = rows.loc[rows.f_index == j, "fraction"]
            # pixel subsets exact to one pixel, windows to one row of the window
            assert np.all(np.abs(got - f) <= 0.02), (kind, f, got.unique())
        assert np.isfinite(data["raw"]).all() and np.isfinite(data["physics"]).all()


def test_decomposition_table(tiny_run):
    t = pd.read_csv(tiny_run / CLS / "biasvar.csv")
    cfg = yaml.safe_load(TINY.read_text())["classification"]
    n = len(cfg["views"]["kinds"]) * len(cfg["features"]) * len(cfg["models"]) * len(cfg["views"]["fractions"])
    assert len(t) == n
    assert (t["rounds"] == cfg["bootstrap"]["rounds"]).all()
    # Domingos: loss = bias + V_u - V_b (noise-free); Kohavi-Wolpert: loss = bias2 + variance
    np.testing.assert_allclose(t["loss"], t["bias"] + t["net_variance"], atol=1e-12)
    np.testing.assert_allclose(t["loss"], t["kw_bias2"] + t["kw_variance"], atol=1e-12)
    np.testing.assert_allclose(t["brier"], t["brier_bias"] + t["brier_variance"], atol=1e-6)
    assert ((t["loss"] >= 0) & (t["loss"] <= 1)).all()
    assert ((t["fisher_p"].isna()) | ((t["fisher_p"] > 0) & (t["fisher_p"] <= 1))).all()
    sweep = pd.read_csv(tiny_run / CLS / "complexity.csv")
    assert set(sweep["model"]) == {"knn", "random_forest"}
    assert len(sweep) == len(cfg["complexity"]["knn_k"]) + len(cfg["complexity"]["forest_depth"])


def test_invalid_classification_config_refused(tmp_path):
    for key, value, text in [
        ("classification.complexity.kind", "pixels_x", "classification.complexity.kind"),
        ("classification.radii", [4, 2], "strictly increasing"),
        ("classification.views.fractions", [0.0, 0.5], "classification.views.fractions[0]"),
        ("classification.sections.source", "study", "needs a 3D study"),
        ("classification.views.kinds", ["window", "subvolume_voxels"],
         "['subvolume_voxels'] are 3D views of a 3D study's snapshots, but study.dimension is 2"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(tiny_config_with(key, value)))
        res = snakemake("--configfile", str(bad), "-n", cwd=tmp_path)
        assert res.returncode != 0 and text in res.stdout + res.stderr, (key, (res.stdout + res.stderr)[-1500:])


@pytest.mark.slow
def test_same_predictions_whatever_cores(tiny_run, tmp_path):
    """The stage at --cores 1 (on a copy of the tiny run's upstream outputs)
    reproduces the --cores 2 predictions bit for bit: every draw comes from
    SeedSequence([seed, 5, ...]) keyed by round, model and view, never by job."""
    src = tiny_run / "results/tiny"
    dst = tmp_path / "results/tiny"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("classification", "figures"))
    res = snakemake("--configfile", str(ROOT / "config/tiny.yaml"), "--cores", "1",
                    f"{CLS}/biasvar.csv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for a in sorted((src / "classification/predictions").glob("*.npz")):
        with np.load(a) as za, np.load(dst / "classification/predictions" / a.name) as zb:
            np.testing.assert_array_equal(za["pred"], zb["pred"])
            np.testing.assert_array_equal(za["proba"], zb["proba"])
    pd.testing.assert_frame_equal(pd.read_csv(src / "classification/biasvar.csv"),
                                  pd.read_csv(dst / "classification/biasvar.csv"), check_exact=True)
