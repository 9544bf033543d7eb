"""Rule plot_emulator_validation: emulated vs simulated held-out outputs."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.gp import plot_emulator_validation
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_emulator_validation(
        pd.read_csv(sm.input.predictions),
        pd.read_csv(sm.input.metrics),
        pd.read_csv(sm.input.speedup),
    )
    save_job_figure(fig, sm, __file__)
