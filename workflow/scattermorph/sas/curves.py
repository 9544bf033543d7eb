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
  column whose header names a resolution (``dQ``, ``dX``, ``<dX>``,
  ``sigmaQ``, ``Qdev``) is read as dQ; other extra columns are ignored with a
  note. NIST reduced files (``.ABS``: a header ending in ``The 6 columns are |
  Q (1/A) | I(Q) (1/cm) | std. dev. I(Q) (1/cm) | sigmaQ | meanQ |
  ShadowFactor|``) are read with q in the unit that header states and sigmaQ
  as dQ.

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
  and where (the features use log I, see :mod:`scattermorph.learn.estimators`).
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
        I(q) > 0 (any scale).
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
        ``"text"``, ``"nist"``, ``"cansas_xml"``, ``"nxcansas"`` or ``"arrays"``.
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
        q <= 0, repeated or non-monotonic q; negative I, dI or dQ; fewer than
        :data:`MIN_POINTS` points; several curves and no ``entry``. The
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


_DQ_NAME = re.compile(r"^<?(d_?q|d_?x|sigma_?q|qdev|dqx?|q_?res\w*|resolution)>?(\(.*\))?$", re.IGNORECASE)


def _read_text(path, raw, q_unit, columns) -> Curve:
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
    if nist is None and columns is None and data.shape[1] > 3:
        if header is not None and len(header) == data.shape[1] and _DQ_NAME.match(header[3].replace(" ", "")):
            dq_col = 3
            notes.append(f"{path}: column 4 ({header[3]!r}) read as the q resolution dQ")
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
        Increasing q; points with I = 0 dropped (with a note).

    Raises
    ------
    InputFileError
        Arrays of unequal length, NaN/inf, fewer than :data:`MIN_POINTS`
        points, q <= 0, repeated or non-monotonic q, negative I, dI or dQ.
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
    pts = _increasing(source, where, pts, notes)
    _check_signs(source, where, pts)
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
    """q positive (the features use log q) and never repeated."""
    q = pts["q"]
    if np.any(q <= 0):
        i = int(np.flatnonzero(q <= 0)[0])
        raise InputFileError(
            f"{_at(source, where, pts, i)}: q = {float(q[i])!r} is not positive; the features use log q: drop "
            "q <= 0 points (e.g. the beam-stop region)"
        )
    step = np.diff(q)
    if np.any(step == 0):
        i = int(np.flatnonzero(step == 0)[0])
        raise InputFileError(
            f"{_at(source, where, pts, i + 1)}: q = {float(q[i + 1])!r} repeats the previous point "
            f"({where} {pts['lines'][i]}); a curve needs distinct q values: merge or remove the duplicates"
        )


def _increasing(source, where, pts, notes) -> dict:
    """The points in increasing q: a curve stored with decreasing q is reversed (with a note); a
    change of direction is an error (two curves concatenated, or the column is not q)."""
    if pts["q"].size > 1 and np.all(np.diff(pts["q"]) < 0):
        notes.append(f"{source}: q decreases; the points were put in increasing order")
        pts = _take(pts, slice(None, None, -1))
    q = pts["q"]
    step = np.diff(q)
    if np.any(step < 0):
        i = int(np.flatnonzero(step < 0)[0])
        raise InputFileError(
            f"{_at(source, where, pts, i + 1)}: q = {float(q[i + 1])!r} is smaller than the previous q = "
            f"{float(q[i])!r}; q must be monotonic (are two curves concatenated? split them, or sort by q)"
        )
    return pts


def _check_signs(source, where, pts) -> None:
    """I, dI and dQ non-negative: a negative count rate means an over-subtracted background."""
    inten, err, res = pts["I(q)"], pts["dI"], pts["dQ"]
    if np.any(inten < 0):
        bad = np.flatnonzero(inten < 0)
        i = int(bad[0])
        raise InputFileError(
            f"{_at(source, where, pts, i)}: I(q) = {float(inten[i])!r} is negative ({bad.size} negative "
            "point(s)); a count rate cannot be negative: the background was over-subtracted or the column is "
            "not I(q); fix the subtraction or crop the q range to where I > 0"
        )
    if err is not None and np.any(err < 0):
        i = int(np.flatnonzero(err < 0)[0])
        raise InputFileError(f"{_at(source, where, pts, i)}: dI = {float(err[i])!r} is negative; "
                             "uncertainties must be >= 0")
    if res is not None and np.any(res < 0):
        i = int(np.flatnonzero(res < 0)[0])
        raise InputFileError(f"{_at(source, where, pts, i)}: dQ = {float(res[i])!r} is negative; "
                             "a resolution must be >= 0")


def _drop_zero_intensity(source, unit, pts, notes) -> dict:
    """The points without I = 0 (an empty detector bin: log I is undefined), with a note; at
    least :data:`MIN_POINTS` must remain."""
    zero = pts["I(q)"] == 0
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
