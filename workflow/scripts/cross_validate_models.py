"""Rule cross_validate_models: grouped CV of one (input, model) pair on the
training simulations, every functional."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from scattermorph.learn import protocols as ev  # noqa: E402
from scattermorph.measure.snapshots import load_dataset  # noqa: E402
from scattermorph.functionals import FUNCTIONALS
from scattermorph._io import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
learning = sm.params.learning
kind, model = sm.wildcards.features, sm.wildcards.model
table, arrays = load_dataset(sm.input.table, sm.input.curves)
ndim = int(table["dimension"].iloc[0])
features, train, _ = ev.prepare(table, arrays, pd.read_csv(sm.input.split), learning, ndim, kinds=[kind])
X, q1 = features[kind]
seed = ev.stage_seed(sm.params.seed, 1, ev.FEATURE_KINDS.index(kind), ev.MODELS.index(model))
with threadpool_limits(sm.threads):
    metrics, preds = ev.cross_validate(
        table[train], X[train], None if q1 is None else q1[train], model=model,
        functionals=FUNCTIONALS[ndim], ndim=ndim, n_splits=learning["cv_folds"],
        restarts=learning["restarts"], seed=seed)
atomic_write(sm.output.metrics, lambda tmp: metrics.assign(features=kind, model=model).to_csv(tmp, index=False))
atomic_write(sm.output.predictions, lambda tmp: preds.assign(features=kind, model=model).to_csv(tmp, index=False))
print(metrics.groupby("functional")[["r2", "fit_seconds"]].mean().to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
