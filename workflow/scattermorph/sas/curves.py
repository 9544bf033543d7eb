"""Read and check measured 1D scattering curves I(q) supplied by users.

Formats (recognised by content, not by the file name):

* **NXcanSAS** (HDF5, read with h5py): every SASdata group (``canSAS_class`` or
  ``NX_class`` ``SASdata``, or an ``NXdata`` inside an ``NXentry``/SASentry)
  gives a curve: the ``@signal`` dataset (default ``I``), the Q named by
  ``@I_axes``, the uncertainty named by ``I@uncertainties`` (or
  ``@I_uncertainties``, or ``Idev``) and the resolution named by
  ``Q@resolutions`` (or ``Qdev``), each with its ``@units`` (``@unit`` in older
  files). A SASdata whose I has a leading frame axis gives one curve per frame.
  NXcanSAS: https://manual.nexusformat.org/classes/applications/NXcanSAS.html
* **canSAS 1D XML** (v1.0/v1.1, parsed with ``defusedxml``: a file that
  declares entities or a DTD is refused, never expanded): every
  ``SASentry/SASdata`` with its ``Idata`` points ``Q``, ``I``, ``Idev``,
  ``Qdev`` and their ``unit`` attributes.
  canSAS 1D: https://www.cansas.org/formats/canSAS1d/1.1/doc/
* **Text**: one point per line: ``q``, ``I(q)`` and an optional uncertainty
  ``dI``, separated by whitespace, commas or semicolons. Lines that start with
  ``#``, ``%``, ``!`` or ``;`` are comments; text lines before the first
  numeric line are headers (the last one may name the columns). A fourth
  column whose header names a resolution (SasView's ``<dX>`` and ``<dsigQ>``,
  ``dQ``, ``sigmaQ``, ``Qdev``, ...; a name with ``FWHM`` is converted to a
  standard deviation) is read as dQ; other extra columns are ignored with a
  note. NIST reduced files (``.ABS``: a header ending in ``The 6 columns are |
  Q (1/A) | I(Q) (1/cm) | std. dev. I(Q) (1/cm) | sigmaQ | meanQ |
  ShadowFactor|``) are read with q in the unit that header states and sigmaQ
  as dQ.
* **ISIS RKH/COLETTE 1D** (LOQ, SANS2D; Mantid's SaveRKH): five header lines
  (title with instrument and date, run line, point counts, zeros, the Fortran
  format ``3 (F12.5,2E16.6)``) and then q, I, dI [, dQ]; q in 1/A unless
  ``q_unit`` says otherwise (the format does not state it).

A file with several curves (entries, SASdata groups or frames) needs ``entry``
(a name, a 1-based number or ``"all"``; :func:`read_curves`). Q in a file that
states its unit is converted to ``q_unit`` when that is given, else kept in the
file's unit; a file whose Q carries no unit is refused unless ``q_unit`` is
given. dQ (Qdev, the instrument's resolution, a standard deviation in q) is
kept on the :class:`Curve` in the same unit as q.

Anything that could silently give a wrong answer is refused with an
:class:`~scattermorph.errors.InputFileError` that names the file, the line
(or entry and point), the column and the value, and says how to fix it:
truncated or damaged HDF5, XML with entity declarations ("billion laughs"),
missing or mixed units, arrays of unequal length, no SASdata.

Decisions (each one documented where it is enforced):

* **q** must be finite and positive. A curve stored with decreasing q is
  reversed, one out of order (several banks written one after the other) is
  sorted, each with a note. Repeated q values (merged detector banks) are
  merged into one point (inverse-variance mean of I, see :func:`_merge_group`)
  with a note, and refused when the repeats disagree beyond their errors.
* **I(q)** must be finite. A *negative* intensity within 3 dI of zero is noise
  around a background-subtracted intensity near zero: kept, with a note
  (:func:`positive_for_logs` averages such points with their neighbours before
  anything takes log I). One more than 3 dI below zero, or negative without
  dI, cannot come from counting photons or neutrons: the background was
  over-subtracted (or the column is not I), so it is an error naming the
  points. A *zero* intensity without dI (an empty detector bin) has no
  logarithm and no weight: such points are dropped with a warning that says
  how many and where.
* **dI** (optional) must be finite and non-negative; it feeds the propagation
  of the measurement noise into the predictions.
* **dQ** (optional) must be finite and non-negative (zero means "no
  resolution stated"); ``scattermorph predict`` refits its model for the
  curve's dQ/q (:func:`scattermorph.predict.smearing.resolution_model`).
* At least :data:`MIN_POINTS` points must remain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from scattermorph.errors import InputFileError
from scattermorph.functionals import FUNCTIONALS

__all__ = ["MIN_POINTS", "Q_UNITS", "Curve", "read_curve", "read_curves", "read_table", "check_curve", "normalise_q_unit",
           "length_unit", "density_unit", "positive_for_logs"]

#: fewest points a usable curve may have (after dropping zero intensities);
#: the model grid has 32 points over a factor ~17 in q, so fewer than 10
#: measured points would leave most features interpolated across wide gaps.
MIN_POINTS = 10

#: accepted q units (canonical name -> length unit and its size in metres;
#: ``b`` is the statistical segment length of the simulations, no SI size)
Q_UNITS = {"1/A": ("A", 1e-10), "1/nm": ("nm", 1e-9), "1/um": ("um", 1e-6), "1/m": ("m", 1.0),
           "1/b": ("b", None)}
_ALIASES = {
    "1/a": "1/A", "a^-1": "1/A", "1/angstroms": "1/A", "a^{-1}": "1/A", "a-1": "1/A", "1/å": "1/A", "å^-1": "1/A", "å-1": "1/A",
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
        I(q) (any scale): positive, or within 3 dI of zero (see :func:`positive_for_logs`).
    error : ndarray, shape (n,) or None
        Standard uncertainty dI >= 0, or None if the file has none.
    q_unit : str
        Canonical unit of q (see :func:`normalise_q_unit`).
    source : str
        The file (or a description) the curve came from.
    warnings : tuple of str
        What was changed on reading (reversed order, dropped points, ignored columns).
    dq : ndarray, shape (n,) or None
        The q resolution (Qdev, sigmaQ: one standard deviation, in ``q_unit``)
        when the file states it, else None.
    intensity_unit : str or None
        Unit of I stated by the file (canSAS/NXcanSAS/NIST), else None.
    entry : str or None
        Which curve of a file holding several (SASentry/SASdata path, frame).
    format : str
        ``"text"``, ``"nist"``, ``"rkh"``, ``"cansas_xml"``, ``"nxcansas"`` or ``"arrays"``.
    """

    q: np.ndarray
    intensity: np.ndarray
    error: np.ndarray | None
    q_unit: str
    source: str
    warnings: tuple = field(default=())
    dq: np.ndarray | None = None
    intensity_unit: str | None = None
    entry: str | None = None
    format: str = "arrays"


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


