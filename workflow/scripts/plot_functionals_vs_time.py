"""Rule plot_functionals_vs_time: Minkowski densities and L against time."""

import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.plots.morphology import plot_functionals_vs_time
from scattermorph.plots.save import save_job_figure

table = pd.read_csv(snakemake.input.table)
fig = plot_functionals_vs_time(table, ndim=int(table["dimension"].iloc[0]))
save_job_figure(fig, snakemake, __file__)
