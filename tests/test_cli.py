"""`scattermorph characterise`: reads users' images, gives documented keys, and
refuses bad input with a clear message (exit status 2)."""

import json
import math

import numpy as np
import pytest

from scattermorph.cli import main


def disc(n=128, r=30.0, centre=None):
    c = np.array(centre if centre is not None else (n / 2, n / 2))
    y, x = np.mgrid[0:n, 0:n] + 0.5
    return (x - c[1]) ** 2 + (y - c[0]) ** 2 <= r**2


def run(capsys, *args):
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_npy_disc_json(tmp_path, capsys):
    path = tmp_path / "disc.npy"
    np.save(path, disc())
    code, out, _ = run(capsys, "characterise", path, "--json", "--pixel-size", "0.5")
    assert code == 0
    res = json.loads(out)
    f = res["functionals"]
    assert set(f) >= {"area", "perimeter", "euler", "area_density", "perimeter_density", "euler_density"}
    r = 30.0 * 0.5
    # digitised disc of radius 30 px: area exact to ~perimeter x pixel (1 %);
    # perimeter from the 4-direction Crofton estimator within 3 %
    assert f["area"] == pytest.approx(math.pi * r**2, rel=0.01)
    assert f["perimeter"] == pytest.approx(2 * math.pi * r, rel=0.03)
    assert f["euler"] == 1
    assert f["area_density"] == pytest.approx(f["area"] / (128 * 0.5) ** 2)
    s = res["scattering"]
    assert len(s["q"]) == len(s["s_q"]) == len(s["counts"]) == 64
    assert res["threshold_level"] is None  # binary input needs no threshold


def test_png_binary_0_255(tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "disc.png"
    Image.fromarray((disc() * 255).astype(np.uint8)).save(path)
    code, out, _ = run(capsys, "characterise", path, "--json")
    assert code == 0
    assert json.loads(out)["functionals"]["euler"] == 1


def test_grey_png_needs_threshold(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = (rng.random((64, 64)) * 255).astype(np.uint8)
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    code, _, err = run(capsys, "characterise", path)
    assert code == 2
    assert "distinct grey levels" in err and "--threshold" in err
    code, out, _ = run(capsys, "characterise", path, "--threshold", "mean", "--json")
    assert code == 0
    assert json.loads(out)["threshold_level"] == pytest.approx(grey.mean())


def test_tiff_stack_is_3d(tmp_path, capsys):
    import tifffile

    n, r = 48, 12.0
    z, y, x = np.mgrid[0:n, 0:n, 0:n] + 0.5
    ball = (x - n / 2) ** 2 + (y - n / 2) ** 2 + (z - n / 2) ** 2 <= r**2
    path = tmp_path / "ball.tif"
    tifffile.imwrite(path, ball.astype(np.uint8))
    code, out, _ = run(capsys, "characterise", path, "--json")
    assert code == 0
    f = json.loads(out)["functionals"]
    assert set(f) >= {"volume", "surface", "mean_curvature", "euler", "mean_curvature_density"}
    assert f["euler"] == 1
    # M = 4 pi R for a ball; digitised R = 12 voxels: a few % (Crofton, 13 directions)
    assert f["mean_curvature"] == pytest.approx(4 * math.pi * r, rel=0.05)


def test_open_vs_periodic(tmp_path, capsys):
    """A disc centred on a corner of a periodic tile: on the torus it is one
    disc (Euler 1, perimeter 2 pi R); with open boundaries it is four quarter
    discs (Euler 4) whose cut edges count as boundary."""
    n, r = 128, 30.0
    y, x = np.mgrid[0:n, 0:n] + 0.5
    dy = (y + n / 2) % n - n / 2  # minimum-image distance to the corner
    dx = (x + n / 2) % n - n / 2
    path = tmp_path / "corner.npy"
    np.save(path, dx**2 + dy**2 <= r**2)
    _, out_p, _ = run(capsys, "characterise", path, "--json")
    _, out_o, _ = run(capsys, "characterise", path, "--json", "--open")
    fp, fo = json.loads(out_p)["functionals"], json.loads(out_o)["functionals"]
    assert fp["euler"] == 1 and fo["euler"] == 4
    assert fp["area"] == fo["area"]
    # Crofton perimeter of a digitised disc of radius 30: within 3 %
    assert fp["perimeter"] == pytest.approx(2 * math.pi * r, rel=0.03)
    assert fo["perimeter"] > fp["perimeter"] * 1.5  # plus the four cut edges


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((32, 32)), "constant"),
        (np.full((32, 32), 3.0), "constant"),
        (np.where(np.eye(32) > 0, np.nan, 1.0), "NaN"),
        (np.zeros(32), "1D"),
        (np.zeros((2, 3, 8, 8)), "4D"),
    ],
    ids=["empty", "constant", "nan", "1d", "4d"],
)
def test_bad_images(tmp_path, capsys, array, match):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    code, _, err = run(capsys, "characterise", path)
    assert code == 2
    assert match in err
    assert "Traceback" not in err


