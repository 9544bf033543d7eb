"""Rule plot_inference_example: corner plot and posterior-predictive curve of the example snapshot."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.infer.stage import read_example  # noqa: E402
from scattermorph.plots.inference import plot_example  # noqa: E402
from scattermorph.plots.save import save_job_figure  # noqa: E402

doc, grid = read_example(snakemake.input.example, snakemake.input.grid)  # noqa: F821
save_job_figure(plot_example(doc, grid), snakemake, __file__)  # noqa: F821
