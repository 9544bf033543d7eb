"""Rule plot_gp_hyperparameter_maps: LOOCV / likelihood maps with their optima."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np
import pandas as pd

from scattermorph.plots.gp import plot_hyperparameter_maps
from scattermorph.plots.save import save_job_figure

maps = dict(np.load(snakemake.input.maps))
optima = pd.read_csv(snakemake.input.optima)
fig = plot_hyperparameter_maps(maps, optima)
save_job_figure(fig, snakemake, __file__)
