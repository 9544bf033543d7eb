"""Helpers shared by the workflow tests (tests/test_workflow*.py): run
Snakemake on this checkout, edit the tiny config, compare two runs' files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TINY = ROOT / "config/tiny.yaml"

# The figures of the first stages: the change-tracking tests plan only these
# targets, so later stages (which add their own tests) do not change them.
EARLY_FIGURES = [
    f"results/tiny/figures/{name}.png"
    for name in ["morphology_gallery", "coarsening", "motivating_pair",
                 "functionals_vs_time", "scaling_collapse", "euler_vs_composition"]
]


def tiny_config_with(key, value):
    """config/tiny.yaml with the value at a dotted key replaced."""
    cfg = yaml.safe_load(TINY.read_text())
    node = cfg
    *head, last = key.split(".")
    for k in head:
        node = node[k]
    node[last] = value
    return cfg


def snakemake(*args, cwd, timeout=600):
    """Run this checkout's Snakefile with working directory ``cwd``."""
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(cwd), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def planned_rules(res):
    """Rules of the jobs a dry run would execute (from Snakemake's job table)."""
    import re

    out = res.stdout + res.stderr
    table = out.split("Job stats:")[-1] if "Job stats:" in out else ""
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M)} - {"total", "all"}


# --------------------------------------------------------------------------
# comparing the files of two runs (test_workflow_rerun.py, test_workflow.py)
# --------------------------------------------------------------------------
#: keys of the JSON metadata that record when or how fast, not what
VOLATILE = ("seconds", "wall", "speedup", "created", "date", "elapsed", "checksum", "provenance",
            "workdir")


#: figures that print measured timings (emulator vs simulation, solve/predict seconds)
TIMED_FIGURES = {"emulator_validation", "emulator_ch1d"}


def strip_volatile(obj):
    """``obj`` (parsed JSON) without the keys that name VOLATILE things."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if not any(w in k.lower() for w in VOLATILE)}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def same_record(rec):
    """A figure's record less what legitimately differs between two runs: the
    timestamp, the working directory, and the sha256 of inputs whose bytes
    include timings (simulation files record their wall time; their contents
    are compared by same_file)."""
    rec = strip_volatile(rec)
    rec["inputs"] = {name: [f["path"] for f in files] for name, files in rec["inputs"].items()}
    return rec


def same_file(a, b):
    """Tables equal cell for cell, arrays bit for bit; only columns or JSON
    keys that record timings or dates (VOLATILE) are left out."""
    if a.suffix == ".csv":
        ta, tb = pd.read_csv(a), pd.read_csv(b)
        keep = [c for c in ta.columns if not any(w in c.lower() for w in VOLATILE)]
        pd.testing.assert_frame_equal(ta[keep], tb[keep], check_exact=True)
    elif a.suffix == ".npz":
        with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
            assert za.files == zb.files, a
            for k in za.files:
                if any(w in k.lower() for w in VOLATILE):
                    continue
                x, y = za[k], zb[k]
                if x.dtype.kind in "US" and x.ndim == 0 and str(x)[:1] in "{[":  # JSON metadata
                    assert strip_volatile(json.loads(str(x))) == strip_volatile(json.loads(str(y))), f"{a}:{k}"
                elif x.dtype.kind in "USO":
                    assert np.array_equal(x, y), f"{a}:{k}"
                else:
                    assert np.array_equal(x, y, equal_nan=True), f"{a}:{k}"
    elif a.suffix == ".md":  # summaries: lines quoting timings left out
        def keep(text):
            return [line for line in text.splitlines()
                    if not any(w in line.lower() for w in (*VOLATILE, "speed-up", "(s)"))]

        assert keep(a.read_text()) == keep(b.read_text()), a
    elif a.suffix == ".json" and not a.name.endswith(".prov.json"):
        assert a.read_text() == b.read_text(), a
