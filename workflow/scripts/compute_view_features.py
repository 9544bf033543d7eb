"""Rule compute_view_features: random partial views of every labelled
structure at every visible fraction, their raw and physics features, and the
train/test split by simulation."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.classify.classifiers import build_features, save_features  # noqa: E402

p = snakemake.params  # noqa: F821
labels = pd.read_csv(snakemake.input.labels)  # noqa: F821
data = build_features(
    snakemake.input.images,  # noqa: F821
    labels,
    kind=snakemake.wildcards.kind,  # noqa: F821
    settings=p.settings,
    seed=p.seed,
    level=p.level,
    connectivity=p.connectivity,
    source_index=p.source_index,
)
save_features(snakemake.output.features, data)  # noqa: F821
rows = data["rows"]
print(f"{len(rows)} views, {int(rows['test'].sum())} in test, classes {rows['y'].value_counts().to_dict()}", file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
