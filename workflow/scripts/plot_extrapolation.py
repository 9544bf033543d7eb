"""Rule plot_extrapolation: predictive std and error inside vs outside the training domain."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = pl.plot_extrapolation(pd.read_csv(sm.input.predictions))
    save_job_figure(fig, sm, __file__)
