"""Rule summarise_transfer: the transfer stage's numbers as Markdown."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.transfer.stage import summary_markdown

with job(snakemake, __file__) as sm:
    names = ("scores", "scores_in_domain", "loo", "discrepancy")
    tables = {k: pd.read_csv(sm.input[k]) for k in names}
    page = summary_markdown(**tables, sources={k: sm.input[k] for k in names}, target=sm.params.target)
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
