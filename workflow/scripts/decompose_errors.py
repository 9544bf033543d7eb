"""Rule decompose_errors: bias-variance decompositions (Domingos; Kohavi &
Wolpert; Brier) and class-conditional errors of every model, view kind,
feature set and fraction, and of the complexity sweep."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.classify.jobs import decompose_predictions

with job(snakemake, __file__) as sm:
    p = sm.params
    table = decompose_predictions(sm.input.predictions, confidence=p.confidence)
    sweep = decompose_predictions(sm.input.sweep, confidence=p.confidence)
    atomic_write(sm.output.table, lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(sm.output.complexity, lambda tmp: sweep.to_csv(tmp, index=False))
    print(f"{len(table)} rows, {len(sweep)} complexity rows", file=sys.stderr)
