"""Rule plot_inference_example: corner plot and posterior-predictive curve of the example snapshot."""

from _bootstrap import job

from scattermorph.infer.stage import read_example
from scattermorph.plots.inference import plot_example
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    doc, grid = read_example(sm.input.example, sm.input.grid)
    save_job_figure(plot_example(doc, grid), sm, __file__)
