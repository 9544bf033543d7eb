"""Applying a model to curve files (what ``scattermorph predict`` does between
parsing and printing): which files a CURVE argument names, which curves they
give, which model each curve gets for its resolution, and the results table.

The model is fitted on the synthetic 2D family of tests/predict/test_model.py
(peaked curves with a tail exponent m), small enough to fit in seconds.
"""

import numpy as np
import pytest

from scattermorph.errors import InputFileError
from scattermorph.predict.apply import (
    about_text,
    apply_model,
    base_model,
    curve_files,
    model_for,
    read_curve_files,
    resolution_info,
    results_table,
)
from scattermorph.predict.fit import fit_models
from scattermorph.predict.model import FunctionalModel
from scattermorph.predict.modelfile import save_model
from scattermorph.sas.curves import check_curve

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

Q = np.geomspace(0.004, 5.0, 160)
NAMES = ["area_density", "perimeter_density"]


def family(m, qp, q=Q):
    x = q / qp
    return x ** 2 / (1 + x ** (2 + m))


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    m, qp = rng.uniform(3.0, 4.5, 40), np.exp(rng.uniform(np.log(0.05), np.log(0.2), 40))
    s_q = np.array([family(a, b) for a, b in zip(m, qp)])
    table = {"area_density": 0.2 + 0.1 * (m - 3), "perimeter_density": (1 + 0.3 * (m - 3)) * qp}
    return fit_models(Q, s_q, table, 2, NAMES, restarts=0, random_state=0)


def _write(path, q, i, dq=None):
    cols = [q, i, 0.01 * i] + ([dq] if dq is not None else [])
    head = "q I dI" + (" dQ" if dq is not None else "")
    path.write_text(head + "\n" + "\n".join(" ".join(f"{v:.10g}" for v in r) for r in zip(*cols)) + "\n")
    return path


def test_curve_files_a_file_a_folder_and_a_glob(tmp_path):
    a = _write(tmp_path / "b.dat", Q, family(3.5, 0.1))
    b = _write(tmp_path / "a.dat", Q, family(4.0, 0.1))
    (tmp_path / ".hidden").write_text("x")
    assert curve_files(a) == [a]
    assert curve_files(tmp_path) == [b, a]  # sorted, hidden files left out
    assert curve_files(str(tmp_path / "*.dat")) == [b, a]


@pytest.mark.parametrize("spec, match", [("empty", "holds no files"), ("*.none", "matches no file"),
                                         ("missing.dat", "no such file")])
def test_curve_files_refuses_what_names_no_curve(tmp_path, spec, match):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match=match):
        curve_files(str(tmp_path / spec))


def test_read_curve_files_gives_every_curve_with_its_file(tmp_path):
    a = _write(tmp_path / "a.dat", Q, family(3.5, 0.1))
    b = _write(tmp_path / "b.dat", Q, family(4.0, 0.1))
    got = read_curve_files(tmp_path)
    assert [p for p, _ in got] == [a, b]
    assert all(c.q.size == Q.size and c.format == "text" for _, c in got)
    [(path, curve)] = read_curve_files(a)
    assert path == a and curve.source == str(a)


def test_a_curve_without_resolution_gets_the_base_model(model, tmp_path):
    path = _write(tmp_path / "a.dat", Q, family(3.8, 0.1))
    [result] = apply_model(model, read_curve_files(path), label="m.npz")
    assert result.model is model and result.path == path
    assert result.doc["resolution"] is None and result.doc["model"] == "m.npz"
    assert set(result.doc["functionals"]) == set(NAMES)
    table = results_table([result])
    assert list(table["curve"]) == [str(path)] and table["dq_over_q_used"].iloc[0] == 0.0
    assert {"area_density", "area_density_std", "perimeter_density_unit"} <= set(table.columns)


def test_resolution_zero_keeps_the_base_model_and_says_so(model):
    curve = check_curve(Q, family(3.8, 0.1), q_unit="1/nm", dq=0.05 * Q)
    got, used, notes = model_for(model, curve, {}, resolution=0.0)
    assert got is model and notes == []
    assert used == {"relative": 0.0, "source": "--resolution", "window": None, "cache": None, "refit": False,
                    "x_range": None}
    info = resolution_info(curve, used)
    assert info["used"] and info["relative_used"] == 0.0
    assert info["dq_over_q_median"] == pytest.approx(0.05)


def test_a_model_without_training_curves_is_used_as_it_is_with_a_note(model):
    bare = FunctionalModel(features=model.features, grid=model.grid, targets=model.targets, X=model.X,
                           Y=model.Y, pipelines=model.pipelines, specs=model.specs, domain=model.domain,
                           training=model.training, curves=None)
    curve = check_curve(Q, family(3.8, 0.1), q_unit="1/nm", dq=0.05 * Q)
    got, used, notes = model_for(bare, curve, {})
    assert got is bare and used is None
    assert len(notes) == 1 and "holds no training curves" in notes[0]


def test_base_model_and_about_text_name_the_file(model, tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, model, {"study": "s"})
    base, where, label = base_model(path)
    assert where == path and label == str(path) and base.targets == NAMES
    text = about_text(base, where)
    assert text.startswith(f"model {path}: ") and "functionals: area_density, perimeter_density" in text
    assert "training curves stored (resolution-aware refits): yes" in text


def test_a_curve_without_a_peak_is_refused_with_the_reason(model, tmp_path):
    q = np.geomspace(0.004, 5.0, 160)
    path = _write(tmp_path / "oz.dat", q, 10 / (1 + (q * 30) ** 2) + 0.01)  # a one-phase blend
    with pytest.raises(InputFileError, match="not a phase-separated blend.*Ornstein-Zernike"):
        apply_model(model, read_curve_files(path))


def test_a_flagged_curve_carries_the_reason_in_warnings_doc_and_table(model, tmp_path):
    # the test family rises as q^2 below its peak (Furukawa's form); the study's curves rise as q^4
    path = _write(tmp_path / "f.dat", Q, family(3.8, 0.1))
    [result] = apply_model(model, read_curve_files(path))
    app = result.doc["applicability"]
    assert app["verdict"] == "flagged" and "low_q_plateau" in [r["code"] for r in app["reasons"]]
    assert result.prediction.warnings[0].startswith("MAY NOT BE A PHASE-SEPARATED BLEND:")
    assert results_table([result])["applicability"].iloc[0] == "flagged"
