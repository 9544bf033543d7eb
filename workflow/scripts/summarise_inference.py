"""Rule summarise_inference: the inference stage's numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import json

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.infer.stage import inference_summary

sm = snakemake
page = inference_summary(validation=pd.read_csv(sm.input.validation),
                         identifiability=pd.read_csv(sm.input.identifiability),
                         example=json.loads(open(sm.input.example).read()),
                         sources={"validation": sm.input.validation, "identifiability": sm.input.identifiability,
                                  "example": sm.input.example})
atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
print(page, file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
