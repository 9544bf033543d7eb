"""Rule map_gp_hyperparameters: LOOCV and marginal-likelihood maps, optima, LOO check."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)


from scattermorph.gp.tutorial import hyperparameter_study, load_treloar  # noqa: E402
from scattermorph.gp.tutorial import save_npz  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

cfg = snakemake.params.foundations  # noqa: F821
g = cfg["grid"]
maps, optima, check = hyperparameter_study(
    load_treloar(snakemake.input.data),  # noqa: F821
    output_scaling=cfg["output_scaling"],
    noise=cfg["noise"],
    length_range=g["length_scale"],
    variance_range=g["signal_variance"],
    n_length=g["n_length"],
    n_variance=g["n_variance"],
    restarts=cfg["restarts"],
    random_state=snakemake.params.random_state,  # noqa: F821
)
print(optima.to_string(), file=sys.stderr)
print(check.to_string(), file=sys.stderr)
save_npz(snakemake.output.maps, maps)  # noqa: F821
atomic_write(snakemake.output.optima, lambda tmp: optima.to_csv(tmp, index=False))  # noqa: F821
atomic_write(snakemake.output.check, lambda tmp: check.to_csv(tmp, index=False))  # noqa: F821

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
