"""Rule compute_learning_curves: test error vs the number of training simulations."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from threadpoolctl import threadpool_limits  # noqa: E402

from scattermorph.learn import protocols as ev  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
learning = sm.params.learning

st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                   selection_path=sm.input.selection)
lc = learning["learning_curve"]
with threadpool_limits(sm.threads):
    curves = ev.learning_curve(st["table"], st["features"], st["train"], st["test"],
                               selection=st["selection"], ndim=st["ndim"], sizes=lc["sizes"],
                               repeats=lc["repeats"], restarts=learning["restarts"],
                               seed=ev.stage_seed(sm.params.seed, 3))
atomic_write(sm.output.curves, lambda tmp: curves.to_csv(tmp, index=False))
print(curves.groupby(["functional", "n_sims"])["r2"].mean().to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
