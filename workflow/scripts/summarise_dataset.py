"""Rule summarise_dataset: the study dataset's numbers as Markdown."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.measure.summary import dataset_summary

with job(snakemake, __file__) as sm:
    page = dataset_summary(simulations=pd.read_csv(sm.input.simulations), dataset=pd.read_csv(sm.input.dataset),
                           dropped=pd.read_csv(sm.input.dropped),
                           sources={"simulations": sm.input.simulations, "dataset": sm.input.dataset,
                                    "dropped": sm.input.dropped})
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
