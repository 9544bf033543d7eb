"""Rule split_dataset: assign whole simulations to the training or the test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.learn.protocols import split_by_simulation, stage_seed

table = pd.read_csv(snakemake.input.table)
split = split_by_simulation(table, snakemake.params.test_fraction, stage_seed(snakemake.params.seed, 0))
atomic_write(snakemake.output.split, lambda tmp: split.to_csv(tmp, index=False))
print(split["subset"].value_counts().to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
