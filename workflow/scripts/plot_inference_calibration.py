"""Rule plot_inference_calibration: SBC rank histograms and interval coverage of the held-out posteriors."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.inference import plot_calibration
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_calibration(
        pd.read_csv(sm.input.calibration),
        pd.read_csv(sm.input.identifiability),
    )
    save_job_figure(fig, sm, __file__)
