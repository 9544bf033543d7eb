"""Rule plot_ch1d_emulator: full 1D Cahn-Hilliard solution vs its GP emulation."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np

from scattermorph.plots.gp import plot_ch1d_emulator
from scattermorph.plots.save import save_job_figure

fig = plot_ch1d_emulator(dict(np.load(snakemake.input.arrays)))
save_job_figure(fig, snakemake, __file__)
