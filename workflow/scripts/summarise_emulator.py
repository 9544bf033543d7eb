"""Rule summarise_emulator: the emulators' numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import numpy as np
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.gp.summary import emulator_summary

sm = snakemake
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

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
