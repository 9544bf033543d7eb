"""Rule plot_parity: predicted vs true functionals on the held-out simulations."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

sm = snakemake
table = pd.read_csv(sm.input.table)
fig = pl.plot_parity(pd.read_csv(sm.input.predictions), pd.read_csv(sm.input.metrics),
                     table.set_index("row")["phi0"])
save_job_figure(fig, sm, __file__)
