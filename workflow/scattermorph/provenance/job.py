"""What every rule script does around its own lines: :func:`job`."""

from __future__ import annotations

import contextlib
import sys

from threadpoolctl import threadpool_limits

from scattermorph.provenance.records import record_outputs

__all__ = ["job"]


@contextlib.contextmanager
def job(smk, script, *, record=True, limit_threads=False):
    """Run a rule script's body as a Snakemake job.

    On entry, the script's stderr goes to the job's log (``smk.log[0]``,
    line-buffered, so a killed job keeps what it printed); with
    ``limit_threads`` the BLAS and OpenMP pools hold the rule's ``threads``
    (a job must not take the cores of the jobs beside it). On a normal exit,
    the provenance record of the job's outputs is written
    (:func:`scattermorph.provenance.records.record_outputs`); an exception
    propagates, its traceback goes to the log and nothing is recorded.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object Snakemake gives the script.
    script : str or Path
        The script's ``__file__`` (recorded with the outputs).
    record : bool or list of str
        True: record every output; a list of output names (``smk.output.<name>``):
        those outputs only; False: none
        (figure scripts record their figures through
        :func:`scattermorph.plots.save.save_job_figure`).
    limit_threads : bool
        Hold the numerical libraries' thread pools to ``smk.threads``.

    Yields
    ------
    snakemake.script.Snakemake
        ``smk`` itself, as ``sm`` in the scripts.
    """
    if smk.log:
        sys.stderr = open(smk.log[0], "w", buffering=1)  # open for the job's lifetime
    limits = threadpool_limits(smk.threads) if limit_threads else contextlib.nullcontext()
    with limits:
        yield smk
    if record:
        record_outputs(smk, script, None if record is True else [getattr(smk.output, name) for name in record])
