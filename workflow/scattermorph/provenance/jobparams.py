"""The parameters every job of the study would get now, for ``scattermorph audit``.

A provenance record holds the parameters its rule used (``record["params"]``).
Whether a figure or table is still what the *current* config would make is
decided by Snakemake's own code: the workflow is loaded with the current
Snakefile and config, every job is evaluated (``forceall``, nothing runs), and
each output file is mapped to its job's parameters. This is the computation
behind ``snakemake --list-changes params``, but it compares with the record in
the file rather than with Snakemake's metadata in ``.snakemake/``, so it also
works on results copied away from the run that made them.

It runs in a child process (``python -m scattermorph.provenance.jobparams``) because the
Snakemake API changes the working directory and its logging setup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["current_params", "evaluate"]


def _plain(value):
    """JSON-normalised value (as :func:`scattermorph.provenance.records.build_record` stores params)."""
    return json.loads(json.dumps(value, default=str))


def evaluate(snakefile, workdir, configfiles=()) -> dict[str, dict]:
    """Load the workflow and evaluate every job; runs Snakemake in this process.

    Parameters
    ----------
    snakefile : path
    workdir : path
        The run's working directory (outputs are relative to it).
    configfiles : sequence of path
        Passed as ``--configfile`` (empty: the Snakefile's ``config.yaml``).

    Returns
    -------
    dict of str -> dict
        Output path (relative to ``workdir``, as the rules write it) -> the
        parameters of the job that makes it.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    out = {}
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[Path(c).resolve() for c in configfiles]),
            snakefile=Path(snakefile).resolve(),
            workdir=Path(workdir).resolve(),
        )
        workflow = wf.dag(DAGSettings(forceall=True)).workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        for job in workflow.dag.jobs:
            params = _plain({k: v for k, v in job.params.items()})
            for f in job.output:
                out[str(f)] = params
    return out


def current_params(snakefile, workdir, configfiles=(), timeout=600) -> dict[str, dict]:
    """:func:`evaluate` in a child process (same interpreter).

    Raises
    ------
    RuntimeError
        If Snakemake cannot load the workflow with this config (the message
        carries Snakemake's own error, e.g. a config the schema refuses).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "params.json"
        cmd = [sys.executable, "-m", "scattermorph.provenance.jobparams", str(dest), str(snakefile), str(workdir),
               *map(str, configfiles)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0 or not dest.exists():
            raise RuntimeError(f"could not evaluate the workflow's jobs ({' '.join(cmd[3:])}):\n"
                               + (res.stderr.strip()[-2000:] or res.stdout.strip()[-2000:]))
        return json.loads(dest.read_text())


if __name__ == "__main__":
    dest, snakefile, workdir, *configs = sys.argv[1:]
    Path(dest).write_text(json.dumps(evaluate(snakefile, workdir, configs)))
