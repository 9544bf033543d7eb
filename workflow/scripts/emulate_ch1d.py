"""Rule emulate_ch1d: a 1D Cahn-Hilliard run and its GP emulation in (x, log t)."""

import sys

import numpy as np
from _bootstrap import job

from scattermorph.gp.emulator import ch1d_emulation
from scattermorph.gp.tutorial import save_npz

with job(snakemake, __file__) as sm:
    out = ch1d_emulation(sm.params.ch1d, sm.config)
    test = ~out["train"]
    err = np.abs(out["mean"] - out["phi"])[test]
    print(f"length scales (x in b, log t) = {out['length_scales']}; held-out max |error| = "
          f"{err.max():.3g}, mean {err.mean():.3g}, inside 95 % band "
          f"{out['coverage95_held_out']:.3f}; solve {out['solve_seconds']:.3g} s, "
          f"predict {out['predict_seconds']:.3g} s", file=sys.stderr)
    save_npz(sm.output.arrays, out)
