"""Rule plot_gp_posterior: figure from the tutorial arrays."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np

from scattermorph.plots.gp import plot_posterior
from scattermorph.plots.save import save_job_figure

arrays = dict(np.load(snakemake.input.arrays))
fig = plot_posterior(arrays)
save_job_figure(fig, snakemake, __file__)
