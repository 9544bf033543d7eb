"""Rule plot_robustness: held-out accuracy on curves through an instrument."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = pl.plot_robustness(pd.read_csv(sm.input.metrics))
    save_job_figure(fig, sm, __file__)
