"""Rule plot_ch1d_emulator: full 1D Cahn-Hilliard solution vs its GP emulation."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402

from scattermorph.plots.gp import plot_ch1d_emulator  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

fig = plot_ch1d_emulator(dict(np.load(snakemake.input.arrays)))  # noqa: F821
save_job_figure(fig, snakemake, __file__)  # noqa: F821
