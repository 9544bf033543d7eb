"""The context every rule script runs in (scattermorph.provenance.job.job):
stderr to the job's log, the rule's thread limit on request, provenance of the
outputs on success only."""

import json
import sys

import pytest
from threadpoolctl import threadpool_info

from scattermorph.provenance.job import job


class _Named(dict):
    """Snakemake's named lists: attributes by name, iteration over values."""

    __getattr__ = dict.__getitem__

    def __iter__(self):
        return iter(self.values())


class _Job:
    def __init__(self, tmp_path, outputs, threads=1):
        self.rule = "compute_table"
        self.input = _Named({})
        self.output = _Named({k: str(tmp_path / v) for k, v in outputs.items()})
        self.params = _Named({})
        self.log = [str(tmp_path / "job.log")]
        self.threads = threads


@pytest.fixture
def restore_stderr():
    saved = sys.stderr
    yield
    sys.stderr = saved


def test_stderr_goes_to_the_log_and_every_output_is_recorded(tmp_path, monkeypatch, restore_stderr):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.py").write_text("print('compute')\n")
    smk = _Job(tmp_path, {"a": "a.csv", "b": "b.csv"})
    with job(smk, str(tmp_path / "script.py")) as sm:
        assert sm is smk
        print("progress", file=sys.stderr)
        for path in sm.output:
            open(path, "w").write("x\n1\n")
    assert (tmp_path / "job.log").read_text() == "progress\n"
    for name in ("a.csv", "b.csv"):
        side = json.loads((tmp_path / f"{name}.prov.json").read_text())
        assert side["file"] == name and side["record"]["rule"] == "compute_table"


def test_only_the_named_outputs_are_recorded(tmp_path, monkeypatch, restore_stderr):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.py").write_text("print('compute')\n")
    smk = _Job(tmp_path, {"table": "t.html", "figure": "f.png"})
    with job(smk, "script.py", record=["table"]) as sm:
        open(sm.output.table, "w").write("<table/>")
    assert (tmp_path / "t.html.prov.json").exists()
    assert not (tmp_path / "f.png.prov.json").exists()


def test_a_failing_job_records_nothing_and_its_error_propagates(tmp_path, monkeypatch, restore_stderr):
    monkeypatch.chdir(tmp_path)
    smk = _Job(tmp_path, {"a": "a.csv"})
    with pytest.raises(ValueError, match="bad input"):
        with job(smk, "script.py") as sm:
            open(sm.output.a, "w").write("half")
            raise ValueError("bad input")
    assert not (tmp_path / "a.csv.prov.json").exists()


def test_thread_limit_holds_the_pools_to_the_rules_threads_inside_only(tmp_path, monkeypatch, restore_stderr):
    monkeypatch.chdir(tmp_path)
    before = [p["num_threads"] for p in threadpool_info()]
    with job(_Job(tmp_path, {}, threads=1), "script.py", record=False, limit_threads=True):
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert [p["num_threads"] for p in threadpool_info()] == before
