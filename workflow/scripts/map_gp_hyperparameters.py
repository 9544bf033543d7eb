"""Rule map_gp_hyperparameters: LOOCV and marginal-likelihood maps, optima, LOO check."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp.tutorial import hyperparameter_study, load_treloar, save_npz

with job(snakemake, __file__) as sm:
    cfg = sm.params.foundations
    g = cfg["grid"]
    maps, optima, check = hyperparameter_study(
        load_treloar(sm.input.data),
        output_scaling=cfg["output_scaling"],
        noise=cfg["noise"],
        length_range=g["length_scale"],
        variance_range=g["signal_variance"],
        n_length=g["n_length"],
        n_variance=g["n_variance"],
        restarts=cfg["restarts"],
        random_state=sm.params.random_state,
    )
    print(optima.to_string(), file=sys.stderr)
    print(check.to_string(), file=sys.stderr)
    save_npz(sm.output.maps, maps)
    atomic_write(sm.output.optima, lambda tmp: optima.to_csv(tmp, index=False))
    atomic_write(sm.output.check, lambda tmp: check.to_csv(tmp, index=False))
