"""Rule plot_gp_posterior: figure from the tutorial arrays."""

import numpy as np
from _bootstrap import job

from scattermorph.plots.gp import plot_posterior
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    arrays = dict(np.load(sm.input.arrays))
    fig = plot_posterior(arrays)
    save_job_figure(fig, sm, __file__)
