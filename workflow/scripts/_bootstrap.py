"""Make this checkout's scattermorph library importable from rule scripts,
and hand them :func:`scattermorph.provenance.job.job`.

bin/study installs the library in editable mode, so the path is already there.
Under `--sdm conda` the job's environment has only the third-party packages;
Snakemake puts this scripts folder on sys.path, and importing this module adds
the checkout's workflow/ folder, so every job runs exactly this checkout's code.
"""

import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parents[1])
if LIB not in sys.path:
    sys.path.insert(0, LIB)

# the library is importable only from here on
from scattermorph.provenance.job import job

__all__ = ["job"]
