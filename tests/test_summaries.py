"""Stage summaries (scattermorph.measure.summary, gp.summary, classify.summary; helpers in scattermorph._markdown): small hand-made tables whose
right numbers can be stated, the file names, determinism and row-order
independence."""

import numpy as np
import pandas as pd
import pytest

from scattermorph._markdown import fmt, md_table
from scattermorph.classify.summary import classification_summary
from scattermorph.errors import InputFileError
from scattermorph.gp.summary import emulator_summary, foundations_summary, scattering_emulator_section
from scattermorph.measure.summary import dataset_summary


def _row(page, first_cell):
    """Cells of the Markdown table row whose first cell is ``first_cell``."""
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in\n{page}")


@pytest.mark.parametrize("value, spec, text", [
    (None, ".3g", "n/a"), (float("nan"), ".3g", "n/a"), (float("inf"), ".3g", "n/a"), (True, ".3g", "yes"),
    (np.bool_(False), ".3g", "no"), (7, ".3g", "7"), (np.int64(12345), ".3g", "12345"),
    (0.123456, ".3g", "0.123"), (1234.5, ".3g", "1.23e+03"), (-0.0001, ".2f", "0"), ("gp_se", ".3g", "gp_se"),
])
def test_fmt_fixed_formats(value, spec, text):
    assert fmt(value, spec) == text


def test_md_table_shape():
    lines = md_table(["a", "b"], [("x", 0.5), ("y", 2)])
    assert lines == ["| a | b |", "| --- | --- |", "| x | 0.5 |", "| y | 2 |"]


def _dataset():
    # 3 simulations (2 compositions, 2 quenches), 2 snapshots each
    sims = pd.DataFrame({"sim_id": ["c", "a", "b"], "phi0": [0.5, 0.3, 0.3], "quench": [1.5, 1.5, 2.0],
                         "replicate": [0, 0, 0], "steps": [100, 300, 200], "grid": ["8x8"] * 3})
    ds = pd.DataFrame({"sim_id": ["a", "a", "b", "b", "c", "c"], "time_over_tau": [5, 50, 5, 50, 5, 50],
                       "dimension": 2, "area_density": [0.3, 0.31, 0.29, 0.3, 0.5, 0.49],
                       "perimeter_density": [0.1, 0.05, 0.12, 0.06, 0.2, 0.08],
                       "euler_density": [0.01, 0.0, -0.02, 0.0, 0.0, 0.0]})
    return sims, ds


SRC = {"simulations": "results/x/simulations.csv", "dataset": "results/x/dataset.csv"}


def test_dataset_summary_counts_and_ranges():
    sims, ds = _dataset()
    page = dataset_summary(simulations=sims, dataset=ds, sources=SRC)
    assert _row(page, "simulations")[1] == "3"
    assert _row(page, "snapshots (dataset rows)")[1] == "6"
    assert _row(page, "snapshots per simulation")[1] == "2"
    assert _row(page, "compositions phi0")[1] == "0.3, 0.5"
    assert _row(page, "quench depths chi / chi_s")[1] == "1.5, 2"
    assert _row(page, "time steps per simulation (min / median / max)")[1] == "100 / 200 / 300"
    assert _row(page, "snapshot times t / tau")[1] == "5-50"
    # min, median (of 6 values: mean of the middle two), max
    assert _row(page, "area_density")[1:] == ["0.29", "0.305", "0.5"]
    assert _row(page, "euler_density")[1:] == ["-0.02", "0", "0.01"]
    assert "volume_density" not in page  # 2D: only the columns present
    assert "From `results/x/simulations.csv`, `results/x/dataset.csv`." in page


def test_dataset_summary_counts_the_dropped_snapshots():
    sims, ds = _dataset()
    ds = ds.assign(grid=64, dx=2.0, L_first_moment=[10, 20, 10, 30, 12, 16])
    none = pd.DataFrame(columns=["sim_id", "snapshot", "time_over_tau", "L_first_moment", "box",
                                 "L_over_box"])
    page = dataset_summary(simulations=sims, dataset=ds, sources=SRC, dropped=none)
    assert _row(page, "snapshots dropped (L_first_moment > max_length_fraction x box)")[1] == "0"
    assert _row(page, "largest L_first_moment / box of the kept snapshots")[1] == fmt(30 / 128)
    two = pd.DataFrame({"sim_id": ["b", "b"], "snapshot": [2, 3], "time_over_tau": [80, 100],
                        "L_first_moment": [40, 45], "box": 128.0, "L_over_box": [40 / 128, 45 / 128]})
    page = dataset_summary(simulations=sims, dataset=ds, sources=SRC, dropped=two)
    assert _row(page, "snapshots dropped (L_first_moment > max_length_fraction x box)")[1] == (
        "2 (b from t/tau = 80)")


def test_dataset_summary_is_deterministic_and_order_free(rng):
    sims, ds = _dataset()
    page = dataset_summary(simulations=sims, dataset=ds, sources=SRC)
    shuffled = dataset_summary(simulations=sims.sample(frac=1, random_state=1),
                                 dataset=ds.iloc[rng.permutation(len(ds))], sources=SRC)
    assert page == shuffled == dataset_summary(simulations=sims, dataset=ds, sources=SRC)


