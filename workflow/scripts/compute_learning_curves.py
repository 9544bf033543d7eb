"""Rule compute_learning_curves: test error vs the number of training simulations."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from scattermorph import evaluation as ev  # noqa: E402
from scattermorph.measure import load_dataset  # noqa: E402
from scattermorph.simulate import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
learning = sm.params.learning
table, arrays = load_dataset(sm.input.table, sm.input.curves)
ndim = int(table["dimension"].iloc[0])
selection = pd.read_csv(sm.input.selection)
features, train, test = ev.prepare(table, arrays, pd.read_csv(sm.input.split), learning, ndim,
                                   kinds=sorted(set(selection["features"])))
lc = learning["learning_curve"]
with threadpool_limits(sm.threads):
    curves = ev.learning_curve(table, features, train, test, selection=selection, ndim=ndim,
                               sizes=lc["sizes"], repeats=lc["repeats"], restarts=learning["restarts"],
                               seed=ev.stage_seed(sm.params.seed, 3))
atomic_write(sm.output.curves, lambda tmp: curves.to_csv(tmp, index=False))
print(curves.groupby(["functional", "n_sims"])["r2"].mean().to_string(), file=sys.stderr)

from scattermorph.provenance import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
