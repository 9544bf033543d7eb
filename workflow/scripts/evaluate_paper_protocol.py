"""Rule evaluate_paper_protocol: Jones & Clarke's random splits within one
time series, with the paper's input (log10 S) and four kernels."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn import protocols as ev
from scattermorph.learn.estimators import GP_KERNELS
from scattermorph.measure.snapshots import load_dataset

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning
    paper = learning["paper"]
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    ndim = int(table["dimension"].iloc[0])
    X, q1 = ev.build_features("log_sq", table, arrays, ndim)
    series = ev.paper_series(table, paper["n_series"])
    out = ev.paper_protocol(table, X, q1, functionals=FUNCTIONALS[ndim], ndim=ndim, kernels=GP_KERNELS,
                            series=series, n_repeats=paper["repeats"], n_train=paper["n_train"],
                            n_test=paper["n_test"], restarts=0, seed=ev.stage_seed(sm.params.seed, 6))
    atomic_write(sm.output.splits, lambda tmp: out.to_csv(tmp, index=False))
    print(out.groupby(["kernel", "functional"])["relative_rmse"].agg(["min", "median"]).to_string(), file=sys.stderr)