def test_missing_column_names_file_and_column():
    sims, ds = _dataset()
    with pytest.raises(InputFileError, match=r"simulations.csv lacks the column\(s\) steps"):
        dataset_summary(simulations=sims.drop(columns="steps"), dataset=ds, sources=SRC)


def test_foundations_summary_relative_loo_error_and_modulus():
    optima = pd.DataFrame({"method": ["lml", "loo_log_prob"], "source": ["grid", "grid"],
                           "output_scaling": ["max", "max"], "length_scale": [2.0, 2.5],
                           "signal_variance": [3.0, 100.0], "noise_variance": [1e-4, 1e-4],
                           "value": [47.0, 2.9], "on_grid_edge": [False, True]})
    loo = pd.DataFrame({"quantity": ["mean", "variance"], "max_abs_difference": [1e-12, 0.0],
                        "max_abs_value": [2.0, 0.5]})
    page = foundations_summary(optima=optima, loo_check=loo, shear_modulus=0.3912, shear_modulus_se=0.0123,
                                 sources={"optima": "o.csv", "loo_check": "l.csv", "tutorial": "t.npz"})
    assert _row(page, "mean")[1:] == ["1e-12", "2", "5e-13"]  # relative = 1e-12 / 2
    assert _row(page, "variance")[3] == "0"
    assert _row(page, "lml")[3] == "2" and _row(page, "lml")[-1] == "no"
    assert _row(page, "loo_log_prob")[-1] == "yes"
    assert _row(page, "shear modulus G (MPa)")[1] == "0.391"
    assert _row(page, "standard error (MPa)")[1] == "0.012"
    for name in ("o.csv", "l.csv", "t.npz"):
        assert f"From `{name}`." in page


def _emulator_tables():
    metrics = pd.DataFrame({"output": ["b", "a"], "n": [12, 12], "n_runs": [3, 3], "rmse_relative": [0.1, 0.2],
                            "coverage95": [0.95, 0.5], "coverage_band_lo": [0.8, 0.8],
                            "coverage_band_hi": [1.0, 1.0], "z_std": [1.0, 3.0]})
    speed = pd.DataFrame({"simulation_plus_measurement_seconds": [2.0], "emulator_prediction_seconds": [0.001],
                          "speedup": [2000.0], "n_runs_timed": [4]})
    # 4 -> 6 runs; the adaptive design halves the error of output a at 6 runs
    adaptive = pd.DataFrame({"design": ["adaptive"] * 4 + ["random"] * 4, "n_runs": [4, 4, 6, 6] * 2,
                             "output": ["a", "b"] * 4,
                             "rmse_relative": [0.4, 0.3, 0.1, 0.2, 0.4, 0.3, 0.2, 0.2]})
    return metrics, speed, adaptive


def test_emulator_summary_calibration_speedup_and_adaptive_ratio():
    metrics, speed, adaptive = _emulator_tables()
    page = emulator_summary(metrics=metrics, speedup=speed, adaptive=adaptive,
                              ch1d={"rmse_held_out": 0.05, "coverage95_held_out": 1.0},
                              sources={"metrics": "m", "speedup": "s", "adaptive": "a", "ch1d": "c"})
    assert _row(page, "a")[4:7] == ["0.50", "0.80-1.00", "no"]  # 0.5 outside the band
    assert _row(page, "b")[4:7] == ["0.95", "0.80-1.00", "yes"]
    assert _row(page, "speed-up")[1] == "2e+03"
    assert "(6 training runs)" in page
    adaptive_rows = [line for line in page.split("## Adaptive")[1].splitlines() if line.startswith("| a ")]
    assert adaptive_rows == ["| a | 0.1 | 0.2 | 0.5 |"]
    assert _row(page, "held-out 95 % coverage")[1] == "1.00"


def _inference_validation():
    """Two components and the pooled row, as inference_study.validate_emulator writes them."""
    nan = float("nan")
    return pd.DataFrame({"component": ["2", "1", "pooled"], "explained_variance": [0.1, 0.8, 0.9],
                         "variance_scale": [1.0, 1.25, nan], "coverage": [0.9, 0.7, 0.8],
                         "band_lo": [0.8, 0.8, 0.85], "band_hi": [0.97, 0.97, 0.95],
                         "band_runs_lo": [0.75, 0.75, 0.75], "band_runs_hi": [1.0, 1.0, 1.0],
                         "median_rel_error_S": [nan, nan, 0.1234], "rms_log10": [nan, nan, 0.05],
                         "n": 40, "n_runs": 8, "n_train_runs": 8, "level": 0.9,
                         "noise_source": "replicates of the training runs"})


