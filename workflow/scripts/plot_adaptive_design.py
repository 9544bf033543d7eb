"""Rule plot_adaptive_design: error vs number of runs, adaptive vs random."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots.gp import plot_adaptive_design
from scattermorph.plots.save import save_job_figure

fig = plot_adaptive_design(
    pd.read_csv(snakemake.input.curve),
    pd.read_csv(snakemake.input.added),
    pd.read_csv(snakemake.input.runs),
    n_initial=snakemake.params.n_initial,
)
save_job_figure(fig, snakemake, __file__)
