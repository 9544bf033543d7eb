"""Reading users' scattering curves and training tables: every malformed file
gets its own specific error (never a silent wrong answer), good files in the
usual layouts are read exactly."""

import numpy as np
import pytest

from scattermorph.errors import InputFileError
from scattermorph.sas.curves import (
    MIN_POINTS,
    check_curve,
    density_unit,
    normalise_q_unit,
    read_curve,
    read_curves,
    read_table,
)

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
    i, di = I.copy(), DI.copy()
    i[-2:], di[-2:] = 0.0, 0.0  # an empty bin: no count, no uncertainty
    c = read_curve(write(tmp_path, lines(Q, i, di)))
    assert c.q.size == Q.size - 2
    assert any("dropped 2 point(s) with I(q) = 0" in w for w in c.warnings)
    c = read_curve(write(tmp_path, lines(Q, i), "with_di.dat"))  # I = 0 +- dI: a measurement near zero
    assert c.q.size == Q.size and c.intensity[-1] == 0.0


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
    "repeated q that disagree": (_replace(4, 0, repr(float(Q[3]))), r"line 4: q = .* appears 2 times with "
                                 r"intensities .* that disagree \(chi-square .*rescale the banks"),
    "zero q": (_replace(0, 0, "0"), r"line 1: q = 0.0 is not positive"),
    "negative q": (_replace(0, 0, "-0.01"), r"line 1: q = -0.01 is not positive"),
    "negative intensity": (_replace(15, 1, "-2.5"), r"line 16: I\(q\) = -2.5 is negative .*background"),
    "negative dI": (_replace(2, 2, "-1"), r"line 3: dI = -1.0 is negative"),
    "too few points": (lines(Q[:5], I[:5], DI[:5]), rf"only 5 data points; at least {MIN_POINTS}"),
    "too few after zeros": (lines(Q[:12], np.r_[I[:8], np.zeros(4)], np.r_[DI[:8], np.zeros(4)]),
                            r"only 8 points with I\(q\) > 0"),
    "negative without dI": ("\n".join(f"{float(a)!r} {float(b)!r}" for a, b in zip(Q, np.r_[I[:15], -1e-3, I[16:]])),
                            r"line 16: I\(q\) = -0.001 is negative .*no dI"),
    "canSAS XML without SASentry": ('<?xml version="1.0"?>\n<SASroot version="1.1">\n</SASroot>\n',
                                    r"XML without canSAS 1D SASroot/SASentry"),
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
    with pytest.raises(InputFileError, match=r"cannot be read as HDF5/NXcanSAS \(truncated or damaged"):
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
    ({"bad_cell": (4, 1, "")}, r"column 'group' is empty in data row\(s\) \[5\]"),
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


# --------------------------------------------------------------------------
# NXcanSAS, canSAS 1D XML and NIST files (issue 16)
# --------------------------------------------------------------------------
h5py = pytest.importorskip("h5py")
SASDATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "sasdata"
XML_33837 = SASDATA / "33837rear_1D_1.75_16.5_CanSAS1D.xml"
H5_33837 = SASDATA / "33837rear_1D_1.75_16.5_NXcanSAS_v3.h5"


def test_same_measurement_from_cansas_xml_and_nxcansas():
    """sasdata's run 33837, written by its reduction software as canSAS 1D XML and as
    NXcanSAS (tests/data/sasdata/README.md): both readers give the same arrays and q unit."""
    x, h = read_curve(XML_33837), read_curve(H5_33837)
    assert (x.format, h.format) == ("cansas_xml", "nxcansas")
    assert x.q.size == h.q.size == 66 and x.q_unit == h.q_unit == "1/A"
    # the XML holds 6 significant digits, the HDF5 file doubles: rounding to 6
    # digits changes a value by at most half a unit of the 6th digit, i.e. a
    # relative 5e-6 (leading digit 1); a unit slip (x10) or a shifted point fails
    for a, b in ((x.q, h.q), (x.intensity, h.intensity), (x.error, h.error)):
        np.testing.assert_allclose(a, b, rtol=5e-6, atol=0)
    # the files disagree on I's unit label (XML 1/cm, HDF5 'Counts'): both are kept as written
    assert (x.intensity_unit, h.intensity_unit) == ("1/cm", "Counts")
    # the XML states Qdev = 0 (no resolution), the HDF5 file has no Qdev
    assert h.dq is None and x.dq is not None and np.all(x.dq == 0)
    assert x.entry == "33837rear_1D_1.75_16.5_cloned_temp" and h.entry == "sasentry01/sasdata"


