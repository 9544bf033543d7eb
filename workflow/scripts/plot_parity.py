"""Rule plot_parity: predicted vs true functionals on the held-out simulations."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = pl.plot_parity(pd.read_csv(sm.input.predictions), pd.read_csv(sm.input.metrics),
                         table.set_index("row")["phi0"])
    save_job_figure(fig, sm, __file__)
