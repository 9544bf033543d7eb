"""Rule plot_emulator_response: emulated outputs over (phi0, quench)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402

from scattermorph.plots.gp import plot_emulator_response  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

fig = plot_emulator_response(dict(np.load(snakemake.input.surface)))  # noqa: F821
save_job_figure(fig, snakemake, __file__)  # noqa: F821