_NIST_MARK = "the 6 columns are"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_rows(path: Path, raw: bytes):
    """Numeric rows (with their line numbers), the last header line's tokens and
    the NIST column line (or None)."""
    if b"\x00" in raw[:4096]:
        raise InputFileError(f"{path}: binary file, not a text table of q, I(q) [, dI] (nor HDF5 or XML)")
    all_lines = _decode(raw).splitlines()
    # NIST reduced (.ABS) files: a header of parameter lines, some of them all
    # numbers, ends with 'The 6 columns are | Q (1/A) | ...': data start after it
    start, nist = 0, None
    for k, line in enumerate(all_lines[:200]):
        if line.strip().lower().startswith(_NIST_MARK):
            start, nist = k + 1, line.strip()
            break
    rows, lines, header = [], [], None
    for lineno, line in enumerate(all_lines[start:], start=start + 1):
        s = line.strip()
        if not s or s.startswith(_COMMENT):
            continue
        tokens = _split(s)
        values = [_parse_float(t) for t in tokens]
        if all(v is not None for v in values):
            if rows and len(values) != len(rows[0]):
                rkh = any(_RKH_FORMAT.match(x) for x in all_lines[:8])
                raise InputFileError(
                    f"{path}, line {lineno}: {len(values)} values, but line {lines[0]} has "
                    f"{len(rows[0])}; every data line needs the same columns (q, I(q) [, dI])"
                    + ("; this looks like an ISIS RKH/COLETTE file whose title line names no LOQ/SANS2D run "
                       "and date: export it as canSAS XML or NXcanSAS from Mantid or SasView, or delete the "
                       "5 header lines" if rkh else "")
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
    return np.asarray(rows, dtype=float), np.asarray(lines), header, nist


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


def _is_xml(raw: bytes) -> bool:
    head = _decode(raw[:4000]).lstrip().lower()
    return head.startswith("<") and ("sasroot" in head or "<?xml" in head or "cansas" in head)


def read_curves(path, *, q_unit=None, columns=None, entry="all") -> list[Curve]:
    """Read every curve of a file (or the one ``entry`` names); see :func:`read_curve`.

    Parameters
    ----------
    entry : str or int, optional
        ``"all"`` (default): every curve in the file, in file order; a name
        (the SASentry name, ``entry/SASdata`` path or either with ``[frame]``,
        as :attr:`Curve.entry` spells it, or a unique prefix ending at a ``/``
        or ``[``) or a 1-based number picks one.

    Returns
    -------
    list of Curve
    """
    path = Path(path)
    if q_unit is not None:
        q_unit = normalise_q_unit(q_unit)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(f"{path}: the file is empty; expected lines of 'q I(q) [dI]'")
    if raw.startswith(_HDF5_MAGIC):
        found = _read_nxcansas(path)
    elif _is_xml(raw):
        found = _read_cansas_xml(path)
    else:
        return [_read_text(path, raw, q_unit, columns)]
    if columns is not None:
        raise InputFileError(f"{path}: --columns applies to text files only; this file names its arrays")
    chosen = _choose(path, found, entry)
    return [_structured_curve(path, rec, q_unit, several=len(found) > 1) for rec in chosen]


def read_curve(path, *, q_unit=None, columns=None, entry=None) -> Curve:
    """Read one 1D scattering curve from a text, canSAS 1D XML or NXcanSAS file.

    Parameters
    ----------
    path : path
        NXcanSAS (HDF5), canSAS 1D XML, a NIST reduced 6-column file, or
        whitespace-, comma- or semicolon-separated text with columns q, I(q)
        and optionally dI (a 4th column named as a resolution is dQ; other
        extra columns are ignored with a note). Comment lines start with
        ``#``, ``%``, ``!`` or ``;``; text lines before the data are headers.
        See the module docstring.
    q_unit : str, optional
        Text files: the unit of q in the file (``1/A`` when not given;
        ``1/nm``, ``1/um``, ``1/m`` or ``1/b``; see :func:`normalise_q_unit`).
        Files that state their unit (NXcanSAS, canSAS XML, NIST): the unit
        the curve is converted to (default: the file's). It labels the
        densities predicted from the curve (length^-p in this unit).
    columns : sequence of int or str, optional
        Text files: 0-based column numbers (or header names) of q, I and
        optionally dI. Default: columns 0, 1 and 2 if present.
    entry : str or int, optional
        Which curve of a file holding several (see :func:`read_curves`);
        needed then, and the message lists the choices.

    Returns
    -------
    Curve

    Raises
    ------
    InputFileError
        Missing, empty, binary or malformed file (truncated HDF5, XML with
        entity declarations, no SASdata, missing or mixed units, arrays of
        unequal length); non-numeric values; unequal column counts; NaN/inf;
        q <= 0, repeated q that disagree; I below -3 dI (or negative without
        dI), negative dI or dQ; fewer than :data:`MIN_POINTS` points; several curves and no ``entry``. The
        message names the file, the line (or entry and point) and the fix.
    """
    if isinstance(entry, str) and entry.lower() == "all":
        raise InputFileError(f"{path}: entry='all' gives several curves: use read_curves")
    path = Path(path)
    if entry is None and path.is_file():
        curves = read_curves(path, q_unit=q_unit, columns=columns, entry="all")
        if len(curves) > 1:
            names = ", ".join(repr(c.entry) for c in curves[:12])
            raise InputFileError(
                f"{path}: holds {len(curves)} curves ({names}{', ...' if len(curves) > 12 else ''}); "
                "choose one with --entry NAME or --entry NUMBER (1-based), or all of them with --entry all"
            )
        return curves[0]
    return read_curves(path, q_unit=q_unit, columns=columns, entry="all" if entry is None else entry)[0]


#: header names of a q-resolution column (compared without spaces, case-insensitively, after any
#: unit in brackets): SasView's text export writes ``<dX>`` (its Data1D.dx) and its example data
#: ``<dsigQ>``; NIST ``sigmaQ``; canSAS ``Qdev``; others ``dQ``, ``sigma_q``, ``Q_sigma``, ``dq_res``.
_DQ_NAME = re.compile(r"^<?(d_?q|d_?x|d_?sig_?q|sig_?q|sigma_?q|q_?sigma|q_?dev|dqx?|d_?q_?res\w*|q_?res\w*|"
                      r"resolution|fwhm_?q|q_?fwhm|d_?q_?fwhm)>?$", re.IGNORECASE)
_UNIT_SUFFIX = re.compile(r"[\(\[].*[\)\]]$")
#: FWHM = 2 sqrt(2 ln 2) sigma for a Gaussian
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _resolution_column(name: str):
    """How a 4th-column header names the q resolution: ``"sigma"``, ``"fwhm"`` or None (not a resolution)."""
    key = _UNIT_SUFFIX.sub("", re.sub(r"\s+", "", name))
    if not _DQ_NAME.match(key):
        return None
    return "fwhm" if "fwhm" in key.lower() else "sigma"


_MONTHS = ("-JAN-", "-FEB-", "-MAR-", "-APR-", "-MAY-", "-JUN-", "-JUL-", "-AUG-", "-SEP-", "-OCT-", "-NOV-", "-DEC-")
_RKH_FORMAT = re.compile(r"^\s*([34])\s*\(\s*F12\.5\s*,\s*([23])E16\.6\s*\)")


def _is_rkh(head: list[str]) -> bool:
    """The ISIS "RKH"/COLETTE 1D layout, recognised as Mantid's LoadRKH does: an instrument (LOQ or
    SANS2D) and a date (``-MON-``) on line 1, a Fortran format line ``3 (F12.5,2E16.6)`` on line 5."""
    if len(head) < 5:
        return False
    first = head[0].upper()
    return (("LOQ" in first or "SANS2D" in first) and any(m in first for m in _MONTHS)
            and _RKH_FORMAT.match(head[4]) is not None)


def _read_rkh(path, text_lines, q_unit) -> Curve:
    """An ISIS RKH/COLETTE 1D file (LOQ, SANS2D; Mantid's SaveRKH and the old COLETTE software).

    Layout (as Mantid's ``LoadRKH`` reads it, https://github.com/mantidproject/mantid,
    Framework/DataHandling/src/LoadRKH.cpp): line 1 a title (instrument, date, run numbers); line 2
    free text; line 3 seven integers, the first the number of points and the 5th and 6th the first
    and last data line to use; line 4 ignored; line 5 the Fortran format ``3 (F12.5,2E16.6)`` (or
    ``4 (...)`` with a 4th column, the x resolution as a standard deviation); then one point per
    line: x, y, dy [, dx]. The file does not state the unit of x: Mantid writes Q in 1/A
    (MomentumTransfer), so 1/A is taken unless ``q_unit`` says otherwise (with a note).
    """
    where = f"{path} (ISIS RKH/COLETTE 1D file)"
    counts = _split(text_lines[2].strip())
    ncols = int(_RKH_FORMAT.match(text_lines[4]).group(1))
    try:
        total, start, end = int(counts[0]), int(counts[4]), int(counts[5])
    except (IndexError, ValueError):
        raise InputFileError(f"{where}, line 3: {text_lines[2].strip()!r} should hold 7 integers (number of "
                             "points, ..., first and last point); export the curve again from Mantid "
                             "(SaveCanSAS1D or SaveNXcanSAS) or SasView") from None
    if not 1 <= start <= end <= total or 5 + total > len(text_lines):
        raise InputFileError(f"{where}, line 3: declares {total} points (use {start}-{end}) but the file has "
                             f"{len(text_lines) - 5} data lines; the file is truncated or damaged: export it "
                             "again from Mantid (SaveCanSAS1D or SaveNXcanSAS) or SasView")
    rows, lines = [], []
    for k in range(5 + start - 1, 5 + end):
        values = [_parse_float(t) for t in _split(text_lines[k].strip())]
        if len(values) < ncols or any(v is None for v in values[:ncols]):
            raise InputFileError(f"{where}, line {k + 1}: {text_lines[k].strip()!r} is not {ncols} numbers "
                                 f"(the format line declares {ncols} columns); fix or re-export the file")
        rows.append(values[:ncols])
        lines.append(k + 1)
    data = np.asarray(rows, dtype=float)
    notes = [f"{where}: read points {start}-{end} of {total} as q, I, dI" + (", dQ" if ncols == 4 else "")
             + ("; the format does not state the unit of q: taken as 1/A (Mantid's unit for Q; pass --q-unit "
                "if the file is in another)" if q_unit is None else f"; q taken as {q_unit} (--q-unit)")]
    curve = check_curve(data[:, 0], data[:, 1], data[:, 2], q_unit=q_unit or "1/A", source=str(path),
                        lines=np.asarray(lines), notes=notes, dq=data[:, 3] if ncols == 4 else None)
    return replace(curve, format="rkh")


def _read_text(path, raw, q_unit, columns) -> Curve:
    if b"\x00" not in raw[:4096]:
        text_lines = _decode(raw).splitlines()
        if _is_rkh(text_lines[:5]):
            if columns is not None:
                raise InputFileError(f"{path}: an ISIS RKH/COLETTE file has fixed columns (q, I, dI); "
                                     "leave out --columns")
            return _read_rkh(path, text_lines, q_unit)
    data, lines, header, nist = _read_rows(path, raw)
    notes = []
    fmt, i_unit, dq_col = "text", None, None
    unit = q_unit or "1/A"
    if nist is not None:
        # 'The 6 columns are | Q (1/A) | I(Q) (1/cm) | std. dev. I(Q) (1/cm) | sigmaQ | meanQ | ShadowFactor|'
        fmt = "nist"
        m = re.search(r"\|\s*Q\s*\(([^)]*)\)", nist)
        mi = re.search(r"\|\s*I\(Q\)\s*\(([^)]*)\)", nist)
        if m is None:
            if q_unit is None:
                raise InputFileError(f"{path}: the NIST column line states no unit of Q ({nist!r}); "
                                     "pass the unit with --q-unit")
            file_unit = q_unit
        else:
            file_unit = _unit_of(path, "Q", m.group(1))
        i_unit = mi.group(1).strip() if mi else None
        if data.shape[1] != 6:
            raise InputFileError(f"{path}: a NIST reduced file needs 6 columns (Q, I, dI, sigmaQ, meanQ, "
                                 f"ShadowFactor), the data have {data.shape[1]}")
        if columns is None:
            columns, dq_col = (0, 1, 2), 3
            notes.append(f"{path}: NIST reduced file: used Q, I(Q), std. dev. I(Q) and sigmaQ as dQ; "
                         "ignored meanQ and ShadowFactor")
    cols, more = _pick_columns(path, data.shape[1], header, columns)
    notes += more
    dq_kind = None
    if nist is None and columns is None and data.shape[1] > 3:
        if header is not None and len(header) == data.shape[1]:
            dq_kind = _resolution_column(header[3])
        if dq_kind is not None:
            dq_col = 3
            notes.append(f"{path}: column 4 ({header[3]!r}) read as the q resolution dQ (one standard deviation, "
                         "in the unit of q" + (", converted from FWHM: / 2.355)" if dq_kind == "fwhm" else ")"))
        extra = f"{'1-4 as q, I, dI, dQ' if dq_col is not None else '1-3 as q, I, dI'}"
        if data.shape[1] > (4 if dq_col is not None else 3):
            notes.append(f"{path}: {data.shape[1]} columns; used {extra} and ignored the rest")
    names = ("q", "I(q)", "dI", "dQ")
    allcols = tuple(cols) + ((dq_col,) if dq_col is not None else ())
    for what, c in zip(names if len(cols) == 3 else names[:2] + names[3:], allcols):
        bad = ~np.isfinite(data[:, c])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                f"{path}, line {lines[i]}, column {c + 1} ({what}): value {float(data[i, c])!r} is not "
                f"finite ({int(bad.sum())} such value(s)); remove or fix these points"
            )
    q, inten = data[:, cols[0]], data[:, cols[1]]
    err = data[:, cols[2]] if len(cols) == 3 else None
    dq = data[:, dq_col] if dq_col is not None else None
    if dq is not None and dq_kind == "fwhm":
        dq = dq / _FWHM_PER_SIGMA
    if nist is not None:
        q, dq, unit, more = _convert_q(path, "Q", q, file_unit, q_unit, dq)
        notes += more
    curve = check_curve(q, inten, err, q_unit=unit, source=str(path), lines=lines, notes=notes, dq=dq)
    return replace(curve, format=fmt, intensity_unit=i_unit)