def test_bad_files(tmp_path, capsys):
    code, _, err = run(capsys, "characterise", tmp_path / "missing.npy")
    assert code == 2 and "no such file" in err
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not an npy file")
    code, _, err = run(capsys, "characterise", junk)
    assert code == 2 and "cannot be read" in err
    txt = tmp_path / "x.txt"
    txt.write_text("1 2 3")
    code, _, err = run(capsys, "characterise", txt)
    assert code == 2 and "unsupported file type" in err


def test_threshold_leaving_one_phase(tmp_path, capsys):
    path = tmp_path / "grad.npy"
    np.save(path, np.linspace(0, 1, 64 * 64).reshape(64, 64))
    code, _, err = run(capsys, "characterise", path, "--threshold", "2.0")
    assert code == 2 and "single phase" in err


def test_bad_connectivity(tmp_path, capsys):
    path = tmp_path / "disc.npy"
    np.save(path, disc(64, 10))
    code, _, err = run(capsys, "characterise", path, "--connectivity", "6")
    assert code == 2 and "connectivity" in err


def test_console_script_installed():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("scattermorph") or str(Path(sys.executable).with_name("scattermorph"))
    res = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "characterise" in res.stdout


# --------------------------------------------------------------------------
# scattermorph train / predict
# --------------------------------------------------------------------------
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples"
_QT = np.geomspace(0.004, 5.0, 120)


