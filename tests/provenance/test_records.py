"""Figure provenance: embedded in the PNG and in a sidecar; `scattermorph
audit` finds tampered and stale figures and names the cause."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from scattermorph.audit import _leaf_diff, audit, find_configfile  # noqa: E402
from scattermorph.cli import main  # noqa: E402
from scattermorph.plots import common as plots_common  # noqa: E402
from scattermorph.plots.save import save_figure  # noqa: E402
from scattermorph.provenance import records as pv  # noqa: E402


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
    assert audit([tmp]) == ([], 1)
    assert main(["audit", str(tmp)]) == 0


def test_changed_input_is_stale(made, capsys):
    tmp, _ = made
    (tmp / "data.csv").write_text("x,y\n1,3\n")
    problems, _ = audit([tmp])
    assert problems == [f"STALE {tmp / 'fig.png'}: input table data.csv changed"]
    assert main(["audit", str(tmp)]) == 1
    assert "STALE" in capsys.readouterr().out


def test_changed_script_is_stale(made):
    tmp, _ = made
    (tmp / "script.py").write_text("print('other plot')\n")
    problems, _ = audit([tmp])
    assert any("script script.py changed" in p for p in problems)


def test_tampered_figure(made):
    tmp, _ = made
    data = bytearray((tmp / "fig.png").read_bytes())
    data[-20] ^= 0xFF  # flip bits inside the image
    (tmp / "fig.png").write_bytes(bytes(data))
    problems, _ = audit([tmp / "fig.png"])
    assert problems[0].startswith(f"TAMPERED {tmp / 'fig.png'}")


def test_edited_sidecar_is_tampered(made):
    tmp, _ = made
    side = pv.sidecar_path(tmp / "fig.png")
    obj = json.loads(side.read_text())
    obj["record"]["params"]["dpi"] = 300  # hand-edited record
    side.write_text(json.dumps(obj))
    problems, _ = audit([tmp])
    assert any("embedded record differs" in p for p in problems)


def test_missing_sidecar_and_missing_path(made, capsys):
    tmp, _ = made
    pv.sidecar_path(tmp / "fig.png").unlink()
    problems, _ = audit([tmp])
    assert problems[0].startswith("MISSING")
    assert main(["audit", str(tmp / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err


class _Named(dict):
    """Named files/params as Snakemake's objects expose them: items() by name,
    iteration over the values."""

    def __iter__(self):
        return iter(self.values())


class _Job:
    """The parts of Snakemake's `snakemake` object that record_outputs reads."""

    def __init__(self, inputs, outputs):
        self.rule = "compute_table"
        self.input = _Named(inputs)
        self.output = _Named(outputs)
        self.params = _Named({"alpha": 0.5})


