"""Rule split_dataset: assign whole simulations to the training or the test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.learn.protocols import split_by_simulation, stage_seed  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

table = pd.read_csv(snakemake.input.table)  # noqa: F821
split = split_by_simulation(table, snakemake.params.test_fraction, stage_seed(snakemake.params.seed, 0))  # noqa: F821
atomic_write(snakemake.output.split, lambda tmp: split.to_csv(tmp, index=False))  # noqa: F821
print(split["subset"].value_counts().to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
