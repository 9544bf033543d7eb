"""Rule bootstrap_classifiers: one batch of bootstrap rounds: every model is
trained on each resample at every visible fraction and predicts the fixed
test set."""

import sys

from _bootstrap import job

from scattermorph.classify.features import load_features
from scattermorph.classify.jobs import bootstrap_job, save_predictions

with job(snakemake, __file__) as sm:
    p = sm.params
    data = load_features(sm.input.features)
    out = bootstrap_job(
        data,
        features=sm.wildcards.features,
        batch=int(sm.wildcards.batch),
        settings=p.settings,
        seed=p.seed,
        source_index=p.source_index,
    )
    save_predictions(sm.output.predictions, out)
    print(f"rounds {out['rounds'].tolist()}, models {out['models'].tolist()}, "
          f"{int(out['warnings'].sum())} convergence warnings", file=sys.stderr)
