"""Reading users' scattering curves and training tables: every malformed file
gets its own specific error (never a silent wrong answer), good files in the
usual layouts are read exactly."""

import numpy as np
import pytest

from scattermorph.curves import (
    MIN_POINTS,
    check_curve,
    density_unit,
    normalise_q_unit,
    read_curve,
    read_table,
)
from scattermorph.errors import InputFileError

Q = np.geomspace(0.01, 0.5, 20)
I = 1e3 * (Q / 0.05) ** 2 / (1 + (Q / 0.05) ** 5)
DI = 0.05 * I


def write(tmp_path, text, name="curve.dat", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def lines(q=Q, i=I, di=DI, sep=" "):
    return "\n".join(sep.join(repr(float(v)) for v in row) for row in zip(q, i, di)) + "\n"


# --------------------------------------------------------------------------
# good files
# --------------------------------------------------------------------------
@pytest.mark.parametrize("sep", [" ", "\t", ",", ";", "  ,  "])
def test_reads_columns_with_any_separator_exactly(tmp_path, sep):
    path = write(tmp_path, "# a comment\nq I dI\n" + lines(sep=sep))
    c = read_curve(path, q_unit="1/nm")
    # repr() round-trips floats, so the values must come back bit for bit
    np.testing.assert_array_equal(c.q, Q)
    np.testing.assert_array_equal(c.intensity, I)
    np.testing.assert_array_equal(c.error, DI)
    assert c.q_unit == "1/nm" and c.warnings == ()


def test_two_columns_title_lines_and_comments(tmp_path):
    text = "Sample 12, annealed 2 h\n% written by some instrument\n" + "\n".join(
        f"{a:.8e} {b:.8e}" for a, b in zip(Q, I)) + "\n\n# end\n"
    c = read_curve(write(tmp_path, text))
    assert c.error is None and c.q.size == Q.size
    np.testing.assert_allclose(c.intensity, I, rtol=1e-8)  # 9 significant digits written


def test_decreasing_q_is_reversed_with_a_note(tmp_path):
    c = read_curve(write(tmp_path, lines(Q[::-1], I[::-1], DI[::-1])))
    np.testing.assert_array_equal(c.q, Q)
    np.testing.assert_array_equal(c.intensity, I)
    assert any("increasing order" in w for w in c.warnings)


def test_zero_intensity_points_dropped_with_a_warning(tmp_path):
    i = I.copy()
    i[-2:] = 0.0
    c = read_curve(write(tmp_path, lines(Q, i)))
    assert c.q.size == Q.size - 2
    assert any("dropped 2 point(s) with I(q) = 0" in w for w in c.warnings)


def test_extra_columns_ignored_and_columns_by_name(tmp_path):
    dq = 0.01 * Q
    text = "Q,dQ,I,Err\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in zip(Q, dq, I, DI)) + "\n"
    path = write(tmp_path, text)
    c = read_curve(path)  # default: columns 1-3 are taken as q, I, dI ...
    assert any("ignored the rest" in w for w in c.warnings)
    np.testing.assert_array_equal(c.intensity, dq)  # ... which is wrong here, hence the note
    c = read_curve(path, columns=("Q", "I", "Err"))
    np.testing.assert_array_equal(c.intensity, I)
    np.testing.assert_array_equal(c.error, DI)
    c = read_curve(path, columns=(0, 2))
    assert c.error is None


@pytest.mark.parametrize("text,canonical", [("1/A", "1/A"), ("A^-1", "1/A"), ("1/Å", "1/A"),
                                            ("nm^-1", "1/nm"), ("1 / nm", "1/nm"), ("1/b", "1/b")])
def test_q_units(text, canonical):
    assert normalise_q_unit(text) == canonical


def test_density_units():
    assert density_unit("1/A", 0) == "1"
    assert density_unit("A^-1", 1) == "1/A"
    assert density_unit("1/nm", 2) == "1/nm^2"
    with pytest.raises(InputFileError, match="unknown q unit 'furlong'"):
        normalise_q_unit("furlong")


# --------------------------------------------------------------------------
# malformed files: one specific message each
# --------------------------------------------------------------------------
def _replace(idx, col, value):
    rows = [[repr(float(v)) for v in r] for r in zip(Q, I, DI)]
    rows[idx][col] = value
    return "\n".join(" ".join(r) for r in rows) + "\n"


BAD = {
    "empty": ("", r"the file is empty"),
    "blank lines only": ("\n \n\t\n", r"the file is empty"),
    "comments only": ("# q I\n# nothing\n", r"no numeric data lines"),
    "text in data": (_replace(5, 1, "abc"), r"line 6, column 2: 'abc' is not a number"),
    "missing value": (lines().replace(f" {float(DI[3])!r}\n", "\n", 1), r"line 4: 2 values, but line 1 has 3"),
    "one column": ("\n".join(repr(float(v)) for v in Q) + "\n", r"have 1 column; need at least 2"),
    "nan intensity": (_replace(4, 1, "nan"), r"line 5, column 2 \(I\(q\)\): value nan is not finite"),
    "inf q": (_replace(7, 0, "inf"), r"line 8, column 1 \(q\): value inf is not finite"),
    "duplicate q": (_replace(4, 0, repr(float(Q[3]))), r"line 5: q = .* repeats the previous point \(line 4\)"),
    "non-monotonic q": (_replace(10, 0, "0.011"), r"line 11: q = 0.011 is smaller than the previous"),
    "zero q": (_replace(0, 0, "0"), r"line 1: q = 0.0 is not positive"),
    "negative q": (_replace(0, 0, "-0.01"), r"line 1: q = -0.01 is not positive"),
    "negative intensity": (_replace(15, 1, "-2.5"), r"line 16: I\(q\) = -2.5 is negative .*background"),
    "negative dI": (_replace(2, 2, "-1"), r"line 3: dI = -1.0 is negative"),
    "too few points": (lines(Q[:5], I[:5], DI[:5]), rf"only 5 data points; at least {MIN_POINTS}"),
    "too few after zeros": (lines(Q[:12], np.r_[I[:8], np.zeros(4)], DI[:12]), r"only 8 points with I\(q\) > 0"),
    "canSAS XML": ('<?xml version="1.0"?>\n<SASroot version="1.1">\n</SASroot>\n', r"XML \(canSAS 1D\).*export"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_curve_gives_its_specific_error(tmp_path, case):
    text, match = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(InputFileError, match=match) as exc:
        read_curve(path)
    assert str(path) in str(exc.value)  # every message names the file


def test_binary_and_hdf5_files(tmp_path):
    h5 = write(tmp_path, b"\x89HDF\r\n\x1a\n" + bytes(64), "curve.h5", "wb")
    with pytest.raises(InputFileError, match=r"HDF5 file \(NXcanSAS\?\).*export the curve as text"):
        read_curve(h5)
    binary = write(tmp_path, b"\x00\x01\x02" * 100, "curve.bin", "wb")
    with pytest.raises(InputFileError, match="binary file"):
        read_curve(binary)
    with pytest.raises(InputFileError, match="no such file"):
        read_curve(tmp_path / "absent.dat")


def test_bad_column_choices(tmp_path):
    path = write(tmp_path, "q I dI\n" + lines())
    with pytest.raises(InputFileError, match=r"column 5 \(dI\) does not exist"):
        read_curve(path, columns=(0, 1, 4))
    with pytest.raises(InputFileError, match=r"column 'Iq' \(I\(q\)\) not found"):
        read_curve(path, columns=("q", "Iq"))
    with pytest.raises(InputFileError, match="must be different columns"):
        read_curve(path, columns=(0, 0))


def test_check_curve_names_points_of_arrays():
    with pytest.raises(InputFileError, match=r"mydata, point 3: I\(q\) = -1.0 is negative"):
        check_curve(Q, np.r_[I[:2], -1.0, I[3:]], source="mydata")
    with pytest.raises(InputFileError, match="same length"):
        check_curve(Q, I[:-1])


# --------------------------------------------------------------------------
# training tables
# --------------------------------------------------------------------------
def _table(tmp_path, extra="", bad_cell=None, n=6):
    header = ["sample", "group", "area_density", "perimeter_density"] + [f"q={v:.6g}" for v in Q]
    rows = []
    for k in range(n):
        cells = [f"s{k}", f"g{k % 2}", "0.3", "0.05"] + [f"{v:.6g}" for v in I * (1 + k)]
        rows.append(cells)
    if bad_cell:
        r, c, v = bad_cell
        rows[r][c] = v
    text = "# comment\n" + ",".join(header) + extra + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    return write(tmp_path, text, "table.csv")


def test_read_table(tmp_path):
    q, s_q, targets, groups = read_table(_table(tmp_path), 2)
    np.testing.assert_allclose(q, Q, rtol=5e-6)  # 6 significant digits: half a unit of the 6th
    assert s_q.shape == (6, Q.size) and list(targets.columns) == ["area_density", "perimeter_density"]
    np.testing.assert_allclose(s_q[2], 3 * I, rtol=5e-6)
    assert list(groups) == ["g0", "g1"] * 3


@pytest.mark.parametrize("kwargs,match", [
    ({"extra": ",perimeter_densty"}, r"unknown column\(s\) \['perimeter_densty'\]"),
    ({"bad_cell": (2, 7, "-1")}, r"data row 3, column 'q=.*': intensity value -1.0 is not allowed"),
    ({"bad_cell": (1, 2, "")}, r"data row 2, column 'area_density': density value nan"),
    ({"bad_cell": (1, 2, "abc")}, r"non-numeric value"),
    ({"n": 3}, r"3 rows; at least 5"),
])
def test_bad_tables(tmp_path, kwargs, match):
    if "extra" in kwargs:  # the header gains a column: give every row a value for it
        path = _table(tmp_path)
        text = path.read_text().splitlines()
        text[1] += kwargs["extra"]
        text[2:] = [r + ",1" for r in text[2:]]
        path.write_text("\n".join(text) + "\n")
    else:
        path = _table(tmp_path, **kwargs)
    with pytest.raises(InputFileError, match=match):
        read_table(path, 2)


def test_table_needs_a_density_of_its_dimension(tmp_path):
    with pytest.raises(InputFileError, match=r"unknown column\(s\) \['area_density', 'perimeter_density'\]"):
        read_table(_table(tmp_path), 3)  # 3D densities are volume_density, surface_density, ...
