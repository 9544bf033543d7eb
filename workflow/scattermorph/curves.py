"""Read and check measured 1D scattering curves I(q) supplied by users.

A curve is a text file with one point per line: ``q``, ``I(q)`` and an optional
uncertainty ``dI``, separated by whitespace, commas or semicolons. Lines that
start with ``#``, ``%``, ``!`` or ``;`` are comments; text lines before the
first numeric line are headers (the last one may name the columns). Anything
that could silently give a wrong answer is refused with an
:class:`~scattermorph.errors.InputFileError` that names the file, the line,
the column and the value, and says how to fix it.

Decisions (each one documented where it is enforced):

* **q** must be finite, positive and strictly monotonic. A curve stored with
  decreasing q is reversed (with a note); a repeated q or a change of direction
  is an error, because it means two curves were concatenated or the column is
  not q.
* **I(q)** must be finite and non-negative. A *negative* intensity cannot come
  from counting photons or neutrons: it means the background was
  over-subtracted (or the column is not I), so it is an error naming the line
  and suggesting to crop the q range or redo the subtraction. A *zero*
  intensity is a legitimate measurement (an empty detector bin at high q) but
  has no logarithm: such points are dropped with a warning that says how many
  and where (the features use log I, see :mod:`scattermorph.learn`).
* **dI** (optional) must be finite and non-negative; it feeds the propagation
  of the measurement noise into the predictions.
* At least :data:`MIN_POINTS` points must remain.

canSAS 1D XML and NXcanSAS (HDF5) files are recognised and refused with a
message recommending an export to text: the only maintained PyPI reader,
SasView's ``sasdata`` (0.x, a 21 MB wheel pulling in ``h5py`` and ``lxml``),
is too heavy and unstable a dependency for a three-column reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputFileError

__all__ = ["MIN_POINTS", "Q_UNITS", "Curve", "read_curve", "read_table", "check_curve", "normalise_q_unit",
           "length_unit", "density_unit"]

#: fewest points a usable curve may have (after dropping zero intensities);
#: the model grid has 32 points over a factor ~17 in q, so fewer than 10
#: measured points would leave most features interpolated across wide gaps.
MIN_POINTS = 10

#: accepted q units (canonical name -> length unit and its size in metres;
#: ``b`` is the statistical segment length of the simulations, no SI size)
Q_UNITS = {"1/A": ("A", 1e-10), "1/nm": ("nm", 1e-9), "1/um": ("um", 1e-6), "1/m": ("m", 1.0),
           "1/b": ("b", None)}
_ALIASES = {
    "1/a": "1/A", "a^-1": "1/A", "a-1": "1/A", "1/å": "1/A", "å^-1": "1/A", "å-1": "1/A",
    "1/angstrom": "1/A", "angstrom^-1": "1/A", "1/ang": "1/A", "inv_a": "1/A",
    "1/nm": "1/nm", "nm^-1": "1/nm", "nm-1": "1/nm",
    "1/um": "1/um", "um^-1": "1/um", "1/µm": "1/um", "µm^-1": "1/um", "1/micron": "1/um",
    "1/m": "1/m", "m^-1": "1/m",
    "1/b": "1/b", "b^-1": "1/b",
}
_COMMENT = ("#", "%", "!", ";")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def normalise_q_unit(text) -> str:
    """Canonical name of a q unit (``"1/A"``, ``"1/nm"``, ``"1/um"``, ``"1/m"``, ``"1/b"``).

    Accepts the usual spellings (``A^-1``, ``1/Å``, ``nm^-1``, ...), case-insensitively.

    Raises
    ------
    InputFileError
        Unknown unit (the message lists the accepted ones).
    """
    key = re.sub(r"\s+", "", str(text)).lower()
    if key not in _ALIASES:
        raise InputFileError(
            f"unknown q unit {text!r}: use one of {', '.join(Q_UNITS)} (e.g. --q-unit 1/A)"
        )
    return _ALIASES[key]


def length_unit(q_unit) -> str:
    """The length unit L of a q unit 1/L (``"1/A"`` -> ``"A"``)."""
    return Q_UNITS[normalise_q_unit(q_unit)][0]


def density_unit(q_unit, power: int) -> str:
    """Unit label of a density with units length^-power in the curve's units.

    ``power`` 0 gives ``"1"`` (a fraction); 1 gives ``"1/A"``; 2 gives ``"1/A^2"``.
    """
    if power == 0:
        return "1"
    L = length_unit(q_unit)
    return f"1/{L}" if power == 1 else f"1/{L}^{power}"


@dataclass(frozen=True)
class Curve:
    """A checked scattering curve.

    Attributes
    ----------
    q : ndarray, shape (n,)
        Strictly increasing, positive scattering vectors (``q_unit``).
    intensity : ndarray, shape (n,)
        I(q) > 0 (any scale).
    error : ndarray, shape (n,) or None
        Standard uncertainty dI >= 0, or None if the file has none.
    q_unit : str
        Canonical unit of q (see :func:`normalise_q_unit`).
    source : str
        The file (or a description) the curve came from.
    warnings : tuple of str
        What was changed on reading (reversed order, dropped points, ignored columns).
    """

    q: np.ndarray
    intensity: np.ndarray
    error: np.ndarray | None
    q_unit: str
    source: str
    warnings: tuple = field(default=())


def _split(line: str) -> list[str]:
    if "," in line:
        return [t.strip() for t in line.split(",")]
    if ";" in line:
        return [t.strip() for t in line.split(";")]
    return line.split()


def _parse_float(tok: str):
    try:
        return float(tok)
    except ValueError:
        return None


def _read_rows(path: Path):
    """Numeric rows (with their line numbers) and the last header line's tokens."""
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(f"{path}: the file is empty; expected lines of 'q I(q) [dI]'")
    if raw.startswith(_HDF5_MAGIC):
        raise InputFileError(
            f"{path}: this is an HDF5 file (NXcanSAS?), which is not read here; export the curve "
            "as text columns q, I, dI (e.g. SasView: File > Save As .txt) and pass that file"
        )
    if b"\x00" in raw[:4096]:
        raise InputFileError(f"{path}: binary file, not a text table of q, I(q) [, dI]")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    head = text.lstrip()[:2000].lower()
    if head.startswith("<") and ("sasroot" in head or "<?xml" in head or "cansas" in head):
        raise InputFileError(
            f"{path}: this is an XML (canSAS 1D) file, which is not read here; export the curve "
            "as text columns q, I, dI (e.g. SasView: File > Save As .txt) and pass that file"
        )
    rows, lines, header = [], [], None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith(_COMMENT):
            continue
        tokens = _split(s)
        values = [_parse_float(t) for t in tokens]
        if all(v is not None for v in values):
            if rows and len(values) != len(rows[0]):
                raise InputFileError(
                    f"{path}, line {lineno}: {len(values)} values, but line {lines[0]} has "
                    f"{len(rows[0])}; every data line needs the same columns (q, I(q) [, dI])"
                )
            rows.append(values)
            lines.append(lineno)
        elif not rows:
            header = tokens  # text before the data: a title or the column names
        else:
            col = next(i for i, v in enumerate(values) if v is None)
            raise InputFileError(
                f"{path}, line {lineno}, column {col + 1}: {tokens[col]!r} is not a number; "
                "remove the line or comment it out with '#'"
            )
    if not rows:
        raise InputFileError(f"{path}: no numeric data lines found; expected lines of 'q I(q) [dI]'")
    return np.asarray(rows, dtype=float), np.asarray(lines), header


