"""The emulator of `scattermorph infer` as a file (scattermorph.infer.emulatorfile) and infer without a study.

Round trip (the rebuilt emulator gives the same posterior and check), refusal of
modified, truncated and foreign files with a message naming the problem, the
size limit of a shipped file, `infer --about` and `infer` in a folder without
results/ (a fresh install), the audit of a tampered shipped emulator, and the
fit check's verdicts on an in-family curve, a power law and a one-phase
Ornstein-Zernike curve.
"""

import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from scattermorph.audit import audit
from scattermorph.cli import main
from scattermorph.errors import InputFileError
from scattermorph.infer import emulatorfile as ef
from scattermorph.infer import posterior as inf
from scattermorph.measure.snapshots import load_dataset

FEATURES = {"n_points": 24, "x_range": (0.3, 3.0)}
Q = np.logspace(-2.3, 0.3, 96)


def _curve(q, phi0, quench, t):
    """A peaked S(q): q1 shrinks with t, the peak sharpens with phi0 and quench (as in test_posterior)."""
    q1 = 0.3 * t ** (-1 / 3)
    x = q / q1
    g = 3 + 4 * phi0 + 2 * (quench - 1)
    return x ** 2 / (1 + 0.5 * x ** (2 + g)) / q1 ** 3


# every test here uses a fitted emulator (about 10-20 s on 2 busy cores, once)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A tiny study on disk, its emulator written by the rule's library function."""
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("study")
    rows, curves = [], []
    for phi0 in (0.2, 0.35, 0.5):
        for quench in (1.15, 1.5):
            for rep in range(2):
                for t in np.geomspace(5, 60, 4):
                    curves.append(_curve(Q, phi0, quench, t) * np.exp(0.02 * rng.standard_normal(Q.size)))
                    q1 = 0.3 * t ** (-1 / 3)
                    rows.append(dict(sim_id=f"p{phi0}_q{quench}_r{rep}", phi0=phi0, quench=quench,
                                     time_over_tau=t, dimension=3, volume_density=phi0, surface_density=2.0 * q1,
                                     mean_curvature_density=0.1 * q1 ** 2,
                                     euler_density=-0.01 * q1 ** 3 * (1 + phi0)))
    pd.DataFrame(rows).to_csv(d / "dataset.csv", index=False)
    np.savez(d / "dataset_sq.npz", q=Q, s_q=np.array(curves))
    path = d / "models" / "emulator.npz"
    path.parent.mkdir()
    cal = ef.write_study_emulator(d / "dataset.csv", d / "dataset_sq.npz", path, features=FEATURES,
                                  metadata={"study": "tiny-test", "rule": "ship_emulator"}, reference_draws=200)
    return d, path, cal


def test_round_trip_gives_the_same_posterior_and_check(study):
    d, path, cal = study
    loaded = ef.load_emulator(path)
    s = _curve(Q, 0.3, 1.3, 12.0)
    a, b = cal.infer(Q, s, n_grid=12), loaded.infer(Q, s, n_grid=12)
    assert np.allclose(a["grid"]["weights"], b["grid"]["weights"], rtol=1e-8, atol=1e-14)
    assert a["checks"]["ppc"] == b["checks"]["ppc"]
    assert np.array_equal(loaded.ppc_reference, cal.ppc_reference)
    # the emulator infer --study fits on the same dataset is the one the file holds
    table, arrays = load_dataset(d / "dataset.csv", d / "dataset_sq.npz")
    refit = inf.fit_calibration(table, arrays, FEATURES)
    assert np.allclose(refit.emulator.predict(cal.emulator.theta_train)[0],
                       loaded.emulator.predict(cal.emulator.theta_train)[0], rtol=1e-6, atol=1e-9)
    assert loaded.provenance["extra"]["study"] == "tiny-test"
    assert [p["path"] for p in loaded.provenance["dataset"]] == [str(d / "dataset.csv"), str(d / "dataset_sq.npz")]


def test_fit_check_passes_the_family_and_fails_other_shapes(study):
    _, _, cal = study
    good = cal.infer(Q, 5.0 * _curve(Q, 0.3, 1.3, 12.0), n_grid=12)["checks"]
    assert good["fits"] and good["ppc"]["p_value"] > 0.05
    power_law = cal.infer(Q, Q ** -4.0, n_grid=12)["checks"]
    oz = cal.infer(Q, 1.0 / (1.0 + (Q / 0.02) ** 2), n_grid=12)["checks"]  # one-phase Ornstein-Zernike
    for bad in (power_law, oz):
        assert not bad["fits"] and bad["ppc"]["p_value"] < 0.01
        assert bad["warnings"][0].startswith("the emulator does not fit this curve")
    # the background hook: I = S + B with B given back recovers the curve's own answer
    s = _curve(Q, 0.3, 1.3, 12.0)
    with_b = cal.infer(Q, s + 0.5 * s.min(), n_grid=12, background=0.5 * s.min())
    assert with_b["checks"]["ppc"]["p_gms"] == pytest.approx(cal.infer(Q, s, n_grid=12)["checks"]["ppc"]["p_gms"])


