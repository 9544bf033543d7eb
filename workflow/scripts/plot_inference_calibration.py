"""Rule plot_inference_calibration: SBC rank histograms and interval coverage of the held-out posteriors."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots.inference import plot_calibration
from scattermorph.plots.save import save_job_figure

fig = plot_calibration(
    pd.read_csv(snakemake.input.calibration),
    pd.read_csv(snakemake.input.identifiability),
)
save_job_figure(fig, snakemake, __file__)
