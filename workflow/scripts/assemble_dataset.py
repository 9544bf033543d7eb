"""Rule assemble_dataset: the study's dataset, the single input of the ML rules."""

import sys

import numpy as np

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.measure.snapshots import add_instrument, assemble_dataset  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

table, arrays, dropped = assemble_dataset(
    snakemake.input.measurements, max_length_fraction=snakemake.params.max_length_fraction  # noqa: F821
)
arrays = add_instrument(arrays, snakemake.params.instrument, seed=snakemake.params.seed)  # noqa: F821


def write_curves(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))  # noqa: F821
atomic_write(snakemake.output.curves, write_curves)  # noqa: F821
atomic_write(snakemake.output.dropped, lambda tmp: dropped.to_csv(tmp, index=False))  # noqa: F821
print(f"{len(table)} snapshots x {arrays['q'].size} q bins; {len(dropped)} dropped "
      f"(L_first_moment > {snakemake.params.max_length_fraction} x box)", file=sys.stderr)  # noqa: F821

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
