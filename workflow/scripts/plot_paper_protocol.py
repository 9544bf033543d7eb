"""Rule plot_paper_protocol: Jones & Clarke's random within-series splits."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    fig = pl.plot_paper_protocol(pd.read_csv(sm.input.splits))
    save_job_figure(fig, sm, __file__)
