"""Rule plot_emulator_response: emulated outputs over (phi0, quench)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np

from scattermorph.plots.gp import plot_emulator_response
from scattermorph.plots.save import save_job_figure

fig = plot_emulator_response(dict(np.load(snakemake.input.surface)))
save_job_figure(fig, snakemake, __file__)
