"""Rule plot_euler_vs_composition: connectivity against mean composition."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.morphology import plot_euler_vs_composition
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    fig = plot_euler_vs_composition(table, ndim=int(table["dimension"].iloc[0]))
    save_job_figure(fig, sm, __file__)
