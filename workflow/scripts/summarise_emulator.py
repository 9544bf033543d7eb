"""Rule summarise_emulator: the emulators' numbers as Markdown."""

import sys

import numpy as np
import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp.summary import emulator_summary

with job(snakemake, __file__) as sm:
    with np.load(sm.input.ch1d, allow_pickle=False) as a:
        ch1d = {k: float(a[k]) for k in ("rmse_held_out", "coverage95_held_out")}
    page = emulator_summary(metrics=pd.read_csv(sm.input.metrics), speedup=pd.read_csv(sm.input.speedup),
                            adaptive=pd.read_csv(sm.input.adaptive), ch1d=ch1d,
                            inference_validation=pd.read_csv(sm.input.inference_validation),
                            sources={"metrics": sm.input.metrics, "speedup": sm.input.speedup,
                                     "adaptive": sm.input.adaptive, "ch1d": sm.input.ch1d,
                                     "inference_validation": sm.input.inference_validation})
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
