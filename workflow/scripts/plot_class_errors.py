"""Rule plot_class_errors: figure from the decomposition table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots.classification import plot_class_errors
from scattermorph.plots.save import save_job_figure

table = pd.read_csv(snakemake.input.table)
fig = plot_class_errors(table, features=snakemake.params.features)
save_job_figure(fig, snakemake, __file__)
