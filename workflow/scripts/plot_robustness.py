"""Rule plot_robustness: held-out accuracy on curves through an instrument."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

sm = snakemake
fig = pl.plot_robustness(pd.read_csv(sm.input.metrics))
save_job_figure(fig, sm, __file__)
