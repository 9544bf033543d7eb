"""Rule run_adaptive_design: sequential (largest-variance) vs random design of
equal cost, each adding simulations one at a time."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.gp.emulator import adaptive_vs_random  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

config = snakemake.config  # noqa: F821
runs = pd.read_csv(snakemake.input.runs)  # noqa: F821
n0 = config["emulator"]["adaptive"]["n_initial"]
train_ids = list(dict.fromkeys(runs.loc[runs["role"] == "train", "sim_id"]))[:n0]
initial = runs[runs["sim_id"].isin(train_ids)]
test = runs[runs["role"] == "test"]


def log(msg):
    print(msg, file=sys.stderr)


curve, added = adaptive_vs_random(config, initial, test, log=log)
print(curve.groupby(["design", "n_runs"])["rmse_relative"].mean().to_string(), file=sys.stderr)
atomic_write(snakemake.output.curve, lambda tmp: curve.to_csv(tmp, index=False))  # noqa: F821
atomic_write(snakemake.output.runs, lambda tmp: added.to_csv(tmp, index=False))  # noqa: F821

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
