"""Rule plot_inference_identifiability: posterior mean against the truth (the inverse problem's parity plot)."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots.inference import plot_identifiability
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = plot_identifiability(
        pd.read_csv(sm.input.calibration),
        pd.read_csv(sm.input.identifiability),
    )
    save_job_figure(fig, sm, __file__)
