"""Stage summaries and the generated blocks of docs/results.md on the tiny
study: every summary exists with its provenance sidecar, quotes the numbers of
its tables and names them; a copy of the docs whose blocks point at the tiny
results is synced and then checks clean; the HTML report carries the
summaries."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _workflow import TINY, snakemake
from scattermorph.cli import main
from scattermorph.provenance import readme as R

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dataset", "learning", "classification", "foundations", "emulator", "inference", "dynamics")
# blocks of docs/results.md the tiny study does not make: the cluster cost (a benchmark) and the
# transfer stage (off in config/tiny.yaml; config/tiny3d.yaml runs it)
NOT_IN_TINY = 2


def _summary(tiny_run, stage):
    return (tiny_run / f"results/tiny/{stage}/summary.md").read_text()


@pytest.mark.parametrize("stage", STAGES)
def test_summary_exists_with_provenance_and_sources(tiny_run, stage):
    path = tiny_run / f"results/tiny/{stage}/summary.md"
    page = path.read_text()
    assert page.startswith("# ") and page.endswith("\n")
    side = json.loads(Path(f"{path}.prov.json").read_text())
    assert side  # record_outputs wrote the provenance sidecar
    if stage != "learning":  # the learning page predates the "From `file`" lines
        sources = re.findall(r"`(results/tiny/[^`]+)`", page)
        assert sources and all((tiny_run / s).is_file() for s in sources)


def test_dataset_summary_quotes_the_tables(tiny_run):
    page = _summary(tiny_run, "dataset")
    sims = pd.read_csv(tiny_run / "results/tiny/simulations.csv")
    data = pd.read_csv(tiny_run / "results/tiny/dataset.csv")
    assert f"| simulations | {len(sims)} |" in page
    assert f"| snapshots (dataset rows) | {len(data)} |" in page
    # a volume fraction lies in (0, 1); the page's range says so
    row = next(line for line in page.splitlines() if line.startswith("| area_density |"))
    lo, med, hi = (float(c) for c in row.strip("|").split("|")[1:4])
    assert 0 < lo <= med <= hi < 1


def test_foundations_summary_loo_agrees_to_rounding(tiny_run):
    """The closed-form LOO and brute-force refits agree to rounding level
    (relative < 1e-6), as the page reports."""
    page = _summary(tiny_run, "foundations")
    block = page.split("## Closed-form")[1].split("##")[0]
    rel = [float(line.strip("|").split("|")[3]) for line in block.splitlines()
           if line.startswith("| ") and not line.startswith("| quantity") and "---" not in line]
    assert len(rel) == 3 and max(rel) < 1e-6


def test_inference_stage_on_the_tiny_study(tiny_run):
    """The tiny 2D study (one quench depth, two replicates per point): one
    calibration row per snapshot of the calibration runs (simulated apart from
    the sweep, with their own parameters, kept out of the study's dataset),
    the quench depth reported as fixed, and the emulator summary quoting the
    scattering emulator's error on them."""
    res = tiny_run / "results/tiny"
    data = pd.read_csv(res / "dataset.csv")
    held = pd.read_csv(res / "inference/calibration_set.csv")
    assert held["sim_id"].nunique() == 4 and not set(held["sim_id"]) & set(data["sim_id"])
    assert held["sim_id"].str.contains("_cal").all()
    assert held["phi0"].between(data["phi0"].min(), data["phi0"].max()).all()
    cal = pd.read_csv(res / "inference/calibration.csv")
    # every calibration snapshot inside the study's range (the study may drop late snapshots; run_stage
    # leaves out truths beyond them, tested in test_inference_study.py)
    assert 0 < len(cal) and set(zip(cal["sim_id"], cal["snapshot"])) <= set(zip(held["sim_id"], held["snapshot"]))
    t = np.log10(held["time_over_tau"])
    inside = t.between(np.log10(data["time_over_tau"]).min(), np.log10(data["time_over_tau"]).max())
    assert len(cal) == int(inside.sum())
    ident = pd.read_csv(res / "inference/identifiability.csv").set_index("parameter")
    assert ident["inferred"].tolist() == [True, False, True]  # phi0, quench (one value), log10_t
    assert ident.loc[["phi0", "log10_t"], "coverage_hpd"].between(0, 1).all()
    val = pd.read_csv(res / "inference/emulator_validation.csv")
    assert set(val["noise_source"]) == {"replicates of the training runs"}  # every run of the study
    pooled = val[val["component"] == "pooled"].iloc[0]
    page = _summary(tiny_run, "emulator")
    assert f"| median relative error of S q1^d / Q | {pooled['median_rel_error_S']:.3f} |" in page
    assert "| chi/chi_s | fixed |" in _summary(tiny_run, "inference")
    doc = json.loads((res / "inference/example.json").read_text())
    assert (doc["ids"]["sim_id"], doc["ids"]["snapshot"]) in set(zip(held["sim_id"], held["snapshot"]))
    assert set(doc["functionals"]) == {"area_density", "perimeter_density", "euler_density"}


def test_docs_blocks_sync_to_the_tiny_results(tiny_run, tmp_path, capsys, monkeypatch):
    """A copy of README.md and docs/ whose blocks point at results/tiny/... is
    synced by `scattermorph readme` (its default files: README.md and
    docs/*.md) and then checks clean; editing a block of docs/results.md is
    caught."""
    import shutil

    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    results = tmp_path / "docs/results.md"
    # only the blocks' source paths: a body may quote results/default/ itself
    results.write_text(results.read_text().replace("GENERATED from results/default/", "GENERATED from results/tiny/"))
    monkeypatch.chdir(tmp_path)
    args = ["--root", str(tiny_run)]
    assert main(["readme", *args]) == 0
    assert capsys.readouterr().out.count("docs/results.md:") == len(STAGES) + NOT_IN_TINY
    synced = results.read_text()
    blocks = {b.source: b for b in R.parse_blocks(synced)}
    for stage in STAGES:
        b = blocks[f"results/tiny/{stage}/summary.md"]
        assert b.body == R.as_body(_summary(tiny_run, stage))  # headings demoted
    assert main(["readme", "--check", *args]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK:") == len(STAGES) and out.count("docs/results.md:") == len(STAGES) + NOT_IN_TINY
    results.write_text(synced.replace("| simulations |", "| runs |"))
    assert main(["readme", "--check", *args]) == 1
    assert "docs/results.md:" in capsys.readouterr().out


def test_report_carries_the_summaries(tiny_run, tmp_path):
    """`snakemake --report` (bin/study's last step) includes every summary."""
    report = tmp_path / "report.html"
    res = snakemake("--configfile", str(TINY), "--report", str(report), cwd=tiny_run)
    assert res.returncode == 0, res.stderr[-3000:]
    page = report.read_text(errors="replace")
    for label in ("foundations summary (numbers)", "emulator summary (numbers)", "inference summary (numbers)",
                  "simulation-based calibration", "example posterior"):
        assert label in page
    assert page.count("summary.md") >= len(STAGES)
