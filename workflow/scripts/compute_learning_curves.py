"""Rule compute_learning_curves: test error vs the number of training simulations."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning

    st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                       selection_path=sm.input.selection)
    lc = learning["learning_curve"]
    curves = ev.learning_curve(st["table"], st["features"], st["train"], st["test"],
                               selection=st["selection"], ndim=st["ndim"], sizes=lc["sizes"],
                               repeats=lc["repeats"], restarts=learning["restarts"],
                               seed=ev.stage_seed(sm.params.seed, 3))
    atomic_write(sm.output.curves, lambda tmp: curves.to_csv(tmp, index=False))
    print(curves.groupby(["functional", "n_sims"])["r2"].mean().to_string(), file=sys.stderr)
