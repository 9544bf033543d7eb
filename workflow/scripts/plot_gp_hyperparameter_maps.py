"""Rule plot_gp_hyperparameter_maps: LOOCV / likelihood maps with their optima."""

import numpy as np
import pandas as pd
from _bootstrap import job

from scattermorph.plots.gp import plot_hyperparameter_maps
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    maps = dict(np.load(sm.input.maps))
    optima = pd.read_csv(sm.input.optima)
    fig = plot_hyperparameter_maps(maps, optima)
    save_job_figure(fig, sm, __file__)
