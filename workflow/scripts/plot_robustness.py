"""Rule plot_robustness: held-out accuracy on curves through an instrument."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots import learning as pl  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

sm = snakemake  # noqa: F821
fig = pl.plot_robustness(pd.read_csv(sm.input.metrics))
save_job_figure(fig, sm, __file__)
