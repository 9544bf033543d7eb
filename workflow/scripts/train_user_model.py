"""Rule train_user_model: the model users apply to their own curves
(`scattermorph predict CURVE --model results/<study>/models/scale_free_gp.npz`):
scale-free input, the kernel that cross-validated best on it, all simulations;
the file keeps the training curves (for resolution-aware refits) and the
study's domain (compositions, quenches, q1 range)."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph.learn.protocols import export_kernel, stage_seed
from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.fit import fit_models
from scattermorph.predict.modelfile import save_model, study_domain

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    ndim = int(table["dimension"].iloc[0])
    kernel, ard = export_kernel(pd.read_csv(sm.input.comparison))
    grid = learning["feature_grid"]
    print(f"kernel {kernel}, ard={ard}", file=sys.stderr)
    model = fit_models(arrays["q"], arrays["s_q"], table, ndim, kernel=kernel, ard=ard,
                       restarts=learning["restarts"], random_state=stage_seed(sm.params.seed, 7),
                       feature_kind="scale_free", n_points=grid["n_points"], x_range=tuple(grid["x_range"]),
                       groups=table["sim_id"], log=lambda line: print(line, file=sys.stderr))
    model.training["study_domain"] = study_domain(table, model, sm.params.study)
    save_model(sm.output.model, model, {"dataset": [sm.input.table, sm.input.curves], "config": learning,
                                        "rule": "train_user_model", "study": sm.params.study})
