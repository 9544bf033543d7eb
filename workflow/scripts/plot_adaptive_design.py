"""Rule plot_adaptive_design: error vs number of runs, adaptive vs random."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots.gp import plot_adaptive_design  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

fig = plot_adaptive_design(
    pd.read_csv(snakemake.input.curve),  # noqa: F821
    pd.read_csv(snakemake.input.added),  # noqa: F821
    pd.read_csv(snakemake.input.runs),  # noqa: F821
    n_initial=snakemake.params.n_initial,  # noqa: F821
)
save_job_figure(fig, snakemake, __file__)  # noqa: F821
