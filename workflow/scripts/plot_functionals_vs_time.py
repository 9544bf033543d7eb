"""Rule plot_functionals_vs_time: Minkowski densities and L against time."""

import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.plots.morphology import plot_functionals_vs_time  # noqa: E402
from scattermorph.plots.save import save_job_figure

table = pd.read_csv(snakemake.input.table)  # noqa: F821
fig = plot_functionals_vs_time(table, ndim=int(table["dimension"].iloc[0]))
save_job_figure(fig, snakemake, __file__)  # noqa: F821
