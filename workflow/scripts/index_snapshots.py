"""Rule index_snapshots: tidy tables of the simulations and of every snapshot."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph._io import atomic_write
from scattermorph.sim.run import read_metadata
from scattermorph.sim.sweep import simulation_summary, snapshot_table

metas = [read_metadata(path) for path in snakemake.input.sims]
snaps = snapshot_table(metas)
sims = simulation_summary(metas)
atomic_write(snakemake.output.table, lambda tmp: snaps.to_csv(tmp, index=False))
atomic_write(snakemake.output.simulations, lambda tmp: sims.to_csv(tmp, index=False))
print(f"{len(sims)} simulations, {len(snaps)} snapshots", file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