def _unit_of(where, what, text):
    try:
        return normalise_q_unit(text)
    except InputFileError:
        raise InputFileError(
            f"{where}: {what} has unit {text!r}, not a q unit read here ({', '.join(Q_UNITS)}); "
            "re-export with q in one of them"
        ) from None


def _convert_q(where, what, q, file_unit, q_unit, dq=None):
    """q (and dq) from the file's unit to q_unit (None: keep the file's)."""
    if q_unit is None or q_unit == file_unit:
        return q, dq, file_unit, []
    a, b = Q_UNITS[file_unit][1], Q_UNITS[q_unit][1]
    if a is None or b is None:
        raise InputFileError(
            f"{where}: {what} is in {file_unit} and cannot be converted to {q_unit} (1/b has no size in "
            f"metres); leave out --q-unit to keep {file_unit}"
        )
    f = b / a  # q [1/L_t] = q [1/L_f] * (L_t / L_f)
    note = f"{where}: {what} converted from {file_unit} to {q_unit} (x {f:g})"
    return q * f, None if dq is None else dq * f, q_unit, [note]


def _choose(path, found, entry):
    if not found:
        raise InputFileError(f"{path}: no curve found (see the message above)")  # readers raise first
    if entry is None or (isinstance(entry, str) and entry.lower() == "all"):
        return found
    labels = [r["label"] for r in found]
    text = str(entry).strip()
    if text in labels:
        return [found[labels.index(text)]]
    pref = [r for r in found if r["label"].startswith(text + "/") or r["label"].startswith(text + "[")]
    if len(pref) == 1:
        return pref
    if text.isdigit() and 1 <= int(text) <= len(found):
        return [found[int(text) - 1]]
    raise InputFileError(
        f"{path}: no curve {text!r}{' (several match it)' if len(pref) > 1 else ''}; the file holds "
        f"{', '.join(repr(x) for x in labels[:12])}: pass one of these names, a number 1-{len(found)}, or all"
    )