def test_q_is_converted_to_the_requested_unit():
    a, b = read_curve(H5_33837), read_curve(H5_33837, q_unit="1/nm")
    assert b.q_unit == "1/nm"
    np.testing.assert_allclose(b.q, 10 * a.q, rtol=1e-15)  # one multiplication by 10.0: one rounding
    assert any("converted from 1/A to 1/nm" in w for w in b.warnings)


def test_nist_six_column_file():
    c = read_curve(SASDATA / "jan08002.ABS")  # header with all-numeric parameter lines
    assert c.format == "nist" and c.q_unit == "1/A" and c.intensity_unit == "1/cm" and c.q.size == 127
    # first and last data lines of the file, exactly as printed there
    assert (c.q[0], c.intensity[0], c.error[0], c.dq[0]) == (0.002618, 0.02198, 0.002704, 0.0004091)
    assert (c.q[-1], c.intensity[-1], c.error[-1], c.dq[-1]) == (0.5828, 0.2958, 1.0, 0.02997)


def test_text_with_named_resolution_column(tmp_path):
    dq = 0.05 * Q
    text = "<X> <Y> <dY> <dX>\n" + "\n".join(" ".join(repr(float(v)) for v in r) for r in zip(Q, I, DI, dq))
    c = read_curve(write(tmp_path, text))
    np.testing.assert_array_equal(c.dq, dq)  # repr round-trips floats exactly
    plain = read_curve(write(tmp_path, "q I dI other\n" + "\n".join(
        " ".join(repr(float(v)) for v in r) + " 1.0" for r in zip(Q, I, DI)), "plain.dat"))
    assert plain.dq is None  # an unnamed 4th column is not taken for a resolution


def _nxcansas(path, entries, *, q_units="1/angstrom", i_units="1/cm", qdev=True, frames=False):
    """NXcanSAS writer following the NXcanSAS definition
    (https://manual.nexusformat.org/classes/applications/NXcanSAS.html): NXentry/SASentry
    with definition NXcanSAS, an NXdata/SASdata with @signal I, @I_axes Q, I@uncertainties
    Idev, Q@resolutions Qdev, every dataset with @units."""
    with h5py.File(path, "w") as f:
        f.attrs["default"] = next(iter(entries))
        for name, (q, i, di, dq) in entries.items():
            e = f.create_group(name)
            e.attrs.update(NX_class="NXentry", canSAS_class="SASentry", version="1.1")
            e["definition"] = "NXcanSAS"
            d = e.create_group("sasdata")
            d.attrs.update(NX_class="NXdata", canSAS_class="SASdata", signal="I",
                           I_axes="Time,Q" if frames else "Q", Q_indices=1 if frames else 0)
            ds = {"I": i, "Q": q, "Idev": di}
            if qdev:
                ds["Qdev"] = dq
            for k, v in ds.items():
                d[k] = v
                if k in ("Q", "Qdev") and q_units is not None:
                    d[k].attrs["units"] = q_units
                elif k in ("I", "Idev"):
                    d[k].attrs["units"] = i_units
            d["I"].attrs["uncertainties"] = "Idev"
            if qdev:
                d["Q"].attrs["resolutions"] = "Qdev"
    return path


DQ = 0.07 * Q


def test_nxcansas_round_trip(tmp_path):
    path = _nxcansas(tmp_path / "c.h5", {"sasentry01": (Q, I, DI, DQ)})
    c = read_curve(path)
    # float64 written and read by HDF5 unchanged: exact
    for a, b in ((c.q, Q), (c.intensity, I), (c.error, DI), (c.dq, DQ)):
        np.testing.assert_array_equal(a, b)
    assert c.q_unit == "1/A" and c.intensity_unit == "1/cm" and c.format == "nxcansas"


def test_nxcansas_several_entries_and_frames(tmp_path):
    path = _nxcansas(tmp_path / "two.h5", {"a": (Q, I, DI, DQ), "b": (Q, 2 * I, 2 * DI, DQ)})
    with pytest.raises(InputFileError, match=r"holds 2 curves \('a/sasdata', 'b/sasdata'\).*--entry"):
        read_curve(path)
    np.testing.assert_array_equal(read_curve(path, entry="b").intensity, 2 * I)
    np.testing.assert_array_equal(read_curve(path, entry="2").intensity, 2 * I)
    assert [c.entry for c in read_curves(path)] == ["a/sasdata", "b/sasdata"]
    with pytest.raises(InputFileError, match=r"no curve 'c'.*'a/sasdata', 'b/sasdata'"):
        read_curve(path, entry="c")
    fr = _nxcansas(tmp_path / "frames.h5", {"e": (Q, np.stack([I, 3 * I]), np.stack([DI, DI]), DQ)}, frames=True)
    cs = read_curves(fr)
    assert [c.entry for c in cs] == ["e/sasdata[0]", "e/sasdata[1]"]
    np.testing.assert_array_equal(cs[1].intensity, 3 * I)


