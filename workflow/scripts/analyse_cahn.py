"""Rule analyse_cahn: Cahn's linear theory from simulated time-resolved scattering."""

import numpy as np
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.dynamics.study import cahn_table


def write_series(tmp):
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **series)


with job(snakemake, __file__) as sm:
    table, series = cahn_table(sm.params.dynamics, sm.params.seed)
    table.to_csv(sm.output.table, index=False)
    atomic_write(sm.output.series, write_series)
