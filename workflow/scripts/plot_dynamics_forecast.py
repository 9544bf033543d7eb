"""Rule plot_dynamics_forecast: forecast errors against time."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.dynamics import plot_dynamics_forecast
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    save_job_figure(plot_dynamics_forecast(pd.read_csv(sm.input.forecast)), sm, __file__)
