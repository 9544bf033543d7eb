"""Rule test_selected_models: the chosen models on the held-out simulations,
the physics estimators beside them, and the study's targets."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from threadpoolctl import threadpool_limits  # noqa: E402

from scattermorph import evaluation as ev  # noqa: E402
from scattermorph.simulate import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
learning = sm.params.learning

import pandas as pd  # noqa: E402

from scattermorph.learn import regression_metrics  # noqa: E402

st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                   selection_path=sm.input.selection)
table, ndim, test = st["table"], st["ndim"], st["test"]
with threadpool_limits(sm.threads):
    preds, metrics = ev.holdout_test(table, st["features"], st["train"], test, selection=st["selection"],
                                     ndim=ndim, restarts=learning["restarts"],
                                     seed=ev.stage_seed(sm.params.seed, 2))
# the physics estimators need no training: scored on the same test rows
physics = [{"functional": f, "features": "none", "model": "physics",
            **regression_metrics(table.loc[test, f], est[test])}
           for f, est in ev.physics_estimates(table, ndim).items()]
metrics = pd.concat([metrics, pd.DataFrame(physics)], ignore_index=True)
targets = ev.check_targets(metrics[metrics["model"] != "physics"], learning["targets"])
atomic_write(sm.output.predictions, lambda tmp: preds.to_csv(tmp, index=False))
atomic_write(sm.output.metrics, lambda tmp: metrics.to_csv(tmp, index=False))
atomic_write(sm.output.targets, lambda tmp: targets.to_csv(tmp, index=False))
print(targets.to_string(), file=sys.stderr)

from scattermorph.provenance import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
