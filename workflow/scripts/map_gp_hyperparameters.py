"""Rule map_gp_hyperparameters: LOOCV and marginal-likelihood maps, optima, LOO check."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph._io import atomic_write
from scattermorph.gp.tutorial import hyperparameter_study, load_treloar, save_npz

cfg = snakemake.params.foundations
g = cfg["grid"]
maps, optima, check = hyperparameter_study(
    load_treloar(snakemake.input.data),
    output_scaling=cfg["output_scaling"],
    noise=cfg["noise"],
    length_range=g["length_scale"],
    variance_range=g["signal_variance"],
    n_length=g["n_length"],
    n_variance=g["n_variance"],
    restarts=cfg["restarts"],
    random_state=snakemake.params.random_state,
)
print(optima.to_string(), file=sys.stderr)
print(check.to_string(), file=sys.stderr)
save_npz(snakemake.output.maps, maps)
atomic_write(snakemake.output.optima, lambda tmp: optima.to_csv(tmp, index=False))
atomic_write(snakemake.output.check, lambda tmp: check.to_csv(tmp, index=False))

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
