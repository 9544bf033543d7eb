"""Rule plot_ch1d_emulator: full 1D Cahn-Hilliard solution vs its GP emulation."""

import numpy as np
from _bootstrap import job

from scattermorph.plots.gp import plot_ch1d_emulator
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_ch1d_emulator(dict(np.load(sm.input.arrays)))
    save_job_figure(fig, sm, __file__)
