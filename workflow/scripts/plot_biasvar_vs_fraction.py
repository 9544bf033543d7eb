"""Rule plot_biasvar_vs_fraction: figure from the decomposition table."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.classification import plot_biasvar_vs_fraction
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = plot_biasvar_vs_fraction(table)
    save_job_figure(fig, sm, __file__)
