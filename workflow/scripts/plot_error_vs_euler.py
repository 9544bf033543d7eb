"""Rule plot_error_vs_euler: error of the Euler characteristic density against its true value."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

sm = snakemake
fig = pl.plot_error_vs_euler(pd.read_csv(sm.input.predictions))
save_job_figure(fig, sm, __file__)
