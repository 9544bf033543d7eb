"""Rule make_reference_structures: structures with analytically known answers."""

import sys

import numpy as np
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.measure.reference import reference_structures


def write_arrays(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


with job(snakemake, __file__) as sm:
    arrays, expected = reference_structures(
        sm.params.reference,
        sm.params.seed,
        sm.params.dimension,
    )

    atomic_write(sm.output.structures, write_arrays)
    atomic_write(sm.output.expected, lambda tmp: expected.to_csv(tmp, index=False))
    print(expected.to_string(), file=sys.stderr)
