"""End-to-end workflow tests on config/tiny.yaml (marked `workflow`).

The tiny study (config/tiny.yaml) runs the whole DAG once per session (the
``tiny_run`` fixture in conftest.py); later stages have their own
tests/test_workflow_<stage>.py on the same run. A second whole run compared
with it file by file: tests/test_workflow_rerun.py; editing scripts and
library code: tests/test_workflow_code_reruns.py.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import EARLY_FIGURES, ROOT, SNAKEMAKE, TINY, planned_rules, same_file, snakemake, tiny_config_with

pytestmark = pytest.mark.workflow



def test_tiny_study_outputs(tiny_run):
    res = tiny_run / "results" / "tiny"
    cfg = yaml.safe_load((ROOT / "config/tiny.yaml").read_text())
    sweep = cfg["simulation"]["sweep"]
    nsims = len(sweep["phi0"]) * len(sweep["quench"]) * sweep["replicates"]
    nsnap = cfg["simulation"]["time"]["n_snapshots"]
    snaps = pd.read_csv(res / "snapshots.csv")
    assert len(snaps) == nsims * nsnap
    assert snaps["characteristic_length"].notna().all()
    # mass conservation survives the whole pipeline (float32 storage: 1e-6)
    assert np.allclose(snaps["phi_mean"], snaps["phi0"], atol=1e-6)
    sims = pd.read_csv(res / "simulations.csv")
    assert len(sims) == nsims
    # the dataset: one row per snapshot, one S(q) curve per row, every
    # functional measured, on the config's q grid
    from scattermorph.functionals import FUNCTIONALS
    from scattermorph.measure.snapshots import load_dataset

    table, arrays = load_dataset(res / "dataset.csv", res / "dataset_sq.npz")
    assert len(table) == nsims * nsnap
    assert arrays["s_q"].shape == (len(table), cfg["measurement"]["q"]["n_bins"])
    assert table[FUNCTIONALS[2]].notna().all().all()
    assert np.array_equal(arrays["i_q"], arrays["s_q"], equal_nan=True)  # instrument off
    assert (table["euler"] == np.round(table["euler"])).all()  # Euler numbers are integers
    for fig in ["morphology_gallery.png", "coarsening.png", "motivating_pair.png",
                "functionals_vs_time.png", "scaling_collapse.png", "euler_vs_composition.png"]:
        data = (res / "figures" / fig).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    ref = pd.read_csv(res / "reference" / "expected.csv")
    assert set(ref["kind"]) == {"boolean_model", "gaussian_level_cut"}
    # every costly rule wrote a benchmark record
    assert list((tiny_run / "benchmarks/results/tiny/simulate_microstructure").glob("*.tsv"))


def test_rerun_is_a_no_op(tiny_run):
    res = snakemake("--configfile", str(ROOT / "config/tiny.yaml"), "-n", cwd=tiny_run)
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_simulation_files_self_describing(tiny_run):
    from scattermorph.sim.run import load_simulation

    path = next((tiny_run / "results/tiny/simulations").glob("*.npz"))
    phi, times, meta = load_simulation(path)
    assert phi.shape[0] == len(times) == len(meta["steps"])
    assert meta["params"]["seed"] == 7
    assert "scattermorph" in meta["versions"]
    assert np.all(np.diff(times) > 0)


def test_lint_is_clean(tmp_path):
    res = snakemake("--lint", "--configfile", str(ROOT / "config/tiny.yaml"), cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Lints for" not in out, out[-3000:]


@pytest.mark.skipif(shutil.which("snakefmt") is None and not Path(sys.executable).with_name("snakefmt").exists(), reason="snakefmt not installed")
def test_snakefmt_clean():
    exe = shutil.which("snakefmt") or str(Path(sys.executable).with_name("snakefmt"))
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]
    res = subprocess.run([exe, "--check", *map(str, files)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


BAD = [
    # (dotted key, value, expected text in the error)
    ("simulation.sweep.phi0", [0.3, 1.5], "simulation.sweep.phi0[1] = 1.5"),
    ("simulation.sweep.quench", [0.9], "simulation.sweep.quench[0] = 0.9"),
    ("simulation.time.dt", 0.5, "simulation.time.dt=0.5"),
    ("simulation.dxx", 2.0, "unknown key 'dxx'"),
]


@pytest.mark.parametrize("key, value, text", BAD, ids=[b[0] for b in BAD])
def test_bad_config_refused_before_any_job(tmp_path, key, value, text):
    cfg = tiny_config_with(key, value)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    res = snakemake("--configfile", str(bad), "--cores", "1", cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert text in out, out[-2000:]
    assert not (tmp_path / "results").exists()  # nothing ran


def test_same_numbers_whatever_cores(tiny_run, tmp_path):
    """The tiny study at --cores 1 reproduces the --cores 2 arrays bit for bit,
    the sweep's runs and the inference stage's calibration runs alike: every
    draw comes from SeedSequence([study seed, simulation index]) (the
    calibration runs: from their own stream) and each simulation runs
    single-threaded with deterministic FFT plans."""
    from scattermorph.sim.run import load_simulation

    res = snakemake(
        "--configfile", str(ROOT / "config/tiny.yaml"), "--cores", "1",
        "results/tiny/snapshots.csv", "results/tiny/inference/calibration_set.csv", cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    files = sorted((tiny_run / "results/tiny/simulations").glob("*.npz"))
    assert files and any("_cal" in f.name for f in files)
    for a in files:
        phi_a, t_a, _ = load_simulation(a)
        phi_b, t_b, _ = load_simulation(tmp_path / "results/tiny/simulations" / a.name)
        assert np.array_equal(phi_a, phi_b) and np.array_equal(t_a, t_b)
    cols = ["sim_id", "snapshot", "time", "characteristic_length", "phi_mean"]
    a = pd.read_csv(tiny_run / "results/tiny/snapshots.csv")[cols]
    b = pd.read_csv(tmp_path / "results/tiny/snapshots.csv")[cols]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    a, b = (pd.read_csv(r / "results/tiny/inference/calibration_set.csv") for r in (tiny_run, tmp_path))
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_blow_up_leaves_no_output(tmp_path):
    """Full-strength Cook noise on lattice-site cells drives phi out of (0, 1):
    the job must fail with a clear message and leave no simulation file."""
    cfg = yaml.safe_load((ROOT / "config/tiny.yaml").read_text())
    cfg["simulation"]["noise"] = 1.0
    bad = tmp_path / "noisy.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    res = snakemake("--configfile", str(bad), "--cores", "1", "results/tiny/snapshots.csv", cwd=tmp_path)
    assert res.returncode != 0
    log = next((tmp_path / "logs/tiny/simulate_microstructure").glob("*.log")).read_text()
    assert "blew up (NaN/inf)" in log
    assert not list((tmp_path / "results").rglob("*.npz"))
    assert not list((tmp_path / "results").rglob("*.part"))


def test_figures_carry_provenance_and_audit_clean(tiny_run):
    """Every figure has its record embedded and in a sidecar naming its rule
    and inputs; `scattermorph audit` finds nothing stale or tampered."""
    from scattermorph.audit import audit
    from scattermorph.provenance.records import read_embedded, sidecar_path

    figs = sorted((tiny_run / "results/tiny/figures").glob("*.png"))
    assert {f"results/tiny/figures/{f.name}" for f in figs} >= set(EARLY_FIGURES)
    for fig in figs:
        rec = read_embedded(fig)
        assert rec is not None and rec["rule"].startswith("plot_")
        assert sidecar_path(fig).exists()
        assert all(f["sha256"] for files in rec["inputs"].values() for f in files)
        pdf = fig.with_suffix(".pdf")  # the vector copy carries the same record
        assert read_embedded(pdf) == rec and sidecar_path(pdf).exists()
    notes = []
    problems, n = audit([tiny_run / "results"], params=True, notes=notes)
    # figures (PNG and PDF), tables and arrays with records; the parameters
    # every job gets from config/tiny.yaml now equal the recorded ones
    assert n >= 2 * len(figs) and problems == [] and notes == []


def test_audit_names_the_changed_config_key_and_what_it_makes_stale(tiny_run, tmp_path):
    """Against a config with a changed measurement setting, `scattermorph
    audit --configfile` reports the measurement files STALE naming the key and
    both values, everything made from them STALE through its inputs, and no
    simulation (which does not read that setting)."""
    from scattermorph.audit import audit
    from scattermorph.cli import main

    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(tiny_config_with("measurement.porod.q_max", 0.9)))
    old = yaml.safe_load(TINY.read_text())["measurement"]["porod"]["q_max"]
    results = tiny_run / "results/tiny"
    problems, _ = audit([results], params=True, configfile=changed)
    by_params = [p for p in problems if "parameters changed" in p]
    key = f"measurement.porod.q_max: {json.dumps(old)} -> 0.9"
    measured = sorted((results / "measurements").glob("*.npz"))
    assert measured and all(any(str(m) in p and key in p for p in by_params) for m in measured)
    assert any(str(results / "dataset.csv") in p for p in problems)
    assert any(str(results / "figures/motivating_pair.pdf") in p and "itself stale" in p for p in problems)
    assert not any("/simulations/" in p for p in problems)
    assert main(["audit", str(results / "simulations"), "--configfile", str(changed)]) == 0
    assert main(["audit", str(results / "measurements"), "--configfile", str(changed)]) == 1


@pytest.mark.parametrize(
    "key, value, expected",
    [
        # a figure setting reruns the figures only
        ("figures.dpi", 61, {"plot_morphology_gallery", "plot_coarsening", "plot_motivating_pair",
                             "plot_functionals_vs_time", "plot_scaling_collapse",
                             "plot_euler_vs_composition"}),
        # a measurement setting reruns measurement, dataset and its figures, no simulation
        ("measurement.porod.q_max", 0.9, {"measure_snapshots", "assemble_dataset",
                                          "plot_motivating_pair", "plot_functionals_vs_time",
                                          "plot_scaling_collapse", "plot_euler_vs_composition"}),
    ],
    ids=["figures.dpi", "measurement.porod"],
)
def test_changing_a_parameter_reruns_exactly_its_dependents(tiny_run, tmp_path, key, value, expected):
    cfg = tiny_config_with(key, value)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    res = snakemake("--configfile", str(changed), "-n", *EARLY_FIGURES, cwd=tiny_run)
    assert res.returncode == 0, res.stderr[-2000:]
    assert planned_rules(res) == expected, res.stdout[-3000:]


# --------------------------------------------------------------------------
# reproducibility and resume (issue 7)
# --------------------------------------------------------------------------
def test_interrupted_run_resumes_and_finishes_identically(tiny_run, tmp_path):
    """SIGTERM mid-run, then the same command: it finishes, reruns only what
    was incomplete (finished simulations keep their files), never leaves a
    partial file under a final name, and gives the uninterrupted outputs."""
    import signal
    import time

    target = "results/tiny/dataset.csv"
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
           str(ROOT / "config/tiny.yaml"), "--cores", "2", target]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sims = tmp_path / "results/tiny/simulations"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(sims.glob("*.npz"))) < 2 and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    from scattermorph.sim.run import load_simulation

    before = {}
    for p in sims.glob("*.npz"):  # every file with a final name is complete
        load_simulation(p)
        before[p.name] = p.stat().st_mtime_ns
    assert before and not (tmp_path / target).exists()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    # finished simulations were not rerun (a job killed between writing its file
    # and Snakemake recording it is incomplete and rightly rerun: not all of them)
    kept = [n for n, t in before.items() if (sims / n).stat().st_mtime_ns == t]
    assert kept, "every finished simulation was rerun"
    for n in before:
        same_file(tiny_run / "results/tiny/simulations" / n, sims / n)
    for name in ["dataset.csv", "dataset_sq.npz"]:
        same_file(tiny_run / "results/tiny" / name, tmp_path / "results/tiny" / name)


def test_report_is_written_and_needs_only_the_study_pins(tiny_run, tmp_path):
    """`snakemake --report` (what bin/study runs after the study) writes a
    self-contained HTML report of the tiny study; the packages it needs are
    in requirements/lock.txt, which bin/study installs (not only in the test
    extras: a fresh `bin/study` once failed at the report for want of pygments)."""
    report = tmp_path / "report.html"
    res = snakemake("--configfile", str(ROOT / "config/tiny.yaml"), "--report", str(report), cwd=tiny_run)
    assert res.returncode == 0, res.stderr[-3000:]
    page = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000 and "parity" in page
    # every figure's caption carries its provenance record (the sidecar, included verbatim)
    n_figures = len(list((tiny_run / "results/tiny/figures").glob("*.png")))
    assert page.count("figure_sha256") >= n_figures > 0
    lock = {line.split("==")[0].lower() for line in (ROOT / "requirements/lock.txt").read_text().splitlines()
            if "==" in line}
    assert {"pygments", "jinja2", "docutils"} <= lock


def test_missing_input_names_the_file_and_the_rule(tmp_path):
    """A missing input file (here the rubber data the foundations stage reads)
    stops the run before any job, with Snakemake's error naming the rule that
    wanted it and the file."""
    absent = tmp_path / "nowhere/treloar.csv"
    cfg = tmp_path / "missing.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config_with("foundations.data", str(absent))))
    res = snakemake("--configfile", str(cfg), "--cores", "1", "results/tiny/foundations/tutorial.npz", cwd=tmp_path)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "Missing input files for rule predict_gp_tutorial" in out and str(absent) in out, out[-2000:]
    assert not (tmp_path / "results").exists()  # nothing ran
