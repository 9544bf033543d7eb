"""Rule plot_gp_few_points: figure from the tutorial arrays."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402

from scattermorph.plots.gp import plot_few_points  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

arrays = dict(np.load(snakemake.input.arrays))  # noqa: F821
fig = plot_few_points(arrays)
save_job_figure(fig, snakemake, __file__)  # noqa: F821
