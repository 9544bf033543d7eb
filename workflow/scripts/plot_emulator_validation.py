"""Rule plot_emulator_validation: emulated vs simulated held-out outputs."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots.gp import plot_emulator_validation
from scattermorph.plots.save import save_job_figure

fig = plot_emulator_validation(
    pd.read_csv(snakemake.input.predictions),
    pd.read_csv(snakemake.input.metrics),
    pd.read_csv(snakemake.input.speedup),
)
save_job_figure(fig, snakemake, __file__)