def _xml(entries, unit_q="1/A", doctype=""):
    """canSAS 1D XML v1.1 (https://www.cansas.org/formats/canSAS1d/1.1/doc/): SASroot/SASentry/SASdata/Idata."""
    out = ['<?xml version="1.0"?>', doctype, '<SASroot version="1.1" xmlns="urn:cansas1d:1.1">']
    for name, (q, i, di, dq) in entries.items():
        out.append(f'<SASentry name="{name}"><Title>t</Title><Run>1</Run><SASdata>')
        for a, b, c, d in zip(q, i, di, dq):
            qu = f' unit="{unit_q}"' if unit_q else ""
            out.append(f'<Idata><Q{qu}>{float(a)!r}</Q><I unit="1/cm">{float(b)!r}</I><Idev unit="1/cm">{float(c)!r}</Idev>'
                       f'<Qdev{qu}>{float(d)!r}</Qdev></Idata>')
        out.append("</SASdata></SASentry>")
    out.append("</SASroot>")
    return "\n".join(out) + "\n"


def test_cansas_xml_written_to_the_spec(tmp_path):
    path = write(tmp_path, _xml({"s1": (Q, I, DI, DQ), "s2": (Q, I, DI, DQ)}, unit_q="1/nm"), "c.xml")
    c = read_curve(path, entry="s2")
    for a, b in ((c.q, Q), (c.intensity, I), (c.error, DI), (c.dq, DQ)):
        np.testing.assert_array_equal(a, b)  # repr() text round-trips floats exactly
    assert c.q_unit == "1/nm" and c.entry == "s2"


BILLION_LAUGHS = ('<!DOCTYPE SASroot [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{k} "{("&lol%s;" % ("" if k == 1 else k - 1)) * 10}">' for k in range(1, 10))
                  + "]>")


