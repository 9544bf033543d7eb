"""Rule ship_model (only when config learning.ship_model is true): copy the
study's user model (train_user_model: every simulation, scale-free input) to
models/default.npz, the model `scattermorph predict` uses without --model,
after checking that it loads, keeps its training curves and is small."""

import sys

from _bootstrap import job

from scattermorph.predict.modelfile import ship_model

with job(snakemake, __file__) as sm:
    model = ship_model(sm.input.model, sm.output.model, max_bytes=sm.params.max_bytes)
    print(f"shipped {sm.input.model} -> {sm.output.model}: {model!r}", file=sys.stderr)