def test_tables_carry_records_and_audit_checks_them(tmp_path, monkeypatch):
    """A compute job's outputs get sidecars; audit then finds a hand-edited
    table (TAMPERED) and a changed input (STALE) as it does for figures."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n")
    (tmp_path / "script.py").write_text("print('compute')\n")
    (tmp_path / "out.csv").write_text("y\n2\n")
    sides = pv.record_outputs(_Job({"data": "data.csv"}, {"table": "out.csv"}), "script.py")
    assert [p.resolve() for p in sides] == [tmp_path / "out.csv.prov.json"]
    side = json.loads(sides[0].read_text())
    assert side["sha256"] == pv.sha256_file(tmp_path / "out.csv")
    assert side["record"]["inputs"]["data"][0]["path"] == "data.csv"
    assert audit([tmp_path]) == ([], 1)
    (tmp_path / "out.csv").write_text("y\n3\n")  # hand-edited result
    problems, _ = audit([tmp_path])
    assert any(p.startswith("TAMPERED") and "out.csv" in p for p in problems)
    (tmp_path / "out.csv").write_text("y\n2\n")
    (tmp_path / "data.csv").write_text("x\n9\n")  # the input changed since
    problems, _ = audit([tmp_path])
    assert problems == [f"STALE {tmp_path / 'out.csv'}: input data data.csv changed"]


@pytest.fixture
def made_pdf(made):
    """The same figure also saved as PDF, with the same record."""
    tmp, rec = made
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp / "fig2.png", dpi=50, provenance=rec, pdf=tmp / "fig2.pdf")
    return tmp, rec


def test_pdf_carries_the_record_in_its_info_and_sidecar(made_pdf):
    tmp, rec = made_pdf
    from pypdf import PdfReader

    info = PdfReader(tmp / "fig2.pdf").metadata
    assert json.loads(info["/" + pv.PDF_KEY]) == rec  # read by an independent PDF parser
    assert "/Producer" not in info and "/CreationDate" not in info  # no version or date in the bytes
    side = json.loads(pv.sidecar_path(tmp / "fig2.pdf").read_text())
    assert side["record"] == rec and side["figure_sha256"] == pv.sha256_file(tmp / "fig2.pdf")
    assert audit([tmp]) == ([], 3)  # fig.png, fig2.png, fig2.pdf


def test_pdf_bytes_depend_only_on_figure_and_record(made_pdf):
    """Saving the same figure with the same record twice gives the same bytes
    (no creation date or producer), so the sidecar hash is a real check."""
    tmp, rec = made_pdf
    first = (tmp / "fig2.pdf").read_bytes()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp / "again.png", dpi=50, provenance=rec, pdf=tmp / "again.pdf")
    assert (tmp / "again.pdf").read_bytes() == first


def test_tampered_pdf_and_edited_pdf_record(made_pdf):
    tmp, rec = made_pdf
    pdf = tmp / "fig2.pdf"
    original = pdf.read_bytes()
    # replace the embedded record's rule name by one of the same length: a valid
    # PDF whose record no longer matches the sidecar
    pdf.write_bytes(original.replace(b"plot_thing", b"plot_other"))
    problems, _ = audit([pdf])
    assert problems == [f"TAMPERED {pdf}: its bytes no longer match the recorded sha256"]
    # ... and with the sidecar's hash updated to the edited bytes, the embedded
    # record still betrays the edit
    side = pv.sidecar_path(pdf)
    obj = json.loads(side.read_text())
    obj["figure_sha256"] = pv.sha256_file(pdf)
    side.write_text(json.dumps(obj))
    problems, _ = audit([pdf])
    assert problems == [f"TAMPERED {pdf}: embedded record differs from {side.name}"]


def test_staleness_travels_downstream(tmp_path, monkeypatch):
    """data.csv -> table.csv (compute job) -> fig.png: changing data.csv makes
    the table stale (its input changed) and the figure stale (its input is
    itself stale), though the table's bytes did not change."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n")
    (tmp_path / "script.py").write_text("print('compute')\n")
    (tmp_path / "table.csv").write_text("y\n2\n")
    pv.record_outputs(_Job({"data": "data.csv"}, {"table": "table.csv"}), "script.py")
    rec = pv.build_record(rule="plot_thing", script="script.py", inputs={"table": ["table.csv"]},
                          params={}, outputs=["fig.png"])
    fig, ax = plt.subplots()
    save_figure(fig, tmp_path / "fig.png", dpi=20, provenance=rec)
    assert audit([tmp_path]) == ([], 2)
    (tmp_path / "data.csv").write_text("x\n5\n")
    problems, _ = audit([tmp_path])
    assert problems == [
        f"STALE {tmp_path / 'fig.png'}: input table table.csv is itself stale or tampered",
        f"STALE {tmp_path / 'table.csv'}: input data data.csv changed",
    ]


def test_leaf_diff_names_each_changed_key():
    old = {"learning": {"cv_folds": 4, "models": ["a", "b"]}, "dpi": 150, "gone": 1}
    new = {"learning": {"cv_folds": 5, "models": ["a", "b"]}, "dpi": 150, "extra": 2}
    assert _leaf_diff(old, new) == ["extra: added (2)", "gone: removed", "learning.cv_folds: 4 -> 5"]
    assert _leaf_diff(old, old) == []


def test_leaf_diff_treats_nan_as_unchanged():
    """A NaN parameter (the composition of a Gaussian-field structure) read
    back from JSON is a new float object, and NaN != NaN: still unchanged."""
    rec = json.loads(json.dumps({"record": {"phi0": float("nan"), "shape": [48, float("nan")]}}))
    again = json.loads(json.dumps(rec))
    assert _leaf_diff(rec, again) == []
    assert _leaf_diff(rec, {"record": {"phi0": 0.3, "shape": [48, float("nan")]}}) == [
        "record.phi0: NaN -> 0.3"]