def _peaked(m, qp, q=_QT):
    x = q / qp
    return x**2 / (1 + x ** (2 + m))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A model trained through the CLI on a small synthetic table (2D family
    of peaked curves whose scale-free densities depend on the tail exponent m;
    see tests/predict/test_model.py). --features scale_free: the tests below apply it to
    curves in other q units and intensity scales, which only the shape-only input allows."""
    rng = np.random.default_rng(3)
    wd = tmp_path_factory.mktemp("cli_model")
    rows = ["sample,group,area_density,perimeter_density," + ",".join(f"q={v:.8g}" for v in _QT)]
    for k in range(40):
        m, qp = rng.uniform(3.0, 4.5), np.exp(rng.uniform(np.log(0.05), np.log(0.2)))
        rows.append(f"s{k},g{k // 4},{0.2 + 0.1 * (m - 3):.8g},{(1 + 0.3 * (m - 3)) * qp:.8g},"
                    + ",".join(f"{v:.8g}" for v in _peaked(m, qp)))
    table = wd / "table.csv"
    table.write_text("\n".join(rows) + "\n")
    out = wd / "model.npz"
    assert main(["train", str(table), "--out", str(out), "--dimension", "2", "--restarts", "0",
                 "--features", "scale_free"]) == 0
    return out


def _curve_file(path, q, i, di=None):
    cols = [q, i] + ([di] if di is not None else [])
    path.write_text("# q(1/nm) I dI\n" + "\n".join(" ".join(f"{v:.10g}" for v in r) for r in zip(*cols)) + "\n")
    return path


def test_train_writes_a_loadable_model(small_model, capsys):
    from scattermorph.predict.modelfile import load_model

    m = load_model(small_model)
    assert m.targets == ["area_density", "perimeter_density"] and m.kind == "scale_free"
    assert m.provenance["dataset"][0]["path"].endswith("table.csv")
    assert m.training["grouped"]  # the 'group' column was used


def test_predict_prints_each_functional_with_std_and_units(small_model, tmp_path, capsys):
    s = _peaked(3.6, 0.1)
    curve = _curve_file(tmp_path / "c.dat", _QT * 10, 7.0 * s, 0.01 * 7.0 * s)  # q in 1/nm
    code, out, err = run(capsys, "predict", curve, "--model", small_model, "--q-unit", "1/nm")
    assert code == 0, err
    assert "area_density" in out and "+-" in out and "[1]" in out and "[1/nm]" in out
    code, out, _ = run(capsys, "predict", curve, "--model", small_model, "--q-unit", "1/nm", "--json", "-")
    res = json.loads(out)
    f = res["functionals"]
    # truth for m = 3.6: area 0.26; perimeter (1 + 0.18) qp with qp = 0.1 1/b
    # = 1 1/nm here; 4 std allows a GP trained on 40 curves to be a little
    # over-confident without letting a unit error (x10) pass
    assert abs(f["area_density"]["mean"] - 0.26) < 4 * f["area_density"]["std"]
    assert abs(f["perimeter_density"]["mean"] - 1.18) < 4 * f["perimeter_density"]["std"]
    assert f["perimeter_density"]["unit"] == "1/nm" and res["info"]["in_domain"]
    jpath = tmp_path / "out.json"
    code, _, _ = run(capsys, "predict", curve, "--model", small_model, "--json", jpath)
    assert code == 0 and json.loads(jpath.read_text())["info"]["q_unit"] == "1/A"


def test_predict_warns_out_of_domain(small_model, tmp_path, capsys):
    # a peak with a q^-9 tail: a blend-like shape (the applicability check passes it), but the
    # model was trained on tails q^-3 to q^-4.5 only
    q = np.geomspace(1e-3, 1.0, 300)
    curve = _curve_file(tmp_path / "steep.dat", q, _peaked(9.0, 0.02, q))
    code, out, err = run(capsys, "predict", curve, "--model", small_model)
    assert code == 0, err
    assert "OUT OF TRAINING DOMAIN" in out and "warning: OUT OF TRAINING DOMAIN" in err


def test_predict_refuses_a_curve_without_a_peak_with_its_reason(small_model, tmp_path, capsys):
    q = np.geomspace(1e-3, 100.0, 300)
    curve = _curve_file(tmp_path / "db.dat", q, 1 / (1 + (q / 0.02) ** 2) ** 2)  # a squared Lorentzian
    code, out, err = run(capsys, "predict", curve, "--model", small_model)
    assert code == 2 and out == ""
    assert "not a phase-separated blend" in err and "no maximum inside the q range" in err


@pytest.mark.parametrize("content,match", [
    ("", "the file is empty"),
    ("q I\n1 2\n3 x\n", r"line 3, column 2: 'x' is not a number"),
    ("\n".join(f"{0.1 * k + 0.1} {-1.0 if k == 4 else 1.0}" for k in range(12)), r"line 5: I\(q\) = -1.0 is negative"),
    ("\n".join(f"{0.1 * (k % 6) + 0.1} 1.0" for k in range(12)), "only 6 distinct q values after merging"),
])
def test_predict_bad_curve_exit_2(small_model, tmp_path, capsys, content, match):
    import re

    path = tmp_path / "bad.dat"
    path.write_text(content)
    code, out, err = run(capsys, "predict", path, "--model", small_model)
    assert code == 2 and out == ""
    assert err.startswith("scattermorph predict: error:") and re.search(match, err)


def test_predict_narrow_q_range_exit_2(small_model, tmp_path, capsys):
    # q/q1 spans less than a factor 2: no window to refit on (a wider partial range gets a window refit)
    q = np.geomspace(0.09, 0.15, 20)
    code, _, err = run(capsys, "predict", _curve_file(tmp_path / "n.dat", q, _peaked(3.5, 0.1, q)),
                       "--model", small_model, "--q-unit", "1/b")
    assert code == 2 and "wider q range" in err


def test_predict_bad_model_exit_2(tmp_path, capsys):
    curve = _curve_file(tmp_path / "c.dat", _QT, _peaked(3.5, 0.1))
    junk = tmp_path / "m.npz"
    junk.write_bytes(b"PK\x03\x04junk")
    code, _, err = run(capsys, "predict", curve, "--model", junk)
    assert code == 2 and "cannot be read as a scattermorph model" in err
    code, _, err = run(capsys, "predict", curve, "--model", tmp_path / "absent.npz")
    assert code == 2 and "no such model file" in err
    code, _, err = run(capsys, "predict", curve, "--model", junk, "--q-unit", "parsec")
    assert code == 2


def test_train_bad_table_exit_2(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("sample,volume,q=0.1\ns,1,2\n")
    code, _, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2")
    assert code == 2 and "unknown column(s) ['volume']" in err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.slow
def test_example_table_recovers_the_example_curve(tmp_path, capsys):
    """Train on examples/training_table.csv (the default study without one
    simulation) and predict examples/measured_curve.dat (a snapshot of that
    simulation in 1/A with counting noise): the known densities must lie
    within 3 reported standard deviations (99.7 % for a calibrated Gaussian;
    the grouped test coverage of the 95 % interval on the study's data is
    0.92-0.98, so 3 std is not a loose bound for a calibrated model)."""
    model = tmp_path / "example.npz"
    truth = json.loads((EXAMPLES / "measured_curve_truth.json").read_text())["densities"]
    dim = "3" if "volume_density" in truth else "2"
    code, _, err = run(capsys, "train", EXAMPLES / "training_table.csv", "--out", model,
                       "--dimension", dim, "--restarts", "0", "--features", "scale_free")
    assert code == 0, err
    code, out, err = run(capsys, "predict", EXAMPLES / "measured_curve.dat", "--model", model,
                         "--q-unit", "1/A", "--json", "-")
    assert code == 0, err
    res = json.loads(out)
    assert res["info"]["in_domain"]
    units = {"2": {"area_density": "1", "perimeter_density": "1/A", "euler_density": "1/A^2"},
             "3": {"volume_density": "1", "surface_density": "1/A", "mean_curvature_density": "1/A^2",
                   "euler_density": "1/A^3"}}[dim]
    for name, value in truth.items():
        f = res["functionals"][name]
        assert abs(f["mean"] - value) < 3 * f["std"], (name, f, value)
        assert f["unit"] == units[name]


def _family_table(path, n=40, groups=True):
    rng = np.random.default_rng(3)
    head = ("sample," + ("group," if groups else "") + "area_density,perimeter_density,"
            + ",".join(f"q={v:.8g}" for v in _QT))
    rows = [head]
    for k in range(n):
        m, qp = rng.uniform(3.0, 4.5), np.exp(rng.uniform(np.log(0.05), np.log(0.2)))
        rows.append(f"s{k}," + (f"g{k // 4}," if groups else "") + f"{0.2 + 0.1 * (m - 3):.8g},"
                    f"{(1 + 0.3 * (m - 3)) * qp:.8g}," + ",".join(f"{v:.8g}" for v in _peaked(m, qp)))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_train_prints_cross_validated_errors_and_coverage(tmp_path, capsys):
    """Without groups: the paper's random 30/7 splits; with groups: grouped folds."""
    table = _family_table(tmp_path / "t.csv", groups=False)
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2",
                         "--restarts", "0", "--cv-repeats", "2")
    assert code == 0, err
    assert "cross-validated (2 random splits of 30 train / 7 test" in out
    assert "cov 95%" in out and "area_density" in out
    from scattermorph.predict.modelfile import load_model

    cv = load_model(tmp_path / "m.npz").training["cross_validation"]
    assert 0 <= cv["area_density"]["coverage_95"] <= 1
    code, out, err = run(capsys, "train", _family_table(tmp_path / "g.csv"), "--out", tmp_path / "g.npz",
                         "--dimension", "2", "--restarts", "0")
    assert code == 0 and "cross-validated (grouped 5-fold" in out


