"""Rule summarise_inference: the inference stage's numbers as Markdown."""

import json
import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.infer.summary import inference_summary

with job(snakemake, __file__) as sm:
    page = inference_summary(validation=pd.read_csv(sm.input.validation),
                             identifiability=pd.read_csv(sm.input.identifiability),
                             example=json.loads(open(sm.input.example).read()),
                             sources={"validation": sm.input.validation, "identifiability": sm.input.identifiability,
                                      "example": sm.input.example})
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
