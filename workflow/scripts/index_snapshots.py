"""Rule index_snapshots: tidy tables of the simulations and of every snapshot."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.sim.run import read_metadata  # noqa: E402
from scattermorph._io import atomic_write
from scattermorph.sim.sweep import simulation_summary, snapshot_table  # noqa: E402

metas = [read_metadata(path) for path in snakemake.input.sims]  # noqa: F821
snaps = snapshot_table(metas)
sims = simulation_summary(metas)
atomic_write(snakemake.output.table, lambda tmp: snaps.to_csv(tmp, index=False))  # noqa: F821
atomic_write(snakemake.output.simulations, lambda tmp: sims.to_csv(tmp, index=False))  # noqa: F821
print(f"{len(sims)} simulations, {len(snaps)} snapshots", file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