def _structured_curve(path, rec, q_unit, *, several) -> Curve:
    """Build a Curve from a reader's record: label, arrays Q, I, Idev, Qdev and their units."""
    label = rec["label"]
    where = f"{path} [{label}]" if several else str(path)
    fix = ("the SASdata arrays Q, I (and Idev, Qdev) must have one value per point: the file is damaged "
           "or was written wrongly; re-export it from the reduction software")
    arrays = {k: v for k, v in rec["arrays"].items() if v is not None}
    n = {k: int(np.size(v)) for k, v in arrays.items()}
    if len(set(n.values())) > 1:
        raise InputFileError(f"{where}: arrays of unequal length ({', '.join(f'{k} {v}' for k, v in n.items())}); {fix}")
    units = rec["units"]
    notes = list(rec.get("notes", []))
    qu = units.get("Q")
    if qu is None:
        if q_unit is None:
            raise InputFileError(
                f"{where}: Q has no unit ({rec['unit_attr']} attribute missing); a q in the wrong unit "
                "gives densities wrong by powers of 10: add the attribute (e.g. 1/A) or state the unit "
                "with --q-unit"
            )
        file_unit = q_unit
        notes.append(f"{where}: Q states no unit; taken as {q_unit} (--q-unit)")
    else:
        file_unit = _unit_of(where, "Q", qu)
    dq = arrays.get("Qdev")
    if dq is not None:
        du = units.get("Qdev")
        if du is None and qu is not None:
            raise InputFileError(f"{where}: Qdev (the q resolution) has no unit ({rec['unit_attr']} "
                                 "attribute missing); add it (e.g. the unit of Q)")
        du = file_unit if du is None else _unit_of(where, "Qdev", du)
        if du != file_unit:
            dq = _convert_q(where, "Qdev", dq, du, file_unit)[0]
    iu, eu = units.get("I"), units.get("Idev")
    if "Idev" in arrays and iu is not None and eu is not None and \
            re.sub(r"\s+", "", iu).lower() != re.sub(r"\s+", "", eu).lower():
        raise InputFileError(f"{where}: I is in {iu!r} but Idev in {eu!r}; the uncertainty must have the "
                             "unit of I: re-export the file")
    q, dq, unit, more = _convert_q(where, "Q", np.asarray(arrays["Q"], float), file_unit, q_unit, dq)
    notes += more
    curve = check_curve(q, arrays["I"], arrays.get("Idev"), q_unit=unit, source=where, notes=notes, dq=dq)
    return replace(curve, format=rec["format"], intensity_unit=iu, entry=label)


# ---- NXcanSAS ---------------------------------------------------------------
def _attr(obj, name):
    v = obj.attrs.get(name)
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        v = v.ravel()[0] if v.size == 1 else ",".join(str(x.decode() if isinstance(x, bytes) else x) for x in v.ravel())
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v)


def _read_nxcansas(path) -> list[dict]:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise InputFileError(f"{path}: NXcanSAS (HDF5) needs h5py: pip install h5py") from None
    try:
        with h5py.File(path, "r") as f:
            return _nxcansas_records(path, f)
    except InputFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise InputFileError(
            f"{path}: cannot be read as HDF5/NXcanSAS (truncated or damaged file? {exc}); copy or "
            "export it again from the reduction software"
        ) from None


def _is_class(obj, *names):
    return _attr(obj, "canSAS_class") in names or _attr(obj, "NX_class") in names


