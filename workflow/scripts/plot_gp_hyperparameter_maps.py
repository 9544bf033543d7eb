"""Rule plot_gp_hyperparameter_maps: LOOCV / likelihood maps with their optima."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scattermorph.plots.gp import plot_hyperparameter_maps  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

maps = dict(np.load(snakemake.input.maps))  # noqa: F821
optima = pd.read_csv(snakemake.input.optima)  # noqa: F821
fig = plot_hyperparameter_maps(maps, optima)
save_job_figure(fig, snakemake, __file__)  # noqa: F821
