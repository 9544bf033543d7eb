"""Rule summarise_dataset: the study dataset's numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.measure.summary import dataset_summary

sm = snakemake
page = dataset_summary(simulations=pd.read_csv(sm.input.simulations), dataset=pd.read_csv(sm.input.dataset),
                       dropped=pd.read_csv(sm.input.dropped),
                       sources={"simulations": sm.input.simulations, "dataset": sm.input.dataset,
                                "dropped": sm.input.dropped})
atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
print(page, file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
