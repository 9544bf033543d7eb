"""Rule plot_euler_vs_composition: connectivity against mean composition."""

import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.plots.morphology import plot_euler_vs_composition  # noqa: E402
from scattermorph.plots.save import save_job_figure

table = pd.read_csv(snakemake.input.table)  # noqa: F821
fig = plot_euler_vs_composition(table, ndim=int(table["dimension"].iloc[0]))
save_job_figure(fig, snakemake, __file__)  # noqa: F821
