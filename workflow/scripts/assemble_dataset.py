"""Rule assemble_dataset: the study's dataset, the single input of the ML rules."""

import sys

import numpy as np
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.measure.snapshots import add_instrument, assemble_dataset


def write_curves(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


with job(snakemake, __file__) as sm:
    table, arrays, dropped = assemble_dataset(
        sm.input.measurements, max_length_fraction=sm.params.max_length_fraction
    )
    arrays = add_instrument(arrays, sm.params.instrument, seed=sm.params.seed)

    atomic_write(sm.output.table, lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(sm.output.curves, write_curves)
    atomic_write(sm.output.dropped, lambda tmp: dropped.to_csv(tmp, index=False))
    print(f"{len(table)} snapshots x {arrays['q'].size} q bins; {len(dropped)} dropped "
          f"(L_first_moment > {sm.params.max_length_fraction} x box)", file=sys.stderr)
