"""A gallery of real reduced files (SasView's sasdata example data, tests/data/sasdata): each is
read, and put through ``scattermorph predict``'s policy with the shipped model, and the outcome is
compared with the one tests/data/sasdata/gallery.csv expects. The table records what the code does
today (most of these files are not phase-separated blends, so "refused" or "flagged" is the right
answer for them); when the policy changes, update the table's ``read``/``predict`` columns: a
failure names the file and the change."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import InputFileError
from scattermorph.predict.apply import apply_model, base_model
from scattermorph.sas.applicability import assess_curve
from scattermorph.sas.curves import read_curves

SASDATA = Path(__file__).resolve().parents[1] / "data" / "sasdata"
GALLERY = pd.read_csv(SASDATA / "gallery.csv", comment="#", dtype=str, keep_default_na=False)
NOT_DATA = {"README.md", "LICENSE.TXT", "gallery.csv"}

#: reason keywords of the table -> the phrases of the message (or warning) that show it
REASONS = {
    "coverage": ("the curve covers", "needs at least"),
    "window": ("refused: on the window", "cross-validated R^2"),
    "narrow-window": ("too narrow to hold a peak",),
    "out-of-domain": ("OUT OF TRAINING DOMAIN",),
    "negative-intensity": ("is negative",),
    "repeated-q": ("appears", "disagree"),
    "columns": ("values, but line",),
    "no-unit": ("has no unit",),
}


def reason(text: str) -> str:
    """The reason keyword of a message, or ``other (<message start>)``."""
    for key, marks in REASONS.items():
        if all(m in text for m in marks):
            return key
    return f"other ({text[:100]})"


def _curves(row):
    """The curve of a table row (its entry of the file), or the refusal message."""
    try:
        curves = read_curves(SASDATA / row["file"], entry="all")
    except InputFileError as exc:
        return None, str(exc)
    chosen = [c for c in curves if (c.entry or "") == row["entry"]] if row["entry"] else curves
    assert len(chosen) == 1, f"{row['file']}: entry {row['entry']!r} not among {[c.entry for c in curves]}"
    return chosen[0], None


def _applicability(curve):
    """The applicability check of a curve as ``predict`` runs it (shipped model: 3D)."""
    return assess_curve(curve.q, curve.intensity, curve.error, dq=curve.dq, ndim=3)


def _needs_refit(row) -> bool:
    """A curve that predict answers with a model refitted for its resolution (seconds each): one
    that states a dQ and is not refused by the applicability check before any refit."""
    curve, _ = _curves(row)
    return (curve is not None and curve.dq is not None and bool(np.any(curve.dq > 0))
            and _applicability(curve).verdict != "refused")


def _rows(slow_when_refit=False):
    params = []
    for _, row in GALLERY.iterrows():
        name = row["file"] + (f"[{row['entry']}]" if row["entry"] else "")
        marks = [pytest.mark.slow] if slow_when_refit and _needs_refit(row) else []
        params.append(pytest.param(dict(row), id=name, marks=marks))
    return params


def test_gallery_lists_every_file_with_its_licence():
    files = {p.name for p in SASDATA.iterdir()} - NOT_DATA
    assert files == set(GALLERY["file"]), f"files without a gallery row: {sorted(files - set(GALLERY['file']))}"
    assert set(GALLERY["licence"]) == {"BSD-3-Clause"}
    assert sum(p.stat().st_size for p in SASDATA.iterdir()) < 3e6  # a small fixture folder
    readme = (SASDATA / "README.md").read_text()
    assert all(f in readme for f in files), "every file is described (source path, commit) in README.md"


@pytest.mark.parametrize("row", _rows())
def test_read_outcome(row):
    curve, message = _curves(row)
    got = "read" if curve is not None else f"refused: {reason(message)}"
    assert got == row["read"], (f"{row['file']} {row['entry']}: read outcome changed from {row['read']!r} to "
                                f"{got!r} ({message or 'read'}); update tests/data/sasdata/gallery.csv if intended")


@pytest.fixture(scope="module")
def shipped():
    return base_model()


@pytest.mark.parametrize("row", _rows(slow_when_refit=True))
def test_predict_outcome(row, shipped, tmp_path_factory):
    curve, message = _curves(row)
    if curve is None:
        pytest.skip(f"not read: {message}")
    model, _, label = shipped
    verdict = _applicability(curve)
    if verdict.verdict == "refused":  # predict refuses it before any model is applied (no refit)
        with pytest.raises(InputFileError, match="not a phase-separated blend's curve"):
            apply_model(model, [(SASDATA / row["file"], curve)], label=label, n_draws=1)
        got, detail = f"refused: {verdict.reasons[0][0]}", verdict.text()
    else:
        got, detail = _predict_outcome(model, label, row, curve, tmp_path_factory)
    assert got == row["predict"], (
        f"{row['file']} {row['entry']}: predict outcome changed from {row['predict']!r} to {got!r} ({detail[:400]}); "
        "update tests/data/sasdata/gallery.csv if intended")


def _predict_outcome(model, label, row, curve, tmp_path_factory):
    """``predict``'s outcome for a curve the applicability check does not refuse, and its messages."""
    cache = tmp_path_factory.getbasetemp() / "gallery_refits"  # one refit per dQ/q and window for the run
    try:
        res = apply_model(model, [(SASDATA / row["file"], curve)], label=label, cache_dir=cache, n_draws=1)[0]
    except InputFileError as exc:
        return f"refused: {reason(str(exc))}", str(exc)
    warnings = res.prediction.warnings
    detail = "; ".join(warnings) or "no warning"
    applicable = res.doc["applicability"]
    if applicable["verdict"] == "flagged":
        return f"flagged: {applicable['reasons'][0]['code']}", detail
    flags = [reason(w) for w in warnings if reason(w) in REASONS]
    if not res.prediction.info["in_domain"] and "out-of-domain" not in flags:
        flags.append("out-of-domain")
    return (f"flagged: {flags[0]}" if flags else "predicted"), detail
