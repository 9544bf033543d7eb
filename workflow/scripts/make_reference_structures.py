"""Rule make_reference_structures: structures with analytically known answers."""

import sys

import numpy as np

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph._io import atomic_write  # noqa: E402
from scattermorph.measure.reference import reference_structures  # noqa: E402

arrays, expected = reference_structures(
    snakemake.params.reference,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    snakemake.params.dimension,  # noqa: F821
)


def write_arrays(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


atomic_write(snakemake.output.structures, write_arrays)  # noqa: F821
atomic_write(snakemake.output.expected, lambda tmp: expected.to_csv(tmp, index=False))  # noqa: F821
print(expected.to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