def test_train_auto_selects_by_cross_validation(tmp_path, capsys):
    table = _family_table(tmp_path / "t.csv", groups=False)
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2",
                         "--restarts", "0", "--cv-repeats", "1", "--features", "auto")
    assert code == 0, err
    assert "selected by cross-validation: --kernel squared_exponential --features" in out
    assert all(f"--features {k}:" in err for k in ("scale_free", "scale_free_absolute", "log_sq"))


def test_train_recalibrates_and_absolute_models_refuse_other_units(tmp_path, capsys):
    """The default recalibrates the std by the RMS of the cross-validated z
    (stored, printed); a model that reads the absolute scale refuses a curve in
    another q unit with exit status 2 and names the fix (--features scale_free)."""
    from scattermorph.predict.modelfile import load_model

    table = _family_table(tmp_path / "t.csv")
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2",
                         "--restarts", "0", "--features", "scale_free_absolute")
    assert code == 0, err
    assert "recalibrated (sigma scaling" in out and "S = I / contrast^2" in out
    m = load_model(tmp_path / "m.npz")
    cal = m.training["calibration"]["factor"]
    cv = m.training["cross_validation"]
    assert set(cal) == {"area_density", "perimeter_density"}
    assert all(cal[t] == cv[t]["z_rms"] for t in cal)  # the factor is the stored RMS z, not refitted
    curve = _curve_file(tmp_path / "c.dat", _QT * 10, _peaked(3.6, 0.1))
    code, out, err = run(capsys, "predict", curve, "--model", tmp_path / "m.npz", "--q-unit", "1/nm")
    assert code == 2 and "--features scale_free" in err and "1/b" in err
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "n.npz", "--dimension", "2",
                         "--restarts", "0", "--features", "scale_free", "--calibration", "none")
    assert code == 0 and "calibration" not in load_model(tmp_path / "n.npz").training


