"""Rule run_adaptive_design: sequential (largest-variance) vs random design of
equal cost, each adding simulations one at a time."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp.emulator import adaptive_vs_random


def log(msg):
    print(msg, file=sys.stderr)


with job(snakemake, __file__) as sm:
    config = sm.config
    runs = pd.read_csv(sm.input.runs)
    n0 = config["emulator"]["adaptive"]["n_initial"]
    train_ids = list(dict.fromkeys(runs.loc[runs["role"] == "train", "sim_id"]))[:n0]
    initial = runs[runs["sim_id"].isin(train_ids)]
    test = runs[runs["role"] == "test"]

    curve, added = adaptive_vs_random(config, initial, test, log=log)
    print(curve.groupby(["design", "n_runs"])["rmse_relative"].mean().to_string(), file=sys.stderr)
    atomic_write(sm.output.curve, lambda tmp: curve.to_csv(tmp, index=False))
    atomic_write(sm.output.runs, lambda tmp: added.to_csv(tmp, index=False))
