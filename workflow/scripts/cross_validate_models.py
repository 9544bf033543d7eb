"""Rule cross_validate_models: grouped CV of one (input, model) pair on the
training simulations, every functional."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn import protocols as ev
from scattermorph.measure.snapshots import load_dataset

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning
    kind, model = sm.wildcards.features, sm.wildcards.model
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    ndim = int(table["dimension"].iloc[0])
    features, train, _ = ev.prepare(table, arrays, pd.read_csv(sm.input.split), learning, ndim, kinds=[kind])
    X, q1 = features[kind]
    seed = ev.stage_seed(sm.params.seed, 1, ev.FEATURE_KINDS.index(kind), ev.MODELS.index(model))
    metrics, preds = ev.cross_validate(
        table[train], X[train], None if q1 is None else q1[train], model=model,
        functionals=FUNCTIONALS[ndim], ndim=ndim, n_splits=learning["cv_folds"],
        restarts=learning["restarts"], seed=seed)
    atomic_write(sm.output.metrics, lambda tmp: metrics.assign(features=kind, model=model).to_csv(tmp, index=False))
    atomic_write(sm.output.predictions, lambda tmp: preds.assign(features=kind, model=model).to_csv(tmp, index=False))
    print(metrics.groupby("functional")[["r2", "fit_seconds"]].mean().to_string(), file=sys.stderr)
