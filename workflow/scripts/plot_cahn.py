"""Rule plot_cahn: the early S(q, t) and its Cahn plot."""

import numpy as np
from _bootstrap import job

from scattermorph.plots.dynamics import plot_cahn
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    with np.load(sm.input.series, allow_pickle=False) as z:
        series = {k: z[k] for k in z.files}
    save_job_figure(plot_cahn(series), sm, __file__)
