"""Rule plot_model_comparison: the input x model x functional comparison (heat map and HTML table)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph.plots import learning as pl
from scattermorph.plots.save import save_job_figure

sm = snakemake
from scattermorph._io import atomic_write

comparison = pd.read_csv(sm.input.comparison)
page = pl.comparison_html(comparison, pd.read_csv(sm.input.selection))
atomic_write(sm.output.table, lambda tmp: open(tmp, "w").write(page))
fig = pl.plot_model_comparison(comparison)
save_job_figure(fig, sm, __file__)

from scattermorph.provenance.records import record_outputs

record_outputs(sm, __file__, [sm.output.table])  # provenance sidecar of the HTML table
