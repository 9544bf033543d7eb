"""Rule compute_learning_curves: test error vs the number of training simulations."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
from threadpoolctl import threadpool_limits

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

sm = snakemake
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

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
