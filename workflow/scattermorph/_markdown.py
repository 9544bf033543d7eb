"""Markdown helpers of the stage summaries: headline numbers as tables.

Each ``*_summary`` function reads the result tables a stage's rules wrote and
returns a short Markdown page of headed tables, each table followed by the
file it was computed from. docs/results.md and the HTML report quote these pages
(``scattermorph readme`` copies them into docs/results.md), so no number of the
study is typed by hand (as showyourwork does for papers).

The pages are deterministic: no timestamps, rows in a fixed (sorted) order
whatever the order of the input rows, and every float written with a fixed
format (:func:`fmt`), so a rerun that reproduces the tables reproduces the
pages byte for byte, except the emulator's speed-up table, which quotes the
measured seconds of ``speedup.csv``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scattermorph.errors import InputFileError

__all__ = [
    "fmt",
    "md_table",
]


def fmt(value, spec: str = ".3g") -> str:
    """A number as fixed-format text: ``n/a`` for None/NaN/inf, ``yes``/``no``
    for booleans, integers without a decimal point, floats with ``spec``
    (default three significant digits)."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "n/a"
    out = format(v, spec)
    return "0" if out in ("-0", "-0.0", "-0.00", "-0.000") else out


def md_table(header, rows) -> list[str]:
    """Lines of a Markdown table; cells that are not strings go through :func:`fmt`."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return lines


def _source(*paths) -> str:
    return "From " + ", ".join(f"`{p}`" for p in paths) + "."


def _need(table: pd.DataFrame, columns, name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(f"{name} lacks the column(s) {', '.join(missing)}: "
                             f"rerun the rule that writes it (has {', '.join(map(str, table.columns))})")


def _section(title: str, table_lines: list[str], source: str, note: str | None = None) -> list[str]:
    lines = ["", f"## {title}", ""]
    if note:
        lines += [note, ""]
    return lines + table_lines + ["", source]


