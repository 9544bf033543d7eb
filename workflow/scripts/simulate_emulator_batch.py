"""Rule simulate_emulator_batch: run and measure one batch of emulator design runs."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

import pandas as pd  # noqa: E402

from scattermorph.gp.emulator import emulator_record, run_design_point  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

config = snakemake.config  # noqa: F821
rows = snakemake.params.rows  # noqa: F821


def log(msg):
    print(msg, file=sys.stderr)


tables = []
for row in rows:
    rec = emulator_record(config, phi0=row["phi0"], quench=row["quench"],
                          index=row["design_index"], sim_id=row["sim_id"])
    out = run_design_point(rec, snakemake.params.measurement, log=log)  # noqa: F821
    out.insert(1, "role", row["role"])
    tables.append(out)
table = pd.concat(tables, ignore_index=True)
atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))  # noqa: F821

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