def _nxcansas_records(path, f) -> list[dict]:
    import h5py

    groups = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and (
            _is_class(obj, "SASdata")
            or (_attr(obj, "NX_class") == "NXdata" and _attr(obj, "canSAS_class") is None
                and _is_class(obj.parent, "SASentry", "NXentry") and (_attr(obj, "signal") or "I") in obj)
        ):
            groups.append(name)

    f.visititems(visit)
    if not groups:
        raise InputFileError(
            f"{path}: HDF5 file without an NXcanSAS SASdata group (canSAS_class or NX_class 'SASdata' "
            "holding I and Q); is it NXcanSAS? export the reduced 1D curve as NXcanSAS, canSAS XML or text"
        )
    records, skipped = [], []
    for name in groups:
        g = f[name]
        sig = _attr(g, "signal") or "I"
        axes = [a.strip() for a in (_attr(g, "I_axes") or "Q").replace(",", " ").split()]
        qname = axes[-1] if axes else "Q"
        if sig not in g or qname not in g:
            skipped.append(f"{name} (no {sig} or {qname})")
            continue
        if axes.count("Q") > 1 or g[qname].ndim > 2 or g[sig].ndim > 2:
            skipped.append(f"{name} (2D data: I_axes {axes})")
            continue
        I_ds, Q_ds = g[sig], g[qname]
        ename = _attr(I_ds, "uncertainties") or _attr(I_ds, "uncertainty") or _attr(g, "I_uncertainties") \
            or _attr(g, "I_uncertainty") or ("Idev" if "Idev" in g else None)
        rname = _attr(Q_ds, "resolutions") or _attr(Q_ds, "resolution") or ("Qdev" if "Qdev" in g else None)
        notes = []
        if rname and ("," in rname or rname not in g):
            notes.append(f"{path} [{name}]: Q resolution {rname!r} is not a single Qdev array (slit "
                         "resolution dQl/dQw?): not kept")
            rname = None
        ds = {"Q": Q_ds, "I": I_ds, "Idev": g[ename] if ename and ename in g else None,
              "Qdev": g[rname] if rname else None}
        units = {k: (_attr(d, "units") or _attr(d, "unit")) if d is not None else None for k, d in ds.items()}
        arr = {k: (np.asarray(d[()], dtype=float) if d is not None else None) for k, d in ds.items()}
        if arr["I"].ndim == 2:  # frames: I[frame, Q]
            nf = arr["I"].shape[0]
            for k in range(nf):
                def row(a):
                    if a is None:
                        return None
                    return a[k] if a.ndim == 2 else a
                records.append({"label": f"{name}[{k}]", "format": "nxcansas", "units": units,
                                "unit_attr": "@units", "notes": notes,
                                "arrays": {key: row(a) for key, a in arr.items()}})
        else:
            records.append({"label": name, "format": "nxcansas", "units": units, "unit_attr": "@units",
                            "notes": notes, "arrays": arr})
    if not records:
        raise InputFileError(f"{path}: no 1D SASdata read ({'; '.join(skipped)}); export the reduced 1D "
                             "curve I(Q)")
    return records


# ---- canSAS 1D XML ----------------------------------------------------------
def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_cansas_xml(path) -> list[dict]:
    import xml.etree.ElementTree as ET

    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import parse
    except ImportError:  # pragma: no cover - defusedxml is a dependency
        raise InputFileError(f"{path}: canSAS XML needs defusedxml: pip install defusedxml") from None
    try:
        root = parse(str(path)).getroot()
    except DefusedXmlException as exc:
        raise InputFileError(
            f"{path}: the XML declares entities or a DTD ({type(exc).__name__}), which are refused without "
            "expansion (an entity bomb such as 'billion laughs' would exhaust memory); canSAS 1D files "
            "need none: remove the <!DOCTYPE>/<!ENTITY> declarations or export the file again"
        ) from None
    except ET.ParseError as exc:
        raise InputFileError(f"{path}: not well-formed XML ({exc}); truncated? export the file again") from None
    entries = [e for e in root.iter() if _local(e.tag) == "SASentry"]
    if _local(root.tag) != "SASroot" or not entries:
        raise InputFileError(f"{path}: XML without canSAS 1D SASroot/SASentry elements; is it canSAS 1D XML?")
    records = []
    for ke, e in enumerate(entries, start=1):
        ename = e.get("name") or f"SASentry{ke}"
        datas = [d for d in e if _local(d.tag) == "SASdata"]
        for kd, d in enumerate(datas, start=1):
            label = ename if len(datas) == 1 else f"{ename}/{d.get('name') or f'SASdata{kd}'}"
            points = [p for p in d if _local(p.tag) == "Idata"]
            if not points:
                continue
            cols = {k: [] for k in ("Q", "I", "Idev", "Qdev")}
            units = {k: set() for k in cols}
            slit = False
            for kp, pt in enumerate(points, start=1):
                for child in pt:
                    key = _local(child.tag)
                    if key in ("dQl", "dQw"):
                        slit = True
                    if key not in cols:
                        continue
                    try:
                        cols[key].append(float((child.text or "").strip()))
                    except ValueError:
                        raise InputFileError(
                            f"{path} [{label}], Idata point {kp}: {key} = {child.text!r} is not a number; "
                            "fix or remove the point"
                        ) from None
                    units[key].add(child.get("unit"))
            arrays, u = {}, {}
            for key in cols:
                if not cols[key]:
                    arrays[key], u[key] = None, None
                    continue
                arrays[key] = np.asarray(cols[key])
                us = units[key]
                if len(us) > 1:
                    raise InputFileError(
                        f"{path} [{label}]: the Idata points give {key} in several units "
                        f"{sorted(str(x) for x in us)}; every point needs the same unit: re-export the file"
                    )
                u[key] = next(iter(us))
            if arrays["Q"] is None or arrays["I"] is None:
                raise InputFileError(f"{path} [{label}]: Idata points without Q or I; each needs both")
            notes = [f"{path} [{label}]: slit resolution (dQl/dQw) present: not kept"] if slit else []
            records.append({"label": label, "format": "cansas_xml", "units": u, "unit_attr": "unit",
                            "notes": notes, "arrays": arrays})
    if not records:
        raise InputFileError(
            f"{path}: no SASdata with Idata points in any SASentry; the file holds no 1D curve: export the "
            "reduced curve I(Q)"
        )
    return records


def check_curve(q, intensity, error=None, *, q_unit="1/A", source="curve", lines=None,
                notes=(), dq=None) -> Curve:
    """Check arrays q, I(q) [, dI] and return a :class:`Curve` (see :func:`read_curve`).

    Parameters
    ----------
    q, intensity : array_like, shape (n,)
        Scattering vectors (``q_unit``) and intensities (any scale).
    error : array_like, shape (n,), optional
        Uncertainty dI, in the unit of I.
    q_unit : str
    source : str
        Named in error messages.
    lines : array_like of int, optional
        Line number of each point in the source file (for messages).
    notes : sequence of str
        Warnings collected so far.
    dq : array_like, shape (n,), optional
        q resolution (one standard deviation, in ``q_unit``), kept aligned with q.

    Returns
    -------
    Curve
        Increasing q, repeated q merged, points with I = 0 and no dI dropped
        (each with a note).

    Raises
    ------
    InputFileError
        Arrays of unequal length, NaN/inf, fewer than :data:`MIN_POINTS`
        points, q <= 0, repeated q that disagree, I below -3 dI (or negative
        without dI), negative dI or dQ.
    """
    pts = {"q": np.asarray(q, dtype=float).ravel()}
    pts["dQ"] = None if dq is None else np.asarray(dq, dtype=float).ravel()
    pts["I(q)"] = np.asarray(intensity, dtype=float).ravel()
    pts["dI"] = None if error is None else np.asarray(error, dtype=float).ravel()
    unit = normalise_q_unit(q_unit)
    notes = list(notes)
    _check_lengths(source, pts)
    where = "point" if lines is None else "line"
    pts["lines"] = np.arange(1, pts["q"].size + 1) if lines is None else np.asarray(lines)
    _check_finite(source, where, pts)
    if pts["q"].size < MIN_POINTS:
        raise InputFileError(f"{source}: only {pts['q'].size} data points; at least {MIN_POINTS} are needed")
    _check_q_values(source, where, pts)
    _check_signs(source, where, pts)
    pts = _increasing(source, where, pts, notes)
    pts = _merge_repeated_q(source, where, unit, pts, notes)
    _check_negative_intensity(source, where, unit, pts, notes)
    pts = _drop_zero_intensity(source, unit, pts, notes)
    return Curve(q=pts["q"], intensity=pts["I(q)"], error=pts["dI"], q_unit=unit, source=source,
                 warnings=tuple(notes), dq=pts["dQ"])


