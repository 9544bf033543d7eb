"""Rule ship_model (only when config learning.ship_model is true): copy the
study's user model (train_user_model: every simulation, scale-free input) to
models/default.npz, the model `scattermorph predict` uses without --model,
after checking that it loads, keeps its training curves and is small."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.predict.modelfile import ship_model

sm = snakemake
model = ship_model(sm.input.model, sm.output.model, max_bytes=sm.params.max_bytes)
print(f"shipped {sm.input.model} -> {sm.output.model}: {model!r}", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar: scattermorph audit models/
