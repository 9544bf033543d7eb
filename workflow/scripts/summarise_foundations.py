"""Rule summarise_foundations: the GP foundations' numbers as Markdown."""

import sys

import numpy as np
import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp.summary import foundations_summary

with job(snakemake, __file__) as sm:
    with np.load(sm.input.tutorial, allow_pickle=False) as t:
        G, G_se = float(t["G_mpa"]), float(t["G_se_mpa"])
    page = foundations_summary(optima=pd.read_csv(sm.input.optima), loo_check=pd.read_csv(sm.input.check),
                               shear_modulus=G, shear_modulus_se=G_se,
                               sources={"optima": sm.input.optima, "loo_check": sm.input.check,
                                        "tutorial": sm.input.tutorial})
    atomic_write(sm.output.summary, lambda tmp: open(tmp, "w").write(page))
    print(page, file=sys.stderr)
