"""Rule plot_error_vs_euler: error of the Euler characteristic density against its true value."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots import learning as pl  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

sm = snakemake  # noqa: F821
fig = pl.plot_error_vs_euler(pd.read_csv(sm.input.predictions))
save_job_figure(fig, sm, __file__)
