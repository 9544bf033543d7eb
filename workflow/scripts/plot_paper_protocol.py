"""Rule plot_paper_protocol: Jones & Clarke's random within-series splits."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

sm = snakemake
fig = pl.plot_paper_protocol(pd.read_csv(sm.input.splits))
save_job_figure(fig, sm, __file__)
