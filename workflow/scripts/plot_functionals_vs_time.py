"""Rule plot_functionals_vs_time: Minkowski densities and L against time."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.morphology import plot_functionals_vs_time
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = plot_functionals_vs_time(table, ndim=int(table["dimension"].iloc[0]))
    save_job_figure(fig, sm, __file__)