# ---- the checks of check_curve: ``pts`` holds the arrays q, I(q), dI, dQ (or None) and the
# line number of each point, ``where`` names what the numbers count ("line" or "point")
def _at(source, where, pts, i) -> str:
    return f"{source}, {where} {pts['lines'][i]}"


def _take(pts: dict, index) -> dict:
    """The points ``index`` selects (a slice or a mask), every array alike."""
    return {k: None if v is None else v[index] for k, v in pts.items()}


def _check_lengths(source, pts) -> None:
    """q, I, dI and dQ: one value per point."""
    n = pts["q"].size
    sizes = [None if pts[k] is None else pts[k].size for k in ("I(q)", "dI", "dQ")]
    if any(m is not None and m != n for m in sizes):
        raise InputFileError(f"{source}: q, I, dI and dQ must have the same length, got "
                             f"{n}, {sizes[0]}, {sizes[1]}, {sizes[2]}")


def _check_finite(source, where, pts) -> None:
    """No NaN or inf in q, I, dI or dQ."""
    for what in ("q", "I(q)", "dI", "dQ"):
        arr = pts[what]
        if arr is not None and not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise InputFileError(f"{_at(source, where, pts, i)}: {what} = {float(arr[i])!r} is not finite; "
                                 "remove or fix the point")


def _check_q_values(source, where, pts) -> None:
    """q positive (the features use log q)."""
    q = pts["q"]
    if np.any(q <= 0):
        i = int(np.flatnonzero(q <= 0)[0])
        raise InputFileError(
            f"{_at(source, where, pts, i)}: q = {float(q[i])!r} is not positive; the features use log q: drop "
            "q <= 0 points (e.g. the beam-stop region)"
        )


def _increasing(source, where, pts, notes) -> dict:
    """The points in increasing q, with a note when they were not: a curve stored with decreasing q
    is reversed; points out of order (two detector banks or frames written one after the other) are
    sorted by q (a stable sort: repeated q keep their file order)."""
    q = pts["q"]
    step = np.diff(q)
    if q.size > 1 and np.all(step < 0):
        notes.append(f"{source}: q decreases; the points were put in increasing order")
        return _take(pts, slice(None, None, -1))
    if np.any(step < 0):
        i = int(np.flatnonzero(step < 0)[0])
        notes.append(
            f"{source}: q is not monotonic ({int(np.sum(step < 0))} decrease(s), the first at {where} "
            f"{pts['lines'][i + 1]}: q = {float(q[i + 1]):.6g} after {float(q[i]):.6g}); the points were sorted "
            "by q (several detector banks or runs in one file?): check that they belong to one curve"
        )
        return _take(pts, np.argsort(q, kind="stable"))
    return pts


#: a group of repeated-q values with uncertainties is refused when its chi-square against its own
#: weighted mean has a p-value below this, divided by the number of groups (Bonferroni): the
#: repeats then disagree beyond their stated errors (banks on different scales or backgrounds)
REPEAT_P_VALUE = 1e-3
#: without usable uncertainties, repeats are refused when they differ by more than this fraction of
#: their mean: more than the counting noise of a usable reduced point (a few %), so a mismatch
REPEAT_MAX_SPREAD = 0.2


def _merge_group(I, dI, dQ):
    """One point from the points of a repeated q.

    Returns (I, dI, dQ, chi2, spread). With uncertainties (all dI > 0): the inverse-variance
    weighted mean I = sum(w I)/sum(w), w = 1/dI^2, the maximum-likelihood estimate of a common
    intensity from independent Gaussian measurements, with dI = 1/sqrt(sum w) (its standard error),
    scaled by the Birge ratio sqrt(chi2/(k-1)) when that exceeds 1 (the repeats scatter more than
    their errors say; the Particle Data Group's scale factor, Birge, Phys. Rev. 40, 207 (1932)).
    Without (dI None or some dI = 0): the plain mean, dI = sqrt(sum dI^2)/k. dQ: the square root of
    the weighted mean of dQ^2 with the same weights: the merged intensity is the weighted mean of
    the measurements, so its resolution function is the weighted mixture of theirs, whose variance
    is the weighted mean of their variances (all centred on the same q); the Gaussian of
    :mod:`scattermorph.sas.resolution` then has the mixture's second moment.
    """
    k = I.size
    weighted = dI is not None and np.all(dI > 0)
    w = 1.0 / dI ** 2 if weighted else np.ones(k)
    mean = float(np.sum(w * I) / np.sum(w))
    chi2 = float(np.sum(w * (I - mean) ** 2)) if weighted else None
    if weighted:
        err = float(1.0 / np.sqrt(np.sum(w)) * max(1.0, np.sqrt(chi2 / (k - 1))))
    else:
        err = None if dI is None else float(np.sqrt(np.sum(dI ** 2)) / k)
    res = None if dQ is None else float(np.sqrt(np.sum(w * dQ ** 2) / np.sum(w)))
    spread = float((I.max() - I.min()) / abs(mean)) if mean != 0 else np.inf
    return mean, err, res, chi2, spread


