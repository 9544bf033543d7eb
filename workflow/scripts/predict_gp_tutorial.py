"""Rule predict_gp_tutorial: arrays of the GP tutorial figures on Treloar's data."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np

from scattermorph.gp.tutorial import load_treloar, save_npz, tutorial_predictions

cfg = snakemake.params.foundations
out = snakemake.output.arrays
data = load_treloar(snakemake.input.data)
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
    random_state=snakemake.params.random_state,
)
print(f"G = {arrays['G_mpa']:.4g} +- {arrays['G_se_mpa']:.2g} MPa; posterior (l, sf2, sn2) = "
      f"{arrays['post_hyper']}", file=sys.stderr)
save_npz(out, arrays)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
