"""Rule make_reference_structures: structures with analytically known answers."""

import sys

import numpy as np

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph._io import atomic_write
from scattermorph.measure.reference import reference_structures

arrays, expected = reference_structures(
    snakemake.params.reference,
    snakemake.params.seed,
    snakemake.params.dimension,
)


def write_arrays(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


atomic_write(snakemake.output.structures, write_arrays)
atomic_write(snakemake.output.expected, lambda tmp: expected.to_csv(tmp, index=False))
print(expected.to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
