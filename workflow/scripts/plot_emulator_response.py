"""Rule plot_emulator_response: emulated outputs over (phi0, quench)."""

import numpy as np
from _bootstrap import job

from scattermorph.plots.gp import plot_emulator_response
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_emulator_response(dict(np.load(sm.input.surface)))
    save_job_figure(fig, sm, __file__)