def _rewrite(src, dst, change):
    """Copy an npz, letting ``change(name, array)`` alter its arrays (the stored checksum is kept)."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: change(k, z[k].copy()) for k in z.files}
    np.savez_compressed(dst, **arrays)


def test_modified_truncated_and_foreign_files_are_refused(study, tmp_path):
    _, path, _ = study

    def bump(name, a):
        if name == "X":
            a[0, 0] += 1e-3
        return a

    _rewrite(path, tmp_path / "modified.npz", bump)
    with pytest.raises(InputFileError, match="do not match the stored sha256 checksum"):
        ef.load_emulator(tmp_path / "modified.npz")
    (tmp_path / "truncated.npz").write_bytes(path.read_bytes()[:4000])
    with pytest.raises(InputFileError, match="cannot be read as a scattermorph emulator"):
        ef.load_emulator(tmp_path / "truncated.npz")
    np.savez(tmp_path / "foreign.npz", meta=np.array(json.dumps({"format": "scattermorph-model"})),
             **{k: np.zeros(2) for k in ef._ARRAYS})
    with pytest.raises(InputFileError, match="format is 'scattermorph-model'"):
        ef.load_emulator(tmp_path / "foreign.npz")
    with pytest.raises(InputFileError, match="no such emulator file"):
        ef.load_emulator(tmp_path / "absent.npz")
    # the audit of a shipped emulator names the same problem
    (tmp_path / "models").mkdir()
    shutil.copy(tmp_path / "modified.npz", tmp_path / "models" / "emulator.npz")
    problems, _ = audit([tmp_path / "models" / "emulator.npz"])
    assert any(p.startswith("TAMPERED") and "checksum" in p for p in problems)
    assert zipfile.is_zipfile(path)  # the original is untouched


def test_size_limit_of_a_shipped_emulator(study, tmp_path):
    _, path, cal = study
    out = tmp_path / "big.npz"
    with pytest.raises(InputFileError, match="more than the 0.00 MB a shipped emulator may have"):
        ef.save_small(out, cal, max_bytes=1000)
    assert not out.exists()
    ef.save_small(out, cal, max_bytes=path.stat().st_size + 10_000)
    assert out.is_file()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_without_a_study_uses_the_shipped_emulator(study, tmp_path, capsys, monkeypatch):
    _, path, _ = study
    monkeypatch.chdir(tmp_path)  # a fresh install: no results/ here
    monkeypatch.setenv("SCATTERMORPH_EMULATOR", str(path))
    code, out, err = run(capsys, "infer", "--about")
    assert code == 0, err
    assert "(shipped with scattermorph)" in out and " MB, sha256 " in out and "study: tiny-test" in out
    assert "48 snapshots of 12 simulations (3D)" in out and "phi0 [0.2, 0.5]" in out
    assert "git commit" in out and "library sha256" in out
    good, bad, odd = tmp_path / "good.dat", tmp_path / "power_law.dat", tmp_path / "plateau.dat"
    np.savetxt(good, np.column_stack([Q, _curve(Q, 0.3, 1.3, 12.0)]))
    np.savetxt(bad, np.column_stack([Q, Q ** -4.0]))
    # a squared-Lorentzian peak on a low-q plateau (finite I at q -> 0, as a liquid's): a peak, so inferred,
    # but flagged
    np.savetxt(odd, np.column_stack([Q, 1.0 / (1 + ((Q - 0.1) / 0.02) ** 2) ** 2 + 0.3 * np.exp(-Q / 0.05)]))
    # the same peak on a flat plateau at every q: its q1 (a moment of the curve) sits at the q range's end, so
    # the curve covers q/q1 only up to 1.3: refused for its window
    flat = tmp_path / "flat.dat"
    np.savetxt(flat, np.column_stack([Q, 1.0 / (1 + ((Q - 0.1) / 0.02) ** 2) + 0.3]))
    code, out, err = run(capsys, "infer", flat, "--grid", "12", "--background", "0")
    assert code == 2 and "infer needs at least [0.7, 2]" in err
    code, out, err = run(capsys, "infer", good, "--grid", "12", "--json", tmp_path / "good.json")
    assert code == 0, err
    doc = json.loads((tmp_path / "good.json").read_text())
    assert doc["checks"]["ppc"]["passed"] and doc["study"] is None and "shipped emulator" in doc["emulator"]
    code, out, err = run(capsys, "infer", bad, "--grid", "12")
    assert code == 2 and "not a phase-separated blend's curve, nothing to infer" in err  # refused: no peak
    code, out, err = run(capsys, "infer", odd, "--grid", "12", "--background", "0")
    assert code == 3  # answered, but the emulator does not fit: a distinct exit status
    assert "fit check: posterior predictive p <= " in out and "FAILED" in out
    assert "warning: MAY NOT BE A PHASE-SEPARATED BLEND" in err
    assert "warning: the emulator does not fit this curve" in err
    monkeypatch.setenv("SCATTERMORPH_EMULATOR", str(tmp_path / "none.npz"))
    code, out, err = run(capsys, "infer", good)
    assert code == 2 and "no shipped emulator" in err and "--study DIR" in err


def test_the_shipped_emulator_loads_and_describes_itself(tmp_path, capsys, monkeypatch):
    path = ef.shipped_emulator_path()
    if not path.is_file():
        pytest.skip(f"no shipped emulator at {path}")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "infer", "--about")
    assert code == 0, err
    size = path.stat().st_size
    assert size <= 2_000_000 and f"{size / 1e6:.2f} MB" in out
    cal = ef.load_emulator(path)
    assert cal.ppc_reference.size == 1000 and cal.emulator.X_train.shape[0] >= 100
    problems, _ = audit([path])
    assert not any(p.startswith("TAMPERED") for p in problems), problems