def test_find_configfile_by_study_name(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config.yaml").write_text("study:\n  name: default\n")
    (tmp_path / "config/tiny.yaml").write_text("study:\n  name: tiny\n")
    (tmp_path / "config/other.yaml").write_text("study:\n  name: twin\n")
    (tmp_path / "config/twin.yaml").write_text("study:\n  name: twin\n")
    assert find_configfile("default", tmp_path) is None  # Snakemake's own default
    assert find_configfile("tiny", tmp_path) == tmp_path / "config/tiny.yaml"
    with pytest.raises(LookupError, match="no config file.*'nowhere'.*--configfile"):
        find_configfile("nowhere", tmp_path)
    with pytest.raises(LookupError, match="several config files"):
        find_configfile("twin", tmp_path)


def test_parameter_check_outside_a_study_folder_is_noted_not_failed(made):
    tmp, _ = made
    notes = []
    assert audit([tmp], params=True, notes=notes) == ([], 1)
    assert notes == [f"UNCHECKED {tmp / 'fig.png'}: parameters not checked (not under results/<study>/)"]


def test_library_staleness_names_the_modules_the_job_ran(made, monkeypatch, tmp_path):
    """The record lists the hash of each scattermorph module loaded when it
    was made; audit calls the file stale only if one of those changed, and
    names it (an edit elsewhere in the library does not make it stale)."""
    tmp, rec = made
    mods = rec["library"]["modules"]
    # loaded by this test module (imported above, whatever ran before it in this process)
    assert plots_common.__name__ == "scattermorph.plots.common"
    assert {"provenance/records.py", "plots/common.py"} <= set(mods)
    assert mods["provenance/records.py"] == pv.sha256_file(pv.LIB_DIR / "provenance/records.py")
    # a figure whose job ran plotting.py only, checked against a copy of the library
    rec = dict(rec, library=dict(rec["library"], modules={"plots/common.py": mods["plots/common.py"]}))
    fig, ax = plt.subplots()
    save_figure(fig, tmp / "one.png", dpi=20, provenance=rec)
    lib = tmp_path / "lib"
    lib.mkdir()
    for f in pv.LIB_DIR.rglob("*.py"):
        (lib / f.relative_to(pv.LIB_DIR)).parent.mkdir(parents=True, exist_ok=True)
        (lib / f.relative_to(pv.LIB_DIR)).write_bytes(f.read_bytes())
    monkeypatch.setattr(pv, "LIB_DIR", lib)
    assert audit([tmp / "one.png"]) == ([], 1)
    (lib / "gp/tutorial.py").write_text((lib / "gp/tutorial.py").read_text() + "\n# edited\n")
    assert audit([tmp / "one.png"]) == ([], 1)  # not a module this job ran
    (lib / "plots/common.py").write_text((lib / "plots/common.py").read_text() + "\n# edited\n")
    problems, _ = audit([tmp / "one.png"])
    assert problems == [f"STALE {tmp / 'one.png'}: library module(s) plots/common.py changed"]


def test_parameter_check_reports_a_changed_code_digest_not_a_missing_one(tmp_path, monkeypatch):
    """Rules pass the digest of their code as the param `code`: a recorded
    digest that differs from the current one is STALE like any param; a
    record made before rules passed it (no `code`) is not stale for that."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.py").write_text("print('compute')\n")
    out = tmp_path / "results/study/out.csv"
    out.parent.mkdir(parents=True)
    out.write_text("y\n2\n")
    now = {"results/study/out.csv": {"alpha": 0.5, pv.CODE_PARAM: "new"}}
    monkeypatch.setattr("scattermorph.audit.current_params", lambda *args, **kw: now)

    def audit_with(params):
        job = _Job({}, {"table": str(out)})
        job.params = _Named(params)
        pv.record_outputs(job, "script.py")
        return audit([out], params=True, configfile=tmp_path / "any.yaml")[0]

    assert audit_with({"alpha": 0.5, pv.CODE_PARAM: "new"}) == []
    assert audit_with({"alpha": 0.5}) == []
    problems = audit_with({"alpha": 0.5, pv.CODE_PARAM: "old"})
    assert problems == [f'STALE {out}: parameters changed since it was made: code: "old" -> "new"']
