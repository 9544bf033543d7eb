"""Rule assemble_dataset: the study's dataset, the single input of the ML rules."""

import sys

import numpy as np

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph._io import atomic_write
from scattermorph.measure.snapshots import add_instrument, assemble_dataset

table, arrays, dropped = assemble_dataset(
    snakemake.input.measurements, max_length_fraction=snakemake.params.max_length_fraction
)
arrays = add_instrument(arrays, snakemake.params.instrument, seed=snakemake.params.seed)


def write_curves(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))
atomic_write(snakemake.output.curves, write_curves)
atomic_write(snakemake.output.dropped, lambda tmp: dropped.to_csv(tmp, index=False))
print(f"{len(table)} snapshots x {arrays['q'].size} q bins; {len(dropped)} dropped "
      f"(L_first_moment > {snakemake.params.max_length_fraction} x box)", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
