"""Editing a library module reruns the jobs whose scripts run it, and their
dependents, and nothing else (each rule's param `code`: the digest of its
script and the library files the script imports, scattermorph.provenance.codedeps);
editing a figure script reruns only its figure. Both on one copy of the
checkout (``copied_run``); each test undoes its edit."""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest

from _workflow import EARLY_FIGURES, ROOT, SNAKEMAKE, planned_rules
from scattermorph.provenance.codedeps import library_modules

pytestmark = pytest.mark.workflow

# The learning library module and a function of it that the cross-validation
# runs (the module's path relative to the checkout).
LEARN_MODULE = "workflow/scattermorph/learn/estimators.py"
LEARN_FUNCTION = "make_gp"

# The dataset and one cross-validated (input, model) pair of config/tiny.yaml.
DATASET = "results/tiny/dataset.csv"
CV = "results/tiny/learning/cv/log_sq/gp_se.csv"
# Jobs that make the dataset: none of their scripts imports the learning code.
UPSTREAM = {"simulate_microstructure", "measure_snapshots", "assemble_dataset", "index_snapshots"}
# Jobs on the way to CV whose scripts import the learning code.
LEARNING = {"split_dataset", "cross_validate_models"}


def _append_to_function(path, name):
    """Append a no-op statement to the body of function ``name`` (after its
    last statement, at the body's indentation): its bytes change, what it
    computes does not."""
    text = path.read_text()
    func = next(n for n in ast.walk(ast.parse(text))
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name)
    lines = text.splitlines(keepends=True)
    indent = " " * func.body[0].col_offset
    lines.insert(func.body[-1].end_lineno, f"{indent}_unused = None  # an edit of the code\n")
    new = "".join(lines)
    ast.parse(new)  # still a valid module
    path.write_text(new)


@pytest.fixture(scope="module")
def copied_run(tmp_path_factory):
    """A copy of the checkout with the dataset, one cross-validation and the
    first stages' figures made."""
    src = tmp_path_factory.mktemp("code_reruns") / "wf"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", "results", "logs", ".snakemake", ".git", "benchmarks", "__pycache__", ".*_cache"))
    cmd = [*SNAKEMAKE, "-s", str(src / "Snakefile"), "-d", str(src), "--configfile", str(src / "config/tiny.yaml")]
    res = subprocess.run([*cmd, "--cores", "2", DATASET, CV, *EARLY_FIGURES],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return src, cmd


def _dry_run(cmd, *targets):
    targets = targets or (DATASET, CV)
    res = subprocess.run([*cmd, "-n", *targets], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_recorded_modules_are_among_those_found_statically(copied_run):
    """Every scattermorph module a job had loaded when it wrote its outputs
    (its provenance record) is one the static analysis finds for its script."""
    src, _ = copied_run
    sides = sorted((src / "results").rglob("*.prov.json"))
    assert sides
    for side in sides:
        rec = json.loads(side.read_text())["record"]
        script = src / rec["script"]["path"]
        lib = src / "workflow" / "scattermorph"
        found = {p.relative_to(lib).as_posix() for p in library_modules(script, root=src / "workflow")
                 if p.is_relative_to(lib)}
        assert set(rec["library"]["modules"]) <= found, (side.name, set(rec["library"]["modules"]) - found)


def test_editing_a_plotting_script_reruns_only_its_figure(copied_run):
    """After the first stages' figures are made, editing one figure script
    plans exactly that figure's rule (Snakemake's code rerun trigger)."""
    src, cmd = copied_run
    assert planned_rules(_dry_run(cmd, *EARLY_FIGURES)) == set()  # complete before the edit
    script = src / "workflow/scripts/plot_scaling_collapse.py"
    original = script.read_text()
    script.write_text(original + "\n# a comment changes the script's code\n")
    try:
        assert planned_rules(_dry_run(cmd, *EARLY_FIGURES)) == {"plot_scaling_collapse"}
    finally:
        script.write_text(original)


def test_editing_the_learning_module_reruns_the_learning_jobs_only(copied_run):
    src, cmd = copied_run
    assert planned_rules(_dry_run(cmd)) == set()  # complete, and the code param is stable
    module = src / LEARN_MODULE
    original = module.read_text()
    try:
        _check_learning_edit(src, cmd)
    finally:
        module.write_text(original)


def _check_learning_edit(src, cmd):
    """The learning-module edit of the test above and what it must plan."""
    _append_to_function(src / LEARN_MODULE, LEARN_FUNCTION)
    res = _dry_run(cmd)
    planned = planned_rules(res)
    assert "cross_validate_models" in planned, res.stdout[-3000:]
    assert planned <= LEARNING, res.stdout[-3000:]
    assert not planned & UPSTREAM, res.stdout[-3000:]
    # the audit of the copy names the changed code param of the cross-validation
    env = {**os.environ, "PYTHONPATH": str(src / "workflow")}
    audit = subprocess.run([sys.executable, "-m", "scattermorph.cli", "audit", str(src / "results/tiny"),
                            "--configfile", str(src / "config/tiny.yaml")],
                           capture_output=True, text=True, timeout=600, cwd=src, env=env, check=False)
    stale = [line for line in audit.stdout.splitlines() if "parameters changed" in line]
    assert any(CV in line and "code:" in line for line in stale), audit.stdout[-3000:]
    assert not any("/simulations/" in line or "/measurements/" in line for line in audit.stdout.splitlines())
