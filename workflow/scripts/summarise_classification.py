"""Rule summarise_classification: partial-view classification's numbers as Markdown."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.classify.summary import classification_summary

with job(snakemake, __file__) as sm:
    names = {"labels_study": "study snapshots", "labels_sections": "sections of 3D structures"}
    labels = {names[k]: pd.read_csv(sm.input[k]) for k in names if k in sm.input.keys()}
    sources = {names[k]: sm.input[k] for k in names if k in sm.input.keys()}
    page = classification_summary(biasvar=pd.read_csv(sm.input.table), labels=labels,
                                  sources={"biasvar": sm.input.table, **sources}, label=sm.params.label)
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
