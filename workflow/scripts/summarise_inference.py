"""Rule summarise_inference: the inference stage's numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import json  # noqa: E402

import pandas as pd  # noqa: E402

from scattermorph.infer.stage import inference_summary  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
page = inference_summary(validation=pd.read_csv(sm.input.validation),
                         identifiability=pd.read_csv(sm.input.identifiability),
                         example=json.loads(open(sm.input.example).read()),
                         sources={"validation": sm.input.validation, "identifiability": sm.input.identifiability,
                                  "example": sm.input.example})
atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
print(page, file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
