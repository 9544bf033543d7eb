"""Rule bootstrap_classifiers: one batch of bootstrap rounds: every model is
trained on each resample at every visible fraction and predicts the fixed
test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.classify.classifiers import bootstrap_job, load_features, save_predictions  # noqa: E402

p = snakemake.params  # noqa: F821
data = load_features(snakemake.input.features)  # noqa: F821
out = bootstrap_job(
    data,
    features=snakemake.wildcards.features,  # noqa: F821
    batch=int(snakemake.wildcards.batch),  # noqa: F821
    settings=p.settings,
    seed=p.seed,
    source_index=p.source_index,
)
save_predictions(snakemake.output.predictions, out)  # noqa: F821
print(f"rounds {out['rounds'].tolist()}, models {out['models'].tolist()}, "
      f"{int(out['warnings'].sum())} convergence warnings", file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
