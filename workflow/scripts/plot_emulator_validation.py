"""Rule plot_emulator_validation: emulated vs simulated held-out outputs."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.plots.gp import plot_emulator_validation  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

fig = plot_emulator_validation(
    pd.read_csv(snakemake.input.predictions),  # noqa: F821
    pd.read_csv(snakemake.input.metrics),  # noqa: F821
    pd.read_csv(snakemake.input.speedup),  # noqa: F821
)
save_job_figure(fig, snakemake, __file__)  # noqa: F821
