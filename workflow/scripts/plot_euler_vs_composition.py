"""Rule plot_euler_vs_composition: connectivity against mean composition."""

import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.plots.morphology import plot_euler_vs_composition
from scattermorph.plots.save import save_job_figure

table = pd.read_csv(snakemake.input.table)
fig = plot_euler_vs_composition(table, ndim=int(table["dimension"].iloc[0]))
save_job_figure(fig, snakemake, __file__)
