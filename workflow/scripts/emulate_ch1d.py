"""Rule emulate_ch1d: a 1D Cahn-Hilliard run and its GP emulation in (x, log t)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np

from scattermorph.gp.emulator import ch1d_emulation
from scattermorph.gp.tutorial import save_npz

out = ch1d_emulation(snakemake.params.ch1d, snakemake.config)
test = ~out["train"]
err = np.abs(out["mean"] - out["phi"])[test]
print(f"length scales (x in b, log t) = {out['length_scales']}; held-out max |error| = "
      f"{err.max():.3g}, mean {err.mean():.3g}, inside 95 % band "
      f"{out['coverage95_held_out']:.3f}; solve {out['solve_seconds']:.3g} s, "
      f"predict {out['predict_seconds']:.3g} s", file=sys.stderr)
save_npz(snakemake.output.arrays, out)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
