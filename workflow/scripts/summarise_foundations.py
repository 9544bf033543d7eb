"""Rule summarise_foundations: the GP foundations' numbers as Markdown."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scattermorph._io import atomic_write  # noqa: E402
from scattermorph.gp.summary import foundations_summary  # noqa: E402

sm = snakemake  # noqa: F821
with np.load(sm.input.tutorial, allow_pickle=False) as t:
    G, G_se = float(t["G_mpa"]), float(t["G_se_mpa"])
page = foundations_summary(optima=pd.read_csv(sm.input.optima), loo_check=pd.read_csv(sm.input.check),
                           shear_modulus=G, shear_modulus_se=G_se,
                           sources={"optima": sm.input.optima, "loo_check": sm.input.check,
                                    "tutorial": sm.input.tutorial})
atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
print(page, file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
