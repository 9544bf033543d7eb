"""Rule decompose_errors: bias-variance decompositions (Domingos; Kohavi &
Wolpert; Brier) and class-conditional errors of every model, view kind,
feature set and fraction, and of the complexity sweep."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph._io import atomic_write
from scattermorph.classify.classifiers import decompose_predictions

p = snakemake.params
table = decompose_predictions(snakemake.input.predictions, confidence=p.confidence)
sweep = decompose_predictions(snakemake.input.sweep, confidence=p.confidence)
atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))
atomic_write(snakemake.output.complexity, lambda tmp: sweep.to_csv(tmp, index=False))
print(f"{len(table)} rows, {len(sweep)} complexity rows", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