def _pick_columns(path, ncols, header, columns):
    names = ("q", "I(q)", "dI")
    if ncols < 2:
        raise InputFileError(
            f"{path}: data lines have {ncols} column; need at least 2 (q and I(q)), "
            "optionally a third (dI)"
        )
    if columns is None:
        return (0, 1, 2) if ncols >= 3 else (0, 1), []
    cols = list(columns)
    if not 2 <= len(cols) <= 3:
        raise InputFileError(f"columns={columns!r}: give 2 or 3 columns (q, I[, dI])")
    out = []
    for what, c in zip(names, cols):
        if isinstance(c, str):
            if header is None or c not in header:
                raise InputFileError(
                    f"{path}: column {c!r} ({what}) not found; header names are "
                    f"{header if header else 'absent'}: pass column numbers instead"
                )
            c = header.index(c)
        c = int(c)
        if not 0 <= c < ncols:
            raise InputFileError(f"{path}: column {c + 1} ({what}) does not exist; the file has {ncols}")
        out.append(c)
    if len(set(out)) != len(out):
        raise InputFileError(f"columns={columns!r}: q, I and dI must be different columns")
    return tuple(out), []


def read_curve(path, *, q_unit="1/A", columns=None) -> Curve:
    """Read a 1D scattering curve from a text file.

    Parameters
    ----------
    path : path
        Whitespace-, comma- or semicolon-separated text with columns q, I(q)
        and optionally dI (more columns, e.g. a q resolution dq, are ignored
        with a note). Comment lines start with ``#``, ``%``, ``!`` or ``;``;
        text lines before the data are headers.
    q_unit : str
        Unit of q in the file (``1/A``, ``1/nm``, ``1/um``, ``1/m`` or ``1/b``;
        see :func:`normalise_q_unit`). It labels the densities predicted from
        the curve (length^-p in this unit).
    columns : sequence of int or str, optional
        0-based column numbers (or header names) of q, I and optionally dI.
        Default: columns 0, 1 and 2 if present.

    Returns
    -------
    Curve

    Raises
    ------
    InputFileError
        Missing, empty, binary, XML/HDF5 or malformed file; non-numeric
        values; unequal column counts; NaN/inf; q <= 0, repeated or
        non-monotonic q; negative I or dI; fewer than :data:`MIN_POINTS`
        points. The message names the file, the line and the fix.
    """
    path = Path(path)
    unit = normalise_q_unit(q_unit)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    data, lines, header = _read_rows(path)
    cols, notes = _pick_columns(path, data.shape[1], header, columns)
    if columns is None and data.shape[1] > 3:
        notes.append(f"{path}: {data.shape[1]} columns; used 1-3 as q, I, dI and ignored the rest")
    names = ("q", "I(q)", "dI")
    for what, c in zip(names, cols):
        bad = ~np.isfinite(data[:, c])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                f"{path}, line {lines[i]}, column {c + 1} ({what}): value {float(data[i, c])!r} is not "
                f"finite ({int(bad.sum())} such value(s)); remove or fix these points"
            )
    q, inten = data[:, cols[0]], data[:, cols[1]]
    err = data[:, cols[2]] if len(cols) == 3 else None
    return check_curve(q, inten, err, q_unit=unit, source=str(path), lines=lines, notes=notes)


