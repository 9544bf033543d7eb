"""Rule plot_inference_calibration: SBC rank histograms and interval coverage of the held-out posteriors."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots.inference import plot_calibration  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

fig = plot_calibration(
    pd.read_csv(snakemake.input.calibration),  # noqa: F821
    pd.read_csv(snakemake.input.identifiability),  # noqa: F821
)
save_job_figure(fig, snakemake, __file__)  # noqa: F821
