"""Rule plot_gp_few_points: figure from the tutorial arrays."""

import numpy as np
from _bootstrap import job

from scattermorph.plots.gp import plot_few_points
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    arrays = dict(np.load(sm.input.arrays))
    fig = plot_few_points(arrays)
    save_job_figure(fig, sm, __file__)
