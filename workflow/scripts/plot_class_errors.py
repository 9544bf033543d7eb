"""Rule plot_class_errors: figure from the decomposition table."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.classification import plot_class_errors
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = plot_class_errors(table, features=sm.params.features)
    save_job_figure(fig, sm, __file__)
