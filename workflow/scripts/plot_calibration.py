"""Rule plot_calibration: coverage of the GP intervals, test and cross-validation,
before and after sigma scaling."""

import pandas as pd
from _bootstrap import job

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    selection = pd.read_csv(sm.input.selection)
    chosen = set(zip(selection["functional"], selection["features"], selection["model"]))
    cv = pd.concat([pd.read_csv(p) for p in sm.input.cv], ignore_index=True)
    cv = cv[[k in chosen for k in zip(cv["functional"], cv["features"], cv["model"])]]
    targets = {k: tuple(v) for k, v in sm.params.targets.items() if k.startswith("coverage")}
    fig = pl.plot_calibration(pd.read_csv(sm.input.predictions), cv, targets)
    save_job_figure(fig, sm, __file__)
