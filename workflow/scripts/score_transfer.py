"""Rule score_transfer: the study's scale-free model on every test set, the
same-simulator held-out reference, and the leave-one-set-out discrepancy tables."""

import pandas as pd
from _bootstrap import job

from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.modelfile import load_model
from scattermorph.transfer.baseline import same_simulator_predictions
from scattermorph.transfer.stage import load_set, score_stage

with job(snakemake, __file__, limit_threads=True) as sm:
    model = load_model(sm.input.model)
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    same, _ = same_simulator_predictions(model, arrays["q"], arrays["s_q"], table, pd.read_csv(sm.input.split))
    out = score_stage(model, [load_set(p) for p in sm.input.sets], same, time_range=tuple(sm.params.time_range),
                      target=sm.params.target)
    for name in ("predictions", "scores", "scores_in_domain", "loo", "discrepancy"):
        out[name].to_csv(sm.output[name], index=False)
