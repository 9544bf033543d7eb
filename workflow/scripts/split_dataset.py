"""Rule split_dataset: assign whole simulations to the training or the test set."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn.protocols import split_by_simulation, stage_seed

with job(snakemake, __file__) as sm:
    table = pd.read_csv(sm.input.table)
    split = split_by_simulation(table, sm.params.test_fraction, stage_seed(sm.params.seed, 0))
    atomic_write(sm.output.split, lambda tmp: split.to_csv(tmp, index=False))
    print(split["subset"].value_counts().to_string(), file=sys.stderr)
