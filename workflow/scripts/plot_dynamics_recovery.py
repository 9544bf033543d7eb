"""Rule plot_dynamics_recovery: coefficient errors and the blend's recovered mu(phi)."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.dynamics import plot_dynamics_recovery
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_dynamics_recovery(pd.read_csv(sm.input.summary), pd.read_csv(sm.input.curves))
    save_job_figure(fig, sm, __file__)