def test_train_paper_baseline(tmp_path, capsys):
    table = _family_table(tmp_path / "t.csv", groups=False)
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2",
                         "--kernel", "paper", "--features", "log_sq", "--cv-repeats", "0")
    assert code == 0, err
    from scattermorph.predict.modelfile import load_model

    m = load_model(tmp_path / "m.npz")
    assert m.training["kernel"] == "paper" and m.training["scaling"] == "none" and m.kind == "log_sq"


def test_train_one_group_names_the_file_and_the_fix(tmp_path, capsys):
    table = tmp_path / "one.csv"
    text = _family_table(tmp_path / "x.csv").read_text().splitlines()
    rows = [text[0]] + [",".join(r.split(",")[:1] + ["sim1"] + r.split(",")[2:]) for r in text[1:]]
    table.write_text("\n".join(rows) + "\n")
    code, out, err = run(capsys, "train", table, "--out", tmp_path / "m.npz", "--dimension", "2")
    assert code == 2 and out == ""
    assert "one.csv: column 'group' names a single group ('sim1') for all 40 rows" in err
    assert "delete the 'group' column" in err and not (tmp_path / "m.npz").exists()


# --------------------------------------------------------------------------
# predict on NXcanSAS / canSAS XML (issue 16)
# --------------------------------------------------------------------------
def _h5_curve(path, q, i, di, dq, q_units="1/nm", names=("sasentry01",)):
    """NXcanSAS (https://manual.nexusformat.org/classes/applications/NXcanSAS.html) with h5py."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for k, name in enumerate(names):
            e = f.create_group(name)
            e.attrs.update(NX_class="NXentry", canSAS_class="SASentry")
            d = e.create_group("sasdata")
            d.attrs.update(NX_class="NXdata", canSAS_class="SASdata", signal="I", I_axes="Q")
            for key, v in (("Q", q), ("I", (k + 1) * i), ("Idev", (k + 1) * di), ("Qdev", dq)):
                d[key] = v
                if q_units is not None or key in ("I", "Idev"):
                    d[key].attrs["units"] = "1/cm" if key in ("I", "Idev") else q_units
            d["I"].attrs["uncertainties"] = "Idev"
            d["Q"].attrs["resolutions"] = "Qdev"
    return path


def test_predict_reads_nxcansas_with_units_and_reports_dq(small_model, tmp_path, capsys):
    s = 7.0 * _peaked(3.6, 0.1)
    q = _QT * 10  # 1/nm, as the file says
    path = _h5_curve(tmp_path / "c.h5", q, s, 0.01 * s, 0.05 * q)
    code, out, err = run(capsys, "predict", path, "--model", small_model, "--json", "-")
    assert code == 0, err
    res = json.loads(out)
    f = res["functionals"]
    # same curve and bounds as test_predict_prints_each_functional_with_std_and_units
    assert abs(f["perimeter_density"]["mean"] - 1.18) < 4 * f["perimeter_density"]["std"]
    assert f["perimeter_density"]["unit"] == "1/nm" and res["format"] == "nxcansas"
    assert res["entry"] == "sasentry01/sasdata" and res["intensity_unit"] == "1/cm"
    r = res["resolution"]
    # dq/q is 0.05 by construction; 1e-12 allows the rounding of q * 0.05 / q
    assert r["dq_unit"] == "1/nm" and abs(r["dq_over_q_median"] - 0.05) < 1e-12
    # ... and the model was refitted for it (resolution-aware prediction)
    assert r["used"] is True and r["relative_used"] == 0.05 and "dQ" in r["source"]
    code, out, _ = run(capsys, "predict", path, "--model", small_model, "--q-unit", "1/A")
    assert code == 0 and "[1/A]" in out and "resolution dQ/q = 0.05" in out


def test_predict_several_entries(small_model, tmp_path, capsys):
    s = _peaked(3.6, 0.1)
    path = _h5_curve(tmp_path / "two.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units="1/A", names=("a", "b"))
    code, out, err = run(capsys, "predict", path, "--model", small_model)
    assert code == 2 and out == "" and "holds 2 curves" in err and "--entry all" in err
    code, out, err = run(capsys, "predict", path, "--model", small_model, "--entry", "all", "--json", "-")
    assert code == 0, err
    assert [c["entry"] for c in json.loads(out)["curves"]] == ["a/sasdata", "b/sasdata"]
    code, out, _ = run(capsys, "predict", path, "--model", small_model, "--entry", "b")
    assert code == 0 and "[b/sasdata]" in out


@pytest.mark.parametrize("case,match", [
    ("truncated", r"cannot be read as HDF5/NXcanSAS \(truncated or damaged file"),
    ("bomb", r"declares entities or a DTD"),
    ("no units", r"Q has no unit .*--q-unit"),
    ("unequal", r"arrays of unequal length"),
    ("no SASdata", r"no SASdata with Idata points"),
])
def test_predict_malformed_sas_files_exit_2(small_model, tmp_path, capsys, case, match):
    import re

    s = _peaked(3.6, 0.1)
    if case == "truncated":
        full = _h5_curve(tmp_path / "full.h5", _QT, s, 0.01 * s, 0.05 * _QT).read_bytes()
        path = tmp_path / "bad.h5"
        path.write_bytes(full[: len(full) // 2])
    elif case == "no units":
        path = _h5_curve(tmp_path / "bad.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units=None)
    elif case == "unequal":
        path = _h5_curve(tmp_path / "bad.h5", _QT, s, 0.01 * s, 0.05 * _QT[:-1])
    else:
        doctype = ('<!DOCTYPE SASroot [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                   '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>') if case == "bomb" else ""
        body = "<Title>&c;</Title>" if case == "bomb" else "<Title>x</Title>"
        path = tmp_path / "bad.xml"
        path.write_text(f'<?xml version="1.0"?>{doctype}<SASroot version="1.1" xmlns="urn:cansas1d:1.1">'
                        f"<SASentry>{body}<SASdata></SASdata></SASentry></SASroot>")
    jpath = tmp_path / "out.json"
    code, out, err = run(capsys, "predict", path, "--model", small_model, "--json", jpath)
    assert code == 2 and out == "" and not jpath.exists()
    assert err.startswith(f"scattermorph predict: error: {path}") and re.search(match, err)
    assert "Traceback" not in err and err.count("\n") == 1


def test_predict_folder_and_glob_give_one_csv_row_per_curve(small_model, tmp_path, capsys):
    import pandas as pd

    d = tmp_path / "curves"
    d.mkdir()
    s = _peaked(3.6, 0.1)
    _curve_file(d / "one.dat", _QT, s, 0.01 * s)
    _h5_curve(d / "two.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units="1/A", names=("a", "b"))
    out_csv = tmp_path / "all.csv"
    code, out, err = run(capsys, "predict", d, "--model", small_model, "--csv", out_csv)
    assert code == 0, err
    t = pd.read_csv(out_csv, keep_default_na=False)
    assert list(t["entry"]) == ["", "a/sasdata", "b/sasdata"] and list(t["format"]) == ["text", "nxcansas", "nxcansas"]
    assert {"area_density", "area_density_std", "perimeter_density_unit", "in_domain"} <= set(t.columns)
    # the same shape at two intensity scales (1, 2) and the same dQ/q: a scale-free model
    # gives the same means; 1e-9 relative allows the float rounding of the scaled features
    np.testing.assert_allclose(t["area_density"][2], t["area_density"][1], rtol=1e-9)
    # the text file has no dQ (ideal-curve model), the NXcanSAS entries 5 % (refitted model)
    assert list(t["dq_over_q_used"]) == [0.0, 0.05, 0.05]
    code, out, err = run(capsys, "predict", str(d / "*.h5"), "--model", small_model, "--csv", "-")
    assert code == 0 and len(pd.read_csv(__import__("io").StringIO(out))) == 2
    (d / "bad.dat").write_text("q I\n1 x\n")
    out_csv.unlink()
    code, out, err = run(capsys, "predict", d, "--model", small_model, "--csv", out_csv)
    assert code == 2 and not out_csv.exists() and "bad.dat" in err  # one bad file: nothing written
    code, _, err = run(capsys, "predict", str(tmp_path / "none*.h5"), "--model", small_model)
    assert code == 2 and "matches no file" in err


# --------------------------------------------------------------------------
# issue 16: resolution-aware prediction, the shipped model, --about, --plot
# --------------------------------------------------------------------------
def test_predict_resolution_option_matches_the_file_dq_and_zero_switches_it_off(small_model, tmp_path, capsys):
    s = 7.0 * _peaked(3.6, 0.1)
    h5 = _h5_curve(tmp_path / "c.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units="1/A")
    txt = _curve_file(tmp_path / "c.dat", _QT, s, 0.01 * s)  # the same curve without dQ
    res = {}
    for name, args in {"file dQ": [h5], "option": [txt, "--resolution", "0.05"], "off": [h5, "--resolution", "0"],
                       "no dQ": [txt]}.items():
        code, out, err = run(capsys, "predict", *args, "--model", small_model, "--json", "-")
        assert code == 0, err
        res[name] = json.loads(out)
    mean = {k: [v["mean"] for v in r["functionals"].values()] for k, r in res.items()}
    # the same refitted model (dQ/q = 0.05 either way) and the same curve: the same numbers
    np.testing.assert_allclose(mean["option"], mean["file dQ"], rtol=1e-9)
    assert res["file dQ"]["resolution"]["relative_used"] == res["option"]["resolution"]["relative_used"] == 0.05
    # --resolution 0: the model trained on ideal curves, as for a curve without dQ
    np.testing.assert_allclose(mean["off"], mean["no dQ"], rtol=1e-9)
    assert res["off"]["resolution"]["relative_used"] == 0.0 and res["no dQ"]["resolution"] is None
    assert not np.allclose(mean["file dQ"], mean["no dQ"], rtol=1e-6)  # the refit changed something


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_predict_bad_resolution_exit_2(small_model, tmp_path, capsys, value):
    jpath = tmp_path / "out.json"
    curve = _curve_file(tmp_path / "c.dat", _QT, _peaked(3.6, 0.1))
    code, out, err = run(capsys, "predict", curve, "--model", small_model, "--resolution", value, "--json", jpath)
    assert code == 2 and out == "" and not jpath.exists() and "--resolution" in err and err.count("\n") == 1


def test_predict_with_a_model_without_training_curves(small_model, tmp_path, capsys):
    from scattermorph.predict.modelfile import load_model, save_model

    bare = tmp_path / "bare.npz"
    save_model(bare, load_model(small_model), curves=False)
    s = _peaked(3.6, 0.1)
    h5 = _h5_curve(tmp_path / "c.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units="1/A")
    code, out, err = run(capsys, "predict", h5, "--model", bare)  # the file's dQ: used as it is, with a warning
    assert code == 0 and "holds no training curves" in err and "dQ given (not used)" in out
    code, out, err = run(capsys, "predict", h5, "--model", bare, "--resolution", "0.1")  # asked for: refused
    assert code == 2 and out == "" and "holds no training curves" in err


def test_predict_without_model_uses_the_shipped_one_and_about_describes_it(small_model, tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.setenv("SCATTERMORPH_MODEL", str(small_model))
    curve = _curve_file(tmp_path / "c.dat", _QT, _peaked(3.6, 0.1))
    code, out, err = run(capsys, "predict", curve)
    assert code == 0, err
    assert "(shipped)" in out and "training domain:" in out and "area_density" in out
    code, out, _ = run(capsys, "predict", "--about")
    assert code == 0
    size = small_model.stat().st_size
    assert f"{size / 1e6:.2f} MB" in out and "config sha256" in out and "git commit" in out
    assert "functionals: area_density, perimeter_density" in out and "features: scale_free" in out
    assert "training data:" in out and "40 snapshots" in out and "kernel: squared_exponential" in out
    monkeypatch.setenv("SCATTERMORPH_MODEL", str(tmp_path / "absent.npz"))
    jpath = tmp_path / "o.json"
    code, out, err = run(capsys, "predict", curve, "--json", jpath)
    assert code == 2 and out == "" and not jpath.exists()
    assert "no shipped model" in err and "--model" in err and err.count("\n") == 1
    code, _, err = run(capsys, "predict", "--model", small_model)
    assert code == 2 and "give a CURVE" in err


def test_the_repository_ships_a_small_valid_model_with_its_provenance(capsys, monkeypatch):
    from pathlib import Path

    from scattermorph.functionals import FUNCTIONALS
    from scattermorph.predict.modelfile import SHIPPED_MAX_BYTES, load_shipped_model, shipped_model_path

    monkeypatch.delenv("SCATTERMORPH_MODEL", raising=False)
    path = shipped_model_path()
    assert path == Path(__file__).resolve().parents[1] / "models" / "default.npz"
    model, _ = load_shipped_model()  # the checksum and every kernel are checked on loading
    assert path.stat().st_size <= SHIPPED_MAX_BYTES and model.kind == "scale_free"
    assert model.curves is not None  # resolution-aware refits need them
    assert model.targets == list(FUNCTIONALS[model.ndim])
    dom = model.training["study_domain"]
    assert dom["study"] and dom["n_simulations"] >= 2 and dom["phi0"][0] <= dom["phi0"][1]
    assert len(model.provenance["config_sha256"]) == 64 and model.provenance["git_commit"]
    assert Path(str(path) + ".prov.json").is_file()  # the record `scattermorph audit` checks
    code, out, _ = run(capsys, "predict", "--about")
    assert code == 0 and f"study: {dom['study']}" in out


def test_audit_checks_the_shipped_model(small_model, tmp_path, capsys, monkeypatch):
    import shutil
    from pathlib import Path

    from scattermorph.provenance.records import build_record, sha256_file, write_sidecar

    models = tmp_path / "models"
    models.mkdir()
    target = models / "default.npz"
    shutil.copyfile(small_model, target)
    study_model = tmp_path / "study_model.npz"  # the study's output, absent from a fresh checkout
    shutil.copyfile(small_model, study_model)
    rec = build_record(rule="ship_model", script=__file__, inputs={"model": [study_model]}, params={},
                       outputs=[target], workdir=tmp_path)
    write_sidecar(target, {"file": target.name, "sha256": sha256_file(target), "record": rec})
    study_model.unlink()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    code, out, err = run(capsys, "audit", "--no-params")  # default paths: results/ and models/
    # the study's input is not here: a note, not a problem
    assert code == 0 and out == "" and "UNCHECKED" in err and "1 file(s) checked, 0 problem(s)" in err
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    code, out, _ = run(capsys, "audit", "--no-params")
    assert code == 1 and f"TAMPERED {Path('models') / 'default.npz'}" in out


def test_predict_plot_draws_one_curve_and_refuses_many(small_model, tmp_path, capsys):
    s = _peaked(3.6, 0.1)
    curve = _curve_file(tmp_path / "c.dat", _QT, s, 0.01 * s)
    png = tmp_path / "p.png"
    code, out, err = run(capsys, "predict", curve, "--model", small_model, "--plot", png)
    assert code == 0, err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    two = _h5_curve(tmp_path / "two.h5", _QT, s, 0.01 * s, 0.05 * _QT, q_units="1/A", names=("a", "b"))
    png.unlink()
    code, out, err = run(capsys, "predict", two, "--model", small_model, "--entry", "all", "--plot", png)
    assert code == 2 and out == "" and not png.exists() and "--plot draws one curve" in err
    bad = tmp_path / "bad.dat"
    bad.write_text("q I\n1 x\n")
    code, out, err = run(capsys, "predict", bad, "--model", small_model, "--plot", png)
    assert code == 2 and not png.exists()


def test_predict_states_the_training_domain(small_model, tmp_path, capsys):
    curve = _curve_file(tmp_path / "c.dat", _QT, _peaked(3.6, 0.1))
    code, out, _ = run(capsys, "predict", curve, "--model", small_model, "--q-unit", "1/b", "--json", "-")
    dom = json.loads(out)["info"]["training_domain"]
    # the table's curves peak at qp in [0.05, 0.2] 1/b, so their q1 lie in a range around there
    assert code == 0 and dom["q1_unit"] == "1/b" and 0.01 < dom["q1"][0] < dom["q1"][1] < 1.0
    assert dom["q1_in_unit"] == dom["q1"] and dom["n_snapshots"] == 40