def _bad_structured(tmp_path, case):
    if case == "truncated HDF5":
        full = _nxcansas(tmp_path / "full.h5", {"e": (Q, I, DI, DQ)}).read_bytes()
        return write(tmp_path, full[: len(full) // 2], "trunc.h5", "wb")
    if case == "entity bomb":
        text = _xml({"s": (Q, I, DI, DQ)}, doctype=BILLION_LAUGHS).replace("<Title>t</Title>", "<Title>&lol9;</Title>")
        return write(tmp_path, text, "bomb.xml")
    if case == "HDF5 Q without units":
        return _nxcansas(tmp_path / "nounits.h5", {"e": (Q, I, DI, DQ)}, q_units=None)
    if case == "XML Q without unit":
        return write(tmp_path, _xml({"s": (Q, I, DI, DQ)}, unit_q=None), "nounit.xml")
    if case == "HDF5 unequal lengths":
        return _nxcansas(tmp_path / "unequal.h5", {"e": (Q, I[:-3], DI[:-3], DQ)})
    if case == "XML unequal lengths":
        text = _xml({"s": (Q, I, DI, DQ)}).replace('<Idev unit="1/cm">', "<Other>", 1)
        text = text.replace("</Idev><Qdev", "</Other><Qdev", 1)
        return write(tmp_path, text, "unequal.xml")
    if case == "HDF5 without SASdata":
        path = tmp_path / "nodata.h5"
        with h5py.File(path, "w") as f:
            f.create_group("entry").attrs["NX_class"] = "NXentry"
            f["entry/x"] = Q
        return path
    if case == "XML without SASdata":
        return write(tmp_path, _xml({"s": (Q[:0], I[:0], DI[:0], DQ[:0])}), "nodata.xml")
    if case == "Q in a length unit":
        return _nxcansas(tmp_path / "badunit.h5", {"e": (Q, I, DI, DQ)}, q_units="angstrom")
    raise AssertionError(case)


BAD_STRUCTURED = {
    "truncated HDF5": r"cannot be read as HDF5/NXcanSAS \(truncated or damaged file\?.*export it again",
    "entity bomb": r"declares entities or a DTD \(EntitiesForbidden\).*billion laughs.*remove the <!DOCTYPE>",
    "HDF5 Q without units": r"Q has no unit \(@units attribute missing\).*--q-unit",
    "XML Q without unit": r"Q has no unit \(unit attribute missing\).*--q-unit",
    "HDF5 unequal lengths": r"arrays of unequal length \(Q 20, I 17, Idev 17, Qdev 20\).*re-export",
    "XML unequal lengths": r"arrays of unequal length \(Q 20, I 20, Idev 19, Qdev 20\)",
    "HDF5 without SASdata": r"HDF5 file without an NXcanSAS SASdata group.*export",
    "XML without SASdata": r"no SASdata with Idata points in any SASentry.*export",
    "Q in a length unit": r"Q has unit 'angstrom', not a q unit read here",
}


@pytest.mark.parametrize("case", list(BAD_STRUCTURED))
def test_malformed_structured_files(tmp_path, case):
    path = _bad_structured(tmp_path, case)
    with pytest.raises(InputFileError, match=BAD_STRUCTURED[case]) as exc:
        read_curve(path)
    assert str(path) in str(exc.value)


def test_missing_q_unit_can_be_stated(tmp_path):
    c = read_curve(_bad_structured(tmp_path, "HDF5 Q without units"), q_unit="1/nm")
    assert c.q_unit == "1/nm" and any("states no unit" in w for w in c.warnings)


# --------------------------------------------------------------------------
# habits of real files: merged banks, unsorted q, noise around zero, resolution columns
# --------------------------------------------------------------------------
def test_repeated_q_merged_by_inverse_variance():
    q = np.r_[Q[:6], Q[5], Q[6:]]  # point 6 measured twice (two detector banks)
    i = np.r_[I[:6], 1.02 * I[5], I[6:]]
    di = np.r_[DI[:6], 2 * DI[5], DI[6:]]
    dq = np.r_[0.05 * Q[:6], 0.08 * Q[5], 0.05 * Q[6:]]
    c = check_curve(q, i, di, dq=dq, source="banks")
    w1, w2 = 1 / DI[5] ** 2, 1 / (2 * DI[5]) ** 2
    # the two values differ by 0.02 I = 0.4 dI1: chi-square 0.032 < 1, so no Birge scaling
    assert c.q.size == Q.size
    np.testing.assert_allclose(c.intensity[5], (w1 * I[5] + w2 * 1.02 * I[5]) / (w1 + w2), rtol=1e-14)
    np.testing.assert_allclose(c.error[5], 1 / np.sqrt(w1 + w2), rtol=1e-14)
    np.testing.assert_allclose(c.dq[5], np.sqrt((w1 * (0.05 * Q[5]) ** 2 + w2 * (0.08 * Q[5]) ** 2) / (w1 + w2)),
                               rtol=1e-14)
    np.testing.assert_array_equal(np.delete(c.intensity, 5), np.delete(I, 5))
    assert any("1 q value(s) appear more than once (2 points" in w and "inverse-variance" in w for w in c.warnings)
    # without dI: the plain mean, refused when the repeats differ by more than 20 %
    c = check_curve(q, i, source="banks")
    assert c.intensity[5] == pytest.approx(1.01 * I[5], rel=1e-14)
    with pytest.raises(InputFileError, match=r"point 6: q = .* appears 2 times .*differ by 40% .*no dI"):
        check_curve(q, np.r_[I[:6], 1.5 * I[5], I[6:]], source="banks")


def test_unsorted_q_sorted_with_a_note():
    order = np.r_[np.arange(0, 20, 2), np.arange(1, 20, 2)]  # two interleaved halves, one after the other
    c = check_curve(Q[order], I[order], DI[order], source="halves")
    np.testing.assert_array_equal(c.q, Q)
    np.testing.assert_array_equal(c.intensity, I)
    assert any("q is not monotonic (1 decrease(s), the first at point 11" in w for w in c.warnings)


def test_negative_points_within_three_sigma_kept():
    i = I.copy()
    i[-3:] = [-0.5 * DI[-3], -2.9 * DI[-2], 0.1 * DI[-1]]
    c = check_curve(Q, i, DI, source="tail")
    np.testing.assert_array_equal(c.intensity, i)
    assert any("kept 2 point(s) with I(q) < 0 within 3 dI" in w for w in c.warnings)
    i[-2] = -3.1 * DI[-2]
    with pytest.raises(InputFileError, match=r"tail, point 19: I\(q\) = .* is negative \(1 point\(s\) below zero by "
                                             r"more than 3 dI .*point 19: q = 0.40696, I\(q\) = .*, dI = "):
        check_curve(Q, i, DI, source="tail")


def test_positive_for_logs_conserves_the_weighted_intensity():
    from scattermorph.sas.curves import positive_for_logs

    c = check_curve(Q, I, DI, source="clean")
    assert positive_for_logs(c) is c  # nothing to do
    rng = np.random.default_rng(5)
    i = I.copy()
    err = DI.copy()
    err[-8:] = I[-8]  # noise as large as the signal over the last 8 points: some go below zero
    i[-8:] = I[-8:] + err[-8:] * rng.standard_normal(8)
    assert np.sum(i <= 0) >= 2
    c = positive_for_logs(check_curve(Q, i, err, dq=0.05 * Q, source="noisy"))
    assert np.all(c.intensity > 0) and np.all(np.diff(c.q) > 0)
    # merging is a partition of the points: the sums of w I, w and w q are conserved (w = 1/dI^2)
    w, wm = 1 / err ** 2, 1 / c.error ** 2
    np.testing.assert_allclose(np.sum(wm * c.intensity), np.sum(w * i), rtol=1e-12)
    np.testing.assert_allclose(np.sum(wm), np.sum(w), rtol=1e-12)
    np.testing.assert_allclose(np.sum(wm * c.q), np.sum(w * Q), rtol=1e-12)
    j = np.abs(np.log(c.q[:, None] / Q[None, :])).argmin(axis=1)
    alone = np.isclose(c.q, Q[j], rtol=1e-14, atol=0)  # points not merged (w q / w: round-off only)
    assert alone.sum() >= Q.size - 8
    np.testing.assert_allclose(c.intensity[alone], i[j[alone]], rtol=1e-14)  # untouched points stay as read
    assert any(f"{int(np.sum(i <= 0))} point(s) with I(q) <= 0 were averaged" in w for w in c.warnings)


@pytest.mark.parametrize("name,factor", [("<dsigQ>", 1.0), ("sigmaQ(1/A)", 1.0), ("Qdev", 1.0), ("dQ_FWHM", 2.3548)])
def test_resolution_column_names(tmp_path, name, factor):
    dq = 0.1 * Q
    text = f"<X> <Y> <dY> {name}\n" + "\n".join(" ".join(repr(float(v)) for v in r) for r in zip(Q, I, DI, dq))
    c = read_curve(write(tmp_path, text))
    # a FWHM column is a standard deviation times 2 sqrt(2 ln 2) = 2.35482
    np.testing.assert_allclose(c.dq, dq / factor, rtol=1e-4 if factor != 1.0 else 0)


def test_sasview_text_export_with_dsigq():
    c = read_curve(SASDATA / "100nmPinholeSphere.txt")
    # the header: 'resolution: pinhole with 15% DQ/Q'; dsigQ is SasView's Data1D.dx, the 1-sigma width
    # sasmodels' Pinhole1D smears with; 3 significant digits are printed
    np.testing.assert_allclose(c.dq / c.q, 0.15, rtol=0.03)
    assert (c.q[0], c.intensity[0], c.error[0], c.dq[0]) == (1.00e-03, 2.41e03, 2.41e01, 1.50e-04)


def test_isis_rkh_colette_file(tmp_path):
    c = read_curve(SASDATA / "ISIS_98929.TXT")
    assert c.format == "rkh" and c.q_unit == "1/A" and c.q.size == 140 and c.dq is None
    # first and last data lines as printed (F12.5, 2E16.6)
    assert (c.q[0], c.intensity[0], c.error[0]) == (0.007, 2.108775e01, 6.056236e-01)
    assert (c.q[-1], c.intensity[-1], c.error[-1]) == (0.285, 1.619386e-01, 1.022965e00)
    assert any("does not state the unit of q: taken as 1/A" in w for w in c.warnings)
    text = (SASDATA / "ISIS_98929.TXT").read_text().splitlines()
    with pytest.raises(InputFileError, match=r"ISIS RKH/COLETTE 1D file\), line 3: declares 140 points .* truncated"):
        read_curve(write(tmp_path, "\n".join(text[:100]) + "\n", "cut.txt"))
    with pytest.raises(InputFileError, match=r"looks like an ISIS RKH/COLETTE file .*canSAS XML or NXcanSAS"):
        read_curve(write(tmp_path, "\n".join(["untitled"] + text[1:]) + "\n", "renamed.txt"))
