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
