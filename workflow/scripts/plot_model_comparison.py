"""Rule plot_model_comparison: the input x model x functional comparison (heat map and HTML table)."""

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=["table"]) as sm:
    comparison = pd.read_csv(sm.input.comparison)
    page = pl.comparison_html(comparison, pd.read_csv(sm.input.selection))
    atomic_write(sm.output.table, lambda tmp: open(tmp, "w").write(page))
    fig = pl.plot_model_comparison(comparison)
    save_job_figure(fig, sm, __file__)