def _merge_repeated_q(source, where, unit, pts, notes) -> dict:
    """Points of the same q (sorted, so adjacent) merged into one (:func:`_merge_group`), with a
    note; refused when they disagree (:data:`REPEAT_P_VALUE`, :data:`REPEAT_MAX_SPREAD`)."""
    from scipy.stats import chi2 as chi2_dist

    q = pts["q"]
    first = np.r_[True, np.diff(q) != 0]
    if first.all():
        return pts
    starts = np.flatnonzero(first)
    bounds = np.r_[starts, q.size]
    groups = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a > 1]
    out = _take(pts, starts)
    for a, b in groups:
        g = _take(pts, slice(a, b))
        mean, err, res, chi2, spread = _merge_group(g["I(q)"], g["dI"], g["dQ"])
        bad = (chi2 is not None and chi2_dist.sf(chi2, b - a - 1) < REPEAT_P_VALUE / len(groups)) or \
              (chi2 is None and spread > REPEAT_MAX_SPREAD)
        if bad:
            vals = ", ".join(f"{float(v):.6g}" + (f" +- {float(e):.3g}" if g["dI"] is not None else "")
                             for v, e in zip(g["I(q)"], g["dI"] if g["dI"] is not None else g["I(q)"]))
            why = (f"chi-square {chi2:.3g} for {b - a - 1} degree(s) of freedom" if chi2 is not None
                   else f"they differ by {100 * spread:.0f}% of their mean and the file gives no dI")
            raise InputFileError(
                f"{_at(source, where, pts, a)}: q = {float(q[a]):.6g} appears {b - a} times with intensities "
                f"{vals} that disagree ({why}); these are not repeats of one measurement (detector banks on "
                "different scales or backgrounds?): rescale the banks to agree where they overlap, or keep one"
            )
        k = int(np.flatnonzero(starts == a)[0])
        out["I(q)"][k] = mean
        if out["dI"] is not None:
            out["dI"][k] = err
        if out["dQ"] is not None:
            out["dQ"][k] = res
    if out["q"].size < MIN_POINTS:
        raise InputFileError(f"{source}: only {out['q'].size} distinct q values after merging repeated q; at least "
                             f"{MIN_POINTS} are needed (is the q column right?)")
    n_pts = sum(b - a for a, b in groups)
    notes.append(
        f"{source}: {len(groups)} q value(s) appear more than once ({n_pts} points, q from {float(q[groups[0][0]]):.4g} "
        f"to {float(q[groups[-1][0]]):.4g} {unit}; merged detector banks?); each was merged into one point: "
        + ("inverse-variance mean of I" if pts["dI"] is not None else "mean of I")
        + (", rms of dQ" if pts["dQ"] is not None else "")
    )
    return out


def _check_signs(source, where, pts) -> None:
    """dI and dQ non-negative."""
    err, res = pts["dI"], pts["dQ"]
    if err is not None and np.any(err < 0):
        i = int(np.flatnonzero(err < 0)[0])
        raise InputFileError(f"{_at(source, where, pts, i)}: dI = {float(err[i])!r} is negative; "
                             "uncertainties must be >= 0")
    if res is not None and np.any(res < 0):
        i = int(np.flatnonzero(res < 0)[0])
        raise InputFileError(f"{_at(source, where, pts, i)}: dQ = {float(res[i])!r} is negative; "
                             "a resolution must be >= 0")


#: a negative intensity is kept when it lies within this many dI of zero
NEGATIVE_SIGMAS = 3.0


def _check_negative_intensity(source, where, unit, pts, notes) -> None:
    """Negative I: kept, with a note, where within :data:`NEGATIVE_SIGMAS` dI of zero.

    After background subtraction the intensity where the signal reaches the background scatters
    around zero, and a negative value within its error bars is a legitimate measurement (SasView
    fits such points with their errors); dropping it would bias the curve upwards there. A point
    more than 3 dI below zero (probability 0.13 % for Gaussian noise on a non-negative intensity),
    or negative without an uncertainty to judge it by, means an over-subtracted background or a
    column that is not I(q): refused, naming the points.
    """
    inten, err = pts["I(q)"], pts["dI"]
    neg = inten < 0
    if not neg.any():
        return
    e = np.zeros_like(inten) if err is None else err
    bad = neg & ((e <= 0) | (inten < -NEGATIVE_SIGMAS * e))
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = "; ".join(f"{where} {pts['lines'][i]}: q = {float(pts['q'][i]):.5g}, I(q) = {float(inten[i])!r}, "
                          + (f"dI = {float(e[i]):.3g}" if err is not None else "no dI") for i in idx[:5])
        raise InputFileError(
            f"{_at(source, where, pts, int(idx[0]))}: I(q) = {float(inten[idx[0]])!r} is negative "
            f"({idx.size} point(s) below zero by more than {NEGATIVE_SIGMAS:g} dI or without dI: {shown}"
            f"{' ...' if idx.size > 5 else ''}); a count rate cannot be negative beyond its noise: the "
            "background was over-subtracted or the column is not I(q); redo the subtraction, or crop the q "
            "range to where I > 0"
        )
    notes.append(
        f"{source}: kept {int(neg.sum())} point(s) with I(q) < 0 within {NEGATIVE_SIGMAS:g} dI of zero (q from "
        f"{float(pts['q'][neg][0]):.4g} to {float(pts['q'][neg][-1]):.4g} {unit}): noise around a "
        "background-subtracted intensity near zero; log I is undefined there, so predict averages them with "
        "their neighbours (scattermorph.sas.curves.positive_for_logs)"
    )


def _drop_zero_intensity(source, unit, pts, notes) -> dict:
    """The points without I = 0 and dI = 0 (or no dI): an empty detector bin, log I undefined and no
    uncertainty to weigh it by; dropped with a note. A zero with dI > 0 is a measurement near zero
    and is kept, like a small negative one. At least :data:`MIN_POINTS` must remain."""
    zero = (pts["I(q)"] == 0) & (True if pts["dI"] is None else ~(pts["dI"] > 0))
    if not zero.any():
        return pts
    q = pts["q"]
    notes.append(
        f"{source}: dropped {int(zero.sum())} point(s) with I(q) = 0 (q from {q[zero][0]:.4g} "
        f"to {q[zero][-1]:.4g} {unit}): log I is undefined there"
    )
    pts = _take(pts, ~zero)
    if pts["q"].size < MIN_POINTS:
        raise InputFileError(
            f"{source}: only {pts['q'].size} points with I(q) > 0; at least {MIN_POINTS} are needed"
        )
    return pts


