"""Figure provenance: embedded in the PNG and in a sidecar; `scattermorph
audit` finds tampered and stale figures and names the cause."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from scattermorph import provenance as pv  # noqa: E402
from scattermorph.cli import main  # noqa: E402
from scattermorph.plotting import save_figure  # noqa: E402


@pytest.fixture
def made(tmp_path, monkeypatch):
    """A figure made from one input by one 'script', with its record."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    (tmp_path / "script.py").write_text("print('plot')\n")
    rec = pv.build_record(rule="plot_thing", script="script.py",
                          inputs={"table": ["data.csv"]}, params={"dpi": 50},
                          outputs=["fig.png"])
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp_path / "fig.png", dpi=50, provenance=rec)
    return tmp_path, rec


def test_record_is_embedded_and_in_sidecar(made):
    tmp, rec = made
    assert pv.read_embedded(tmp / "fig.png") == rec
    side = json.loads(pv.sidecar_path(tmp / "fig.png").read_text())
    assert side["record"] == rec
    assert side["figure_sha256"] == pv.sha256_file(tmp / "fig.png")
    assert rec["inputs"]["table"][0] == {"path": "data.csv",
                                         "sha256": pv.sha256_file(tmp / "data.csv")}
    assert rec["script"]["sha256"] == pv.sha256_file(tmp / "script.py")
    assert rec["params"] == {"dpi": 50} and len(rec["params_sha256"]) == 64
    assert "numpy" in rec["versions"] and rec["command"].endswith("fig.png")


def test_audit_clean(made, capsys):
    tmp, _ = made
    assert pv.audit([tmp]) == ([], 1)
    assert main(["audit", str(tmp)]) == 0


def test_changed_input_is_stale(made, capsys):
    tmp, _ = made
    (tmp / "data.csv").write_text("x,y\n1,3\n")
    problems, _ = pv.audit([tmp])
    assert problems == [f"STALE {tmp / 'fig.png'}: input table data.csv changed"]
    assert main(["audit", str(tmp)]) == 1
    assert "STALE" in capsys.readouterr().out


def test_changed_script_is_stale(made):
    tmp, _ = made
    (tmp / "script.py").write_text("print('other plot')\n")
    problems, _ = pv.audit([tmp])
    assert any("script script.py changed" in p for p in problems)


def test_tampered_figure(made):
    tmp, _ = made
    data = bytearray((tmp / "fig.png").read_bytes())
    data[-20] ^= 0xFF  # flip bits inside the image
    (tmp / "fig.png").write_bytes(bytes(data))
    problems, _ = pv.audit([tmp / "fig.png"])
    assert problems[0].startswith(f"TAMPERED {tmp / 'fig.png'}")


def test_edited_sidecar_is_tampered(made):
    tmp, _ = made
    side = pv.sidecar_path(tmp / "fig.png")
    obj = json.loads(side.read_text())
    obj["record"]["params"]["dpi"] = 300  # hand-edited record
    side.write_text(json.dumps(obj))
    problems, _ = pv.audit([tmp])
    assert any("embedded record differs" in p for p in problems)


def test_missing_sidecar_and_missing_path(made, capsys):
    tmp, _ = made
    pv.sidecar_path(tmp / "fig.png").unlink()
    problems, _ = pv.audit([tmp])
    assert problems[0].startswith("MISSING")
    assert main(["audit", str(tmp / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err
