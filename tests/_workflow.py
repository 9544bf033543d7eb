"""Helpers shared by the workflow tests (tests/test_workflow*.py): run
Snakemake on this checkout, edit the tiny config."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TINY = ROOT / "config/tiny.yaml"


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
