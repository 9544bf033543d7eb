"""Rule simulate_emulator_batch: run and measure one batch of emulator design runs."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph.gp.emulator import emulator_record, run_design_point

config = snakemake.config
rows = snakemake.params.rows


def log(msg):
    print(msg, file=sys.stderr)


tables = []
for row in rows:
    rec = emulator_record(config, phi0=row["phi0"], quench=row["quench"],
                          index=row["design_index"], sim_id=row["sim_id"])
    out = run_design_point(rec, snakemake.params.measurement, log=log)
    out.insert(1, "role", row["role"])
    tables.append(out)
table = pd.concat(tables, ignore_index=True)
atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