def check_curve(q, intensity, error=None, *, q_unit="1/A", source="curve", lines=None,
                notes=()) -> Curve:
    """Check arrays q, I(q) [, dI] and return a :class:`Curve` (see :func:`read_curve`).

    Parameters
    ----------
    q, intensity : array_like, shape (n,)
    error : array_like, shape (n,), optional
    q_unit : str
    source : str
        Named in error messages.
    lines : array_like of int, optional
        Line number of each point in the source file (for messages).
    notes : sequence of str
        Warnings collected so far.
    """
    q = np.asarray(q, dtype=float).ravel()
    inten = np.asarray(intensity, dtype=float).ravel()
    err = None if error is None else np.asarray(error, dtype=float).ravel()
    unit = normalise_q_unit(q_unit)
    notes = list(notes)
    n = q.size
    if inten.size != n or (err is not None and err.size != n):
        raise InputFileError(f"{source}: q, I and dI must have the same length, got "
                             f"{n}, {inten.size}, {None if err is None else err.size}")
    if lines is None:
        lines = np.arange(1, n + 1)
        where = "point"
    else:
        lines = np.asarray(lines)
        where = "line"

    def at(i):
        return f"{source}, {where} {lines[i]}"

    for what, arr in (("q", q), ("I(q)", inten), ("dI", err)):
        if arr is not None and not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise InputFileError(f"{at(i)}: {what} = {float(arr[i])!r} is not finite; remove or fix the point")
    if n < MIN_POINTS:
        raise InputFileError(f"{source}: only {n} data points; at least {MIN_POINTS} are needed")
    if np.any(q <= 0):
        i = int(np.flatnonzero(q <= 0)[0])
        raise InputFileError(
            f"{at(i)}: q = {float(q[i])!r} is not positive; the features use log q: drop q <= 0 points "
            "(e.g. the beam-stop region)"
        )
    dq = np.diff(q)
    if np.any(dq == 0):
        i = int(np.flatnonzero(dq == 0)[0])
        raise InputFileError(
            f"{at(i + 1)}: q = {float(q[i + 1])!r} repeats the previous point ({where} {lines[i]}); "
            "a curve needs distinct q values: merge or remove the duplicates"
        )
    if n > 1 and np.all(dq < 0):
        notes.append(f"{source}: q decreases; the points were put in increasing order")
        order = slice(None, None, -1)
        q, inten, lines = q[order], inten[order], lines[order]
        err = None if err is None else err[order]
        dq = np.diff(q)
    if np.any(dq < 0):
        i = int(np.flatnonzero(dq < 0)[0])
        raise InputFileError(
            f"{at(i + 1)}: q = {float(q[i + 1])!r} is smaller than the previous q = {float(q[i])!r}; q must be "
            "monotonic (are two curves concatenated? split them, or sort by q)"
        )
    if np.any(inten < 0):
        bad = np.flatnonzero(inten < 0)
        i = int(bad[0])
        raise InputFileError(
            f"{at(i)}: I(q) = {float(inten[i])!r} is negative ({bad.size} negative point(s)); a count "
            "rate cannot be negative: the background was over-subtracted or the column is not "
            "I(q); fix the subtraction or crop the q range to where I > 0"
        )
    if err is not None and np.any(err < 0):
        i = int(np.flatnonzero(err < 0)[0])
        raise InputFileError(f"{at(i)}: dI = {float(err[i])!r} is negative; uncertainties must be >= 0")
    zero = inten == 0
    if zero.any():
        notes.append(
            f"{source}: dropped {int(zero.sum())} point(s) with I(q) = 0 (q from {q[zero][0]:.4g} "
            f"to {q[zero][-1]:.4g} {unit}): log I is undefined there"
        )
        keep = ~zero
        q, inten, lines = q[keep], inten[keep], lines[keep]
        err = None if err is None else err[keep]
        if q.size < MIN_POINTS:
            raise InputFileError(
                f"{source}: only {q.size} points with I(q) > 0; at least {MIN_POINTS} are needed"
            )
    return Curve(q=q, intensity=inten, error=err, q_unit=unit, source=source, warnings=tuple(notes))


