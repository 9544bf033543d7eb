"""Rule sweep_complexity: one batch of bootstrap rounds of k-NN over k and of
random forests over tree depth, at the configured view kind and fraction."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.classify.classifiers import complexity_job, load_features, save_predictions

p = snakemake.params
data = load_features(snakemake.input.features)
out = complexity_job(
    data,
    batch=int(snakemake.wildcards.batch),
    settings=p.settings,
    seed=p.seed,
    source_index=p.source_index,
)
save_predictions(snakemake.output.predictions, out)
print(f"rounds {out['rounds'].tolist()}, {len(out['models'])} settings", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