def positive_for_logs(curve: Curve) -> Curve:
    """The curve with every point I <= 0 averaged with its neighbours until positive, for log I.

    Features and likelihoods built on log I (:mod:`scattermorph.learn.features`) cannot take the
    points :func:`check_curve` keeps below or at zero (within 3 dI). Dropping them would keep only
    the upward fluctuations where the signal reaches the background and bias log I upwards there;
    instead each non-positive point is merged with its nearer neighbour (in log q) into one point,
    and merged again until every point is positive: the inverse-variance mean of I (w = 1/dI^2,
    unbiased for the mean intensity over the merged q range), at the same weighted mean of q,
    with dI = 1/sqrt(sum w) and dQ the square root of sum w (dQ^2 + (q - q_mean)^2) / sum w (the
    mixture's second moment about the merged q). Positive points are never changed unless merged
    into a group, and a curve with I > 0 everywhere is returned as it is. The effect on the
    features of noisy simulated curves is measured in docs/predict.md.

    Parameters
    ----------
    curve : Curve

    Returns
    -------
    Curve
        I > 0 everywhere; a note names how many points were merged into how many.

    Raises
    ------
    InputFileError
        No group of neighbours has a positive mean (fewer than :data:`MIN_POINTS` points remain).
    """
    inten = curve.intensity
    if np.all(inten > 0):
        return curve
    q = curve.q
    err = curve.error
    pos_err = err[err > 0] if err is not None else np.array([])
    floor = float(np.median(pos_err)) if pos_err.size else 1.0  # dI = 0 (or none): weight as a typical point
    e = np.where(err > 0, err, floor) if err is not None else np.full(q.size, floor)
    w = 1.0 / e ** 2
    dq2 = np.zeros(q.size) if curve.dq is None else curve.dq ** 2
    # running sums per group: weight, w I, w q, w (dQ^2 + q^2); groups are runs of adjacent points
    groups = [[w[i], w[i] * inten[i], w[i] * q[i], w[i] * (dq2[i] + q[i] ** 2), 1] for i in range(q.size)]
    while True:
        bad = [k for k, g in enumerate(groups) if g[1] <= 0]
        if not bad or len(groups) < 2:
            break
        k = bad[0]
        centre = np.log(groups[k][2] / groups[k][0])
        left = abs(centre - np.log(groups[k - 1][2] / groups[k - 1][0])) if k > 0 else np.inf
        right = abs(np.log(groups[k + 1][2] / groups[k + 1][0]) - centre) if k + 1 < len(groups) else np.inf
        j = k - 1 if left <= right else k + 1
        a, b = min(j, k), max(j, k)
        groups[a:b + 1] = [[x + y for x, y in zip(groups[a], groups[b])]]
    g = np.asarray(groups)
    if np.any(g[:, 1] <= 0) or g.shape[0] < MIN_POINTS:
        raise InputFileError(f"{curve.source}: after averaging its points I <= 0 with their neighbours only "
                             f"{int(np.sum(g[:, 1] > 0))} positive points remain; at least {MIN_POINTS} are "
                             "needed: check the background subtraction")
    qm = g[:, 2] / g[:, 0]
    merged = g[:, 4] > 1
    n_bad = int(np.sum(inten <= 0))
    note = (f"{curve.source}: {n_bad} point(s) with I(q) <= 0 were averaged with their neighbours in log q "
            f"(inverse-variance mean) into {int(merged.sum())} point(s) with I > 0 ({int(g[merged, 4].sum())} "
            f"points in all, q from {qm[merged][0]:.4g} to {qm[merged][-1]:.4g} {curve.q_unit}) so that log I "
            "is defined")
    return replace(curve, q=qm, intensity=g[:, 1] / g[:, 0],
                   error=None if err is None else 1.0 / np.sqrt(g[:, 0]),
                   dq=None if curve.dq is None else np.sqrt(np.maximum(g[:, 3] / g[:, 0] - qm ** 2, 0.0)),
                   warnings=tuple(curve.warnings) + (note,))


def read_table(path, ndim, *, q_unit="1/b"):
    """Read a user's training table: one row per sample, a curve plus its densities.

    Format: CSV (``#`` lines are comments) with a header row. Columns named
    ``q=<value>`` hold I(q) at that q (the common q grid, in ``q_unit``; an
    empty cell is a missing point); columns named like the densities of
    ``scattermorph.functionals.FUNCTIONALS[ndim]`` (2D: ``area_density``,
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
    qcols, qvals, tcols = _table_columns(path, df, ndim)
    _check_table_size(path, df, qcols, tcols, ndim)
    qvals = np.asarray(qvals)
    if np.unique(qvals).size != qvals.size:
        raise InputFileError(f"{path}: repeated q columns; every 'q=<value>' must be distinct")
    order = np.argsort(qvals)
    s_q, targets = _table_values(path, df, qcols, order, tcols)
    return qvals[order], s_q, targets.reset_index(drop=True), _table_groups(path, df)


def _table_columns(path, df, ndim):
    """The table's ``q=<value>`` columns, their q values and its density columns; any other
    column but ``sample`` and ``group`` is an error (a typo must not silently drop a target)."""
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
    return qcols, qvals, tcols


def _check_table_size(path, df, qcols, tcols, ndim) -> None:
    """At least :data:`MIN_POINTS` q columns, one density column and 5 rows."""
    if len(qcols) < MIN_POINTS:
        raise InputFileError(f"{path}: {len(qcols)} 'q=<value>' columns; at least {MIN_POINTS} are needed")
    if not tcols:
        raise InputFileError(f"{path}: no density column; name at least one of {FUNCTIONALS[ndim]}")
    if len(df) < 5:
        raise InputFileError(f"{path}: {len(df)} rows; at least 5 training samples are needed")


def _table_values(path, df, qcols, order, tcols):
    """The intensities, shape (rows, B) in increasing q (``qcols[order]``; 0 and empty cells NaN), and the densities.

    Intensities must be finite and >= 0 (empty = missing), densities finite
    without gaps, and every row needs :data:`MIN_POINTS` positive intensities.
    """
    try:
        s_q = df[qcols].to_numpy(dtype=float)[:, order]
        targets = df[tcols].astype(float)
    except (ValueError, TypeError) as exc:
        raise InputFileError(f"{path}: non-numeric value in an intensity or density column ({exc})") from None
    for what, arr, cols in (("intensity", s_q, [qcols[k] for k in order]), ("density", targets.to_numpy(), tcols)):
        bad = np.isinf(arr) | ((arr < 0) & (what == "intensity"))
        if what == "density":
            bad |= np.isnan(arr)
        if bad.any():
            r, c = (int(v) for v in np.argwhere(bad)[0])
            raise InputFileError(
                f"{path}, data row {r + 1}, column {cols[c]!r}: {what} value {float(arr[r, c])!r} is not allowed "
                "(intensities must be finite and >= 0, empty = missing; densities finite, no gaps)"
            )
    s_q[s_q == 0] = np.nan  # log I undefined: treated as a missing point
    if np.any(np.isfinite(s_q).sum(axis=1) < MIN_POINTS):
        r = int(np.flatnonzero(np.isfinite(s_q).sum(axis=1) < MIN_POINTS)[0])
        raise InputFileError(f"{path}, data row {r + 1}: fewer than {MIN_POINTS} positive intensities")
    return s_q, targets


def _table_groups(path, df):
    """The ``group`` column as strings, shape (rows,), or None; it must name at least 2 groups."""
    if "group" in df.columns and df["group"].isna().any():
        rows = [int(i) + 1 for i in np.flatnonzero(df["group"].isna().to_numpy())]
        raise InputFileError(
            f"{path}: column 'group' is empty in data row(s) {rows[:5]}{' ...' if len(rows) > 5 else ''}; "
            "label every row with its simulation or sample, or delete the 'group' column"
        )
    groups = df["group"].astype(str).to_numpy() if "group" in df.columns else None
    if groups is not None and np.unique(groups).size < 2:
        raise InputFileError(
            f"{path}: column 'group' names a single group ({groups[0]!r}) for all {len(groups)} rows; "
            "grouped validation holds whole groups out, so it needs at least 2: label each row with its "
            "simulation or sample, or delete the 'group' column (the rows are then split at random)"
        )
    return groups
