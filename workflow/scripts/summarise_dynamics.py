"""Rule summarise_dynamics: the dynamics stage's numbers as Markdown."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.dynamics.summary import dynamics_summary

with job(snakemake, __file__) as sm:
    names = ("coefficients", "summary", "blend", "forecast", "cahn")
    tables = {k: pd.read_csv(sm.input[k]) for k in names}
    page = dynamics_summary(**tables, sources={k: sm.input[k] for k in names})
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
