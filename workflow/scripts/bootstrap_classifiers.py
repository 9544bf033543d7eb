"""Rule bootstrap_classifiers: one batch of bootstrap rounds: every model is
trained on each resample at every visible fraction and predicts the fixed
test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.classify.classifiers import bootstrap_job, load_features, save_predictions

p = snakemake.params
data = load_features(snakemake.input.features)
out = bootstrap_job(
    data,
    features=snakemake.wildcards.features,
    batch=int(snakemake.wildcards.batch),
    settings=p.settings,
    seed=p.seed,
    source_index=p.source_index,
)
save_predictions(snakemake.output.predictions, out)
print(f"rounds {out['rounds'].tolist()}, models {out['models'].tolist()}, "
      f"{int(out['warnings'].sum())} convergence warnings", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
