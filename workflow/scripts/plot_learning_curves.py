"""Rule plot_learning_curves: held-out R^2 vs the number of training simulations."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = pl.plot_learning_curves(pd.read_csv(sm.input.curves))
    save_job_figure(fig, sm, __file__)
