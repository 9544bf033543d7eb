"""Rule predict_gp_tutorial: arrays of the GP tutorial figures on Treloar's data."""

import sys

import numpy as np
from _bootstrap import job

from scattermorph.gp.tutorial import load_treloar, save_npz, tutorial_predictions

with job(snakemake, __file__) as sm:
    cfg = sm.params.foundations
    out = sm.output.arrays
    data = load_treloar(sm.input.data)
    lam_max = float(data["stretch"].max())
    arrays = tutorial_predictions(
        data,
        points=cfg["tutorial_points"],
        length_scales=cfg["tutorial_length_scales"],
        signal_variance=cfg["tutorial_signal_variance"],
        output_scaling=cfg["output_scaling"],
        noise=cfg["noise"],
        x_grid=np.linspace(0.5, lam_max + 1.0, 400),
        x_wide=np.linspace(0.5, float(cfg["extrapolate_to"]), 400),
        restarts=cfg["restarts"],
        random_state=sm.params.random_state,
    )
    print(f"G = {arrays['G_mpa']:.4g} +- {arrays['G_se_mpa']:.2g} MPa; posterior (l, sf2, sn2) = "
          f"{arrays['post_hyper']}", file=sys.stderr)
    save_npz(out, arrays)