def test_emulator_summary_quotes_the_scattering_emulator():
    """With the inference stage's validation table, the emulator page gains a
    short section (no per-component table) and keeps the rest unchanged."""
    metrics, speed, adaptive = _emulator_tables()
    kw = dict(metrics=metrics, speedup=speed, adaptive=adaptive,
              sources={"metrics": "m", "speedup": "s", "adaptive": "a", "inference_validation": "iv.csv"})
    before = emulator_summary(**kw)
    page = emulator_summary(**kw, inference_validation=_inference_validation())
    assert page.startswith(before.rstrip("\n"))  # the existing content first, unchanged
    assert "## Emulator of the scattering curve" in page
    assert _row(page, "median relative error of S q1^d / Q")[1] == "0.123"
    assert _row(page, "calibration snapshots (runs)")[1] == "40 (8)"
    assert _row(page, "coverage of the 90 % intervals, all components (band, runs independent)")[1] == (
        "0.80 (0.75-1.00)")
    assert "kappa^2" not in page.split("## Emulator of the scattering curve")[1]
    assert "From `iv.csv`." in page


def test_scattering_emulator_section_components_in_order():
    lines = scattering_emulator_section(_inference_validation(), "v.csv")
    page = "\n".join(lines)
    assert _row(page, "principal components (variance held)")[1] == "2 (0.900)"
    comps = [line.split("|")[1].strip() for line in page.split("| component |")[1].splitlines()[2:]
             if line.startswith("| ")]
    assert comps == ["1", "2"]  # numeric order whatever the row order
    assert _row(page, "1")[1:] == ["0.800", "1.25", "0.70", "0.80-0.97", "0.75-1.00", "no"]  # 0.70 < 0.75
    with pytest.raises(InputFileError, match=r"v.csv lacks the column\(s\) noise_source"):
        scattering_emulator_section(_inference_validation().drop(columns="noise_source"), "v.csv")
    with pytest.raises(InputFileError, match="0 pooled rows"):
        scattering_emulator_section(_inference_validation().iloc[:2], "v.csv")


def _biasvar():
    rows = []
    for model, loss, bias in (("knn", 0.3, 0.25), ("logistic", 0.2, 0.15)):
        for frac in (0.1, 1.0):
            rows.append({"kind": "window", "features": "physics", "model": model, "fraction": frac,
                         "loss": loss / (1 + frac), "bias": bias / (1 + frac),
                         "net_variance": (loss - bias) / (1 + frac),
                         "error_0": 0.1, "error_0_lo": 0.05, "error_0_hi": 0.2, "error_1": 0.4,
                         "error_1_lo": 0.3, "error_1_hi": 0.5, "fisher_p": 0.001})
    return pd.DataFrame(rows)


def test_classification_summary_picks_lowest_loss_per_fraction():
    labels = pd.DataFrame({"label_percolation": [1, 0, 0, 1], "labels_agree": [True, True, False, True]})
    page = classification_summary(biasvar=_biasvar(), labels={"study": labels},
                                    sources={"biasvar": "bv.csv", "study": "ls.csv"})
    # structures, percolating, Euler (column absent), agreement, minority share
    assert _row(page, "study")[1:] == ["4", "2", "n/a", "0.750", "0.50"]
    assert "Label used: **percolation**" in page and "Warning" not in page
    bv_rows = [line for line in page.split("## Bias")[1].split("## Class")[0].splitlines()
               if line.startswith("| window")]
    # logistic has the lower loss at both fractions; bias share 0.15 / 0.2 = 0.75
    assert bv_rows == ["| window | physics | 0.1 | logistic | 0.182 | 0.136 | 0.045 | 0.75 |",
                       "| window | physics | 1 | logistic | 0.100 | 0.075 | 0.025 | 0.75 |"]
    assert "0.100 (0.050-0.200) | 0.400 (0.300-0.500) | 0.001" in page
    assert page == classification_summary(biasvar=_biasvar().iloc[::-1], labels={"study": labels},
                                            sources={"biasvar": "bv.csv", "study": "ls.csv"})


def test_classification_summary_names_the_label_and_warns_on_imbalance():
    """The label used is stated with its reference; a minority class under
    30 % is reported with the fix (the other label when that one is
    balanced)."""
    # 3D-like: every structure percolates, the Euler label splits 6:4
    labels = pd.DataFrame({"label_percolation": [1] * 10, "label_euler": [1] * 6 + [0] * 4,
                           "labels_agree": [True] * 6 + [False] * 4})
    kw = dict(biasvar=_biasvar(), labels={"study": labels}, sources={"biasvar": "bv.csv", "study": "ls.csv"})
    page = classification_summary(**kw)
    assert _row(page, "study")[1:] == ["10", "10", "6", "0.600", "0.00"]
    warn = [line for line in page.splitlines() if line.startswith("**Warning**")]
    assert warn == ["**Warning**: study: the minority class under the percolation label is 0.00 of the "
                    "structures, below 0.30; the euler label gives 0.40: set classification.label: euler."]
    page = classification_summary(**kw, label="euler")
    assert "Label used: **euler**" in page and "Aksimentiev & Holyst" in page
    assert _row(page, "study")[-1] == "0.40" and "**Warning**" not in page
    # neither label balanced: the fix is more structures
    labels["label_euler"] = 1
    page = classification_summary(**kw, label="euler")
    assert "neither label is balanced" in page
    with pytest.raises(InputFileError, match="label='genus'"):
        classification_summary(**kw, label="genus")
