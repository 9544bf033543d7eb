"""Rule compute_view_features: random partial views of every labelled
structure at every visible fraction, their raw and physics features, and the
train/test split by simulation."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph.classify.features import save_features
from scattermorph.classify.jobs import build_features

with job(snakemake, __file__) as sm:
    p = sm.params
    labels = pd.read_csv(sm.input.labels)
    data = build_features(
        sm.input.images,
        labels,
        kind=sm.wildcards.kind,
        settings=p.settings,
        seed=p.seed,
        level=p.level,
        connectivity=p.connectivity,
        source_index=p.source_index,
    )
    save_features(sm.output.features, data)
    rows = data["rows"]
    print(f"{len(rows)} views, {int(rows['test'].sum())} in test, classes {rows['y'].value_counts().to_dict()}", file=sys.stderr)
