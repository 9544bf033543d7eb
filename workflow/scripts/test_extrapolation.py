"""Rule test_extrapolation: train on one side of phi0 (and of the quench
depth), predict both sides; the predictive std should rise outside."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning

    st = ev.load_stage(sm.input.table, sm.input.curves, learning, selection_path=sm.input.selection)
    parts = []
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
