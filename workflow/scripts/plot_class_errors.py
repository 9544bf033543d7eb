"""Rule plot_class_errors: figure from the decomposition table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots.save import save_job_figure  # noqa: E402
from scattermorph.plots.classification import plot_class_errors  # noqa: E402

table = pd.read_csv(snakemake.input.table)  # noqa: F821
fig = plot_class_errors(table, features=snakemake.params.features)  # noqa: F821
save_job_figure(fig, snakemake, __file__)  # noqa: F821
