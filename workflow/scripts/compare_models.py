"""Rule compare_models: the input x model x functional table from the
cross-validation, and the model chosen per functional."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn.protocols import select_models, summarise_cv

with job(snakemake, __file__) as sm:
    metrics = pd.concat([pd.read_csv(p) for p in sm.input.metrics], ignore_index=True)
    preds = pd.concat([pd.read_csv(p) for p in sm.input.predictions], ignore_index=True)
    summary = summarise_cv(metrics, preds)
    functionals = list(dict.fromkeys(metrics["functional"]))
    selection = select_models(summary, functionals, criterion=sm.params.learning["selection"])
    atomic_write(sm.output.comparison, lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write(sm.output.selection, lambda tmp: selection.to_csv(tmp, index=False))
    print(selection.to_string(), file=sys.stderr)
