"""Rule sweep_complexity: one batch of bootstrap rounds of k-NN over k and of
random forests over tree depth, at the configured view kind and fraction."""

import sys

from _bootstrap import job

from scattermorph.classify.features import load_features
from scattermorph.classify.jobs import complexity_job, save_predictions

with job(snakemake, __file__) as sm:
    p = sm.params
    data = load_features(sm.input.features)
    out = complexity_job(
        data,
        batch=int(sm.wildcards.batch),
        settings=p.settings,
        seed=p.seed,
        source_index=p.source_index,
    )
    save_predictions(sm.output.predictions, out)
    print(f"rounds {out['rounds'].tolist()}, {len(out['models'])} settings", file=sys.stderr)
