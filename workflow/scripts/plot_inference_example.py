"""Rule plot_inference_example: corner plot and posterior-predictive curve of the example snapshot."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.infer.stage import read_example
from scattermorph.plots.inference import plot_example
from scattermorph.plots.save import save_job_figure

doc, grid = read_example(snakemake.input.example, snakemake.input.grid)
save_job_figure(plot_example(doc, grid), snakemake, __file__)