def read_table(path, ndim, *, q_unit="1/b"):
    """Read a user's training table: one row per sample, a curve plus its densities.

    Format: CSV (``#`` lines are comments) with a header row. Columns named
    ``q=<value>`` hold I(q) at that q (the common q grid, in ``q_unit``; an
    empty cell is a missing point); columns named like the densities of
    ``scattermorph.measure.FUNCTIONALS[ndim]`` (2D: ``area_density``,
    ``perimeter_density``, ``euler_density``; 3D: ``volume_density``,
    ``surface_density``, ``mean_curvature_density``, ``euler_density``) are
    the targets, in the length unit of q (q in 1/L, densities in L^-p); an
    optional ``sample`` column names the rows and an optional ``group`` column
    groups rows that come from one sample or simulation (the training domain
    is then cross-validated by group). Any other column is an error (a typo
    must not silently drop a target).

    Returns
    -------
    q : ndarray, shape (B,)
        Increasing q grid.
    s_q : ndarray, shape (rows, B)
    targets : pandas.DataFrame
        The density columns present.
    groups : ndarray or None
    """
    import pandas as pd

    from .measure import FUNCTIONALS

    path = Path(path)
    normalise_q_unit(q_unit)
    if ndim not in (2, 3):
        raise InputFileError(f"--dimension must be 2 or 3, got {ndim!r}")
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, comment="#", skipinitialspace=True)
    except Exception as exc:  # empty file, bad quoting, binary
        raise InputFileError(f"{path}: cannot be read as a CSV table ({exc})") from None
    qcols, qvals, tcols, other = [], [], [], []
    for c in df.columns:
        name = str(c).strip()
        if name.lower().startswith("q="):
            try:
                v = float(name[2:])
            except ValueError:
                raise InputFileError(f"{path}: column {name!r}: the q value {name[2:]!r} is not a number") from None
            if not (np.isfinite(v) and v > 0):
                raise InputFileError(f"{path}: column {name!r}: q must be positive and finite")
            qcols.append(c)
            qvals.append(v)
        elif name in FUNCTIONALS[ndim]:
            tcols.append(c)
        elif name not in ("sample", "group"):
            other.append(name)
    if other:
        raise InputFileError(
            f"{path}: unknown column(s) {other}; allowed: 'q=<value>' intensity columns, the {ndim}D "
            f"densities {FUNCTIONALS[ndim]}, 'sample' and 'group' (remove the others)"
        )
    if len(qcols) < MIN_POINTS:
        raise InputFileError(f"{path}: {len(qcols)} 'q=<value>' columns; at least {MIN_POINTS} are needed")
    if not tcols:
        raise InputFileError(f"{path}: no density column; name at least one of {FUNCTIONALS[ndim]}")
    if len(df) < 5:
        raise InputFileError(f"{path}: {len(df)} rows; at least 5 training samples are needed")
    qvals = np.asarray(qvals)
    if np.unique(qvals).size != qvals.size:
        raise InputFileError(f"{path}: repeated q columns; every 'q=<value>' must be distinct")
    order = np.argsort(qvals)
    try:
        s_q = df[qcols].to_numpy(dtype=float)[:, order]
        targets = df[tcols].astype(float)
    except (ValueError, TypeError) as exc:
        raise InputFileError(f"{path}: non-numeric value in an intensity or density column ({exc})") from None
    for what, arr in (("intensity", s_q), ("density", targets.to_numpy())):
        bad = np.isinf(arr) | ((arr < 0) & (what == "intensity"))
        if what == "density":
            bad |= np.isnan(arr)
        if bad.any():
            r, c = (int(v) for v in np.argwhere(bad)[0])
            col = qcols[order[c]] if what == "intensity" else tcols[c]
            raise InputFileError(
                f"{path}, data row {r + 1}, column {col!r}: {what} value {float(arr[r, c])!r} is not allowed "
                "(intensities must be finite and >= 0, empty = missing; densities finite, no gaps)"
            )
    s_q[s_q == 0] = np.nan  # log I undefined: treated as a missing point
    if np.any(np.isfinite(s_q).sum(axis=1) < MIN_POINTS):
        r = int(np.flatnonzero(np.isfinite(s_q).sum(axis=1) < MIN_POINTS)[0])
        raise InputFileError(f"{path}, data row {r + 1}: fewer than {MIN_POINTS} positive intensities")
    groups = df["group"].astype(str).to_numpy() if "group" in df.columns else None
    if groups is not None and np.unique(groups).size < 2:
        raise InputFileError(
            f"{path}: column 'group' names a single group ({groups[0]!r}) for all {len(groups)} rows; "
            "grouped validation holds whole groups out, so it needs at least 2: label each row with its "
            "simulation or sample, or delete the 'group' column (the rows are then split at random)"
        )
    return qvals[order], s_q, targets.reset_index(drop=True), groups
