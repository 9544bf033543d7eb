"""Rule plot_inference_identifiability: posterior mean against the truth (the inverse problem's parity plot)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots.inference import plot_identifiability
from scattermorph.plots.save import save_job_figure

fig = plot_identifiability(
    pd.read_csv(snakemake.input.calibration),
    pd.read_csv(snakemake.input.identifiability),
)
save_job_figure(fig, snakemake, __file__)
