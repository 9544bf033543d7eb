"""Rule run_adaptive_design: sequential (largest-variance) vs random design of
equal cost, each adding simulations one at a time."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.gp.emulator import adaptive_vs_random

config = snakemake.config
runs = pd.read_csv(snakemake.input.runs)
n0 = config["emulator"]["adaptive"]["n_initial"]
train_ids = list(dict.fromkeys(runs.loc[runs["role"] == "train", "sim_id"]))[:n0]
initial = runs[runs["sim_id"].isin(train_ids)]
test = runs[runs["role"] == "test"]


def log(msg):
    print(msg, file=sys.stderr)


curve, added = adaptive_vs_random(config, initial, test, log=log)
print(curve.groupby(["design", "n_runs"])["rmse_relative"].mean().to_string(), file=sys.stderr)
atomic_write(snakemake.output.curve, lambda tmp: curve.to_csv(tmp, index=False))
atomic_write(snakemake.output.runs, lambda tmp: added.to_csv(tmp, index=False))

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
