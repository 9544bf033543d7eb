"""Rule summarise_emulator: the emulators' numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scattermorph._io import atomic_write  # noqa: E402
from scattermorph.gp.summary import emulator_summary  # noqa: E402

sm = snakemake  # noqa: F821
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

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
