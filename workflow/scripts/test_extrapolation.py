"""Rule test_extrapolation: train on one side of phi0 (and of the quench
depth), predict both sides; the predictive std should rise outside."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
from threadpoolctl import threadpool_limits

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

sm = snakemake
learning = sm.params.learning

import pandas as pd

st = ev.load_stage(sm.input.table, sm.input.curves, learning, selection_path=sm.input.selection)
parts = []
with threadpool_limits(sm.threads):
    for key, column in [("phi0_split", "phi0"), ("quench_split", "quench")]:
        split = learning["extrapolation"][key]
        if split is None:
            continue
        res = ev.extrapolation(st["table"], st["features"], selection=st["selection"], ndim=st["ndim"],
                               column=column, split=split, restarts=learning["restarts"],
                               seed=ev.stage_seed(sm.params.seed, 4))
        parts.append(res.rename(columns={column: "value"}).assign(parameter=column, split=split))
out = pd.concat(parts, ignore_index=True)
atomic_write(sm.output.predictions, lambda tmp: out.to_csv(tmp, index=False))
print(out.groupby(["parameter", "functional", "domain"])["y_std"].median().to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
