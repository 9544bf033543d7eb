"""Rule simulate_emulator_batch: run and measure one batch of emulator design runs."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp.emulator import emulator_record, run_design_point


def log(msg):
    print(msg, file=sys.stderr)


with job(snakemake, __file__) as sm:
    config = sm.config
    rows = sm.params.rows

    tables = []
    for row in rows:
        rec = emulator_record(config, phi0=row["phi0"], quench=row["quench"],
                              index=row["design_index"], sim_id=row["sim_id"])
        out = run_design_point(rec, sm.params.measurement, log=log)
        out.insert(1, "role", row["role"])
        tables.append(out)
    table = pd.concat(tables, ignore_index=True)
    atomic_write(sm.output.table, lambda tmp: table.to_csv(tmp, index=False))
