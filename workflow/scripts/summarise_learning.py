"""Rule summarise_learning: the stage's headline numbers as Markdown."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn.summary import summary_markdown

with job(snakemake, __file__) as sm:
    split = pd.read_csv(sm.input.split)
    page = summary_markdown(
        targets=pd.read_csv(sm.input.targets), metrics=pd.read_csv(sm.input.metrics),
        comparison=pd.read_csv(sm.input.comparison), paper=pd.read_csv(sm.input.paper),
        extrapolation=pd.read_csv(sm.input.extrapolation), robustness=pd.read_csv(sm.input.robustness),
        windows=pd.read_csv(sm.input.windows),
        n_train_sims=int((split["subset"] == "train").sum()), n_test_sims=int((split["subset"] == "test").sum()))
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
