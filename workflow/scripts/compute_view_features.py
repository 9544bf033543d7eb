"""Rule compute_view_features: random partial views of every labelled
structure at every visible fraction, their raw and physics features, and the
train/test split by simulation."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.classify.classifiers import build_features, save_features

p = snakemake.params
labels = pd.read_csv(snakemake.input.labels)
data = build_features(
    snakemake.input.images,
    labels,
    kind=snakemake.wildcards.kind,
    settings=p.settings,
    seed=p.seed,
    level=p.level,
    connectivity=p.connectivity,
    source_index=p.source_index,
)
save_features(snakemake.output.features, data)
rows = data["rows"]
print(f"{len(rows)} views, {int(rows['test'].sum())} in test, classes {rows['y'].value_counts().to_dict()}", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
