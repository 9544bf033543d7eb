"""A second run of the whole tiny study reproduces the session's run (issue 7).

In a file of its own so that pytest-xdist can run it beside
tests/test_workflow.py: the fresh study runs before the session's
``tiny_run`` is asked for, so under two workers the two studies can run at
the same time (the first worker to need ``tiny_run`` makes it; see
tests/conftest.py).
"""

import numpy as np
import pytest

from _workflow import ROOT, TIMED_FIGURES, same_file, same_record, snakemake

pytestmark = pytest.mark.workflow


def test_rerun_gives_identical_tables_and_arrays(request, tmp_path):
    """A fresh run of the whole tiny study in another directory reproduces
    every table and array of the session's run, and every figure's pixels and
    PDF drawing (their records differ only in timestamp, working directory and
    the hashes of input files that record timings). It runs with --cores 2,
    as the session's run did (the jobs may finish in another order): only the
    simulations use more than one thread, and test_same_numbers_whatever_cores
    reruns them with --cores 1 (a whole --cores 1 rerun here took twice as long
    and checked nothing more)."""
    # the timeout only guards against a hang (a whole study: minutes, more beside another on 2 cores)
    res = snakemake("--configfile", str(ROOT / "config/tiny.yaml"), "--cores", "2", cwd=tmp_path, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    tiny_run = request.getfixturevalue("tiny_run")  # only now: see the module docstring
    base = tiny_run / "results/tiny"
    files = [p for p in base.rglob("*") if p.is_file() and "figures" not in p.parts
             and not p.name.endswith(".prov.json")]
    assert len(files) > 20
    for a in files:
        b = tmp_path / "results/tiny" / a.relative_to(base)
        assert b.exists(), b
        same_file(a, b)
    # figures: the same pixels and the same PDF drawing, and the same record
    # but for timestamp, working directory and input hashes (see same_record)
    from PIL import Image
    from pypdf import PdfReader

    from scattermorph.provenance.records import read_embedded

    figures = sorted((base / "figures").glob("*.png"))
    assert figures
    for a in figures:
        b = tmp_path / "results/tiny/figures" / a.name
        assert same_record(read_embedded(a)) == same_record(read_embedded(b)), a.name
        if a.stem in TIMED_FIGURES:
            continue
        with Image.open(a) as ia, Image.open(b) as ib:
            assert np.array_equal(np.asarray(ia), np.asarray(ib)), a.name
        pa, pb = PdfReader(a.with_suffix(".pdf")), PdfReader(b.with_suffix(".pdf"))
        assert [p.get_contents().get_data() for p in pa.pages] == [p.get_contents().get_data() for p in pb.pages]
