"""Rule plot_complexity_tradeoff: figure from the decomposition table."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.classification import plot_complexity_tradeoff
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = plot_complexity_tradeoff(table)
    save_job_figure(fig, sm, __file__)
