"""Rule plot_adaptive_design: error vs number of runs, adaptive vs random."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.gp import plot_adaptive_design
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_adaptive_design(
        pd.read_csv(sm.input.curve),
        pd.read_csv(sm.input.added),
        pd.read_csv(sm.input.runs),
        n_initial=sm.params.n_initial,
    )
    save_job_figure(fig, sm, __file__)
