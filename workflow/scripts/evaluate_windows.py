"""Rule evaluate_windows: held-out curves cut to q windows, with a flat background and noise, predicted as
`scattermorph predict` does (model refitted on the window the curve covers, background fitted)."""

import sys

import numpy as np
import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn.protocols import export_kernel, stage_seed
from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.evaluate import evaluate_windows, windows_table

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning
    settings, grid = learning["windows"], learning["feature_grid"]
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    split = pd.read_csv(sm.input.split)
    test = table["sim_id"].isin(split.loc[split["subset"] == "test", "sim_id"]).to_numpy()
    kernel, ard = export_kernel(pd.read_csv(sm.input.comparison))
    rows = evaluate_windows(np.asarray(arrays["q"]), np.asarray(arrays["s_q"], dtype=float), table, ~test, test,
                            int(table["dimension"].iloc[0]), windows=[tuple(w) for w in settings["windows"]],
                            backgrounds=settings["backgrounds"], noise=settings["noise"], kernel=kernel, ard=ard,
                            restarts=learning["restarts"], seed=stage_seed(sm.params.seed, 8),
                            n_points=grid["n_points"], x_range=tuple(grid["x_range"]),
                            per_simulation=settings["per_simulation"], n_draws=settings["draws"],
                            tail=settings.get("tail"))
    out = windows_table(rows)
    atomic_write(sm.output.predictions, lambda tmp: rows.to_csv(tmp, index=False))
    atomic_write(sm.output.metrics, lambda tmp: out.to_csv(tmp, index=False))
    print(out.to_string(), file=sys.stderr)
