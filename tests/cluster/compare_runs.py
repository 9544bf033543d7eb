"""Bit-for-bit comparison of two runs of the study (tables and arrays).

Every ``.npz`` and ``.csv`` under ``results/`` of one run must exist in the
other with equal content: numpy arrays equal element by element with the same
dtype and shape (NaN equal to NaN), CSV tables equal cell by cell as text.
Figures and provenance records are not compared (they embed timestamps and
paths). Fields that record wall-clock time are the only exceptions: the
``wall_seconds`` column of simulations.csv and the ``wall_seconds`` entry of
each simulation's JSON ``meta``.
"""

import csv
import json
from pathlib import Path

import numpy as np

# Columns / metadata keys that measure wall-clock time, not results.
TIMING_KEYS = {"wall_seconds"}


def result_files(run_dir):
    """Relative paths of the compared files (npz and csv under results/)."""
    root = Path(run_dir)
    return sorted(
        str(p.relative_to(root))
        for p in (root / "results").rglob("*")
        if p.suffix in (".npz", ".csv") and p.is_file()
    )


def _meta(text):
    meta = json.loads(text)
    return {k: v for k, v in meta.items() if k not in TIMING_KEYS}


def compare_npz(a, b):
    """Differences between two .npz files (empty list if equal)."""
    problems = []
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if sorted(za.files) != sorted(zb.files):
            return [f"arrays {sorted(za.files)} != {sorted(zb.files)}"]
        for key in za.files:
            x, y = za[key], zb[key]
            if key == "meta":
                if _meta(str(x)) != _meta(str(y)):
                    problems.append("meta differs (beyond wall_seconds)")
            elif x.dtype != y.dtype or x.shape != y.shape:
                problems.append(f"{key}: {x.dtype}{x.shape} != {y.dtype}{y.shape}")
            else:
                same = x == y
                if x.dtype.kind in "fc":
                    same |= np.isnan(x) & np.isnan(y)
                if not np.all(same):
                    problems.append(f"{key}: {int(np.sum(~same))} of {x.size} elements differ")
    return problems


def compare_csv(a, b):
    """Differences between two CSV tables, ignoring wall-clock columns."""
    with open(a, newline="") as fa, open(b, newline="") as fb:
        ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
    if not ra or not rb or ra[0] != rb[0]:
        return ["headers differ"]
    keep = [i for i, name in enumerate(ra[0]) if name not in TIMING_KEYS]
    if len(ra) != len(rb):
        return [f"{len(ra) - 1} rows != {len(rb) - 1} rows"]
    bad = [n for n, (x, y) in enumerate(zip(ra[1:], rb[1:]), 1) if [x[i] for i in keep] != [y[i] for i in keep]]
    return [f"{len(bad)} rows differ (first: row {bad[0]})"] if bad else []


def compare_runs(run_a, run_b, *, subset=False):
    """{relative path: [problems]} for every file that differs or is missing.

    ``subset=True``: the second run made only some targets of the first; its
    files must exist in the first and be equal, the first may have more."""
    files_a, files_b = set(result_files(run_a)), set(result_files(run_b))
    out = {} if subset else {f: ["missing in the second run"] for f in files_a - files_b}
    out.update({f: ["missing in the first run"] for f in files_b - files_a})
    for f in sorted(files_a & files_b):
        fn = compare_npz if f.endswith(".npz") else compare_csv
        problems = fn(Path(run_a) / f, Path(run_b) / f)
        if problems:
            out[f] = problems
    return out
