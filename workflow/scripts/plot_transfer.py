"""Rule plot_transfer: predicted against true densities, per test set."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.save import save_job_figure
from scattermorph.plots.transfer import plot_transfer

with job(snakemake, __file__, record=False) as sm:
    save_job_figure(plot_transfer(pd.read_csv(sm.input.predictions)), sm, __file__)
