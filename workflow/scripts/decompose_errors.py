"""Rule decompose_errors: bias-variance decompositions (Domingos; Kohavi &
Wolpert; Brier) and class-conditional errors of every model, view kind,
feature set and fraction, and of the complexity sweep."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.classify.classifiers import decompose_predictions  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

p = snakemake.params  # noqa: F821
table = decompose_predictions(snakemake.input.predictions, confidence=p.confidence)  # noqa: F821
sweep = decompose_predictions(snakemake.input.sweep, confidence=p.confidence)  # noqa: F821
atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))  # noqa: F821
atomic_write(snakemake.output.complexity, lambda tmp: sweep.to_csv(tmp, index=False))  # noqa: F821
print(f"{len(table)} rows, {len(sweep)} complexity rows", file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
