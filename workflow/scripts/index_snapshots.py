"""Rule index_snapshots: tidy tables of the simulations and of every snapshot."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.sim.run import read_metadata
from scattermorph.sim.sweep import simulation_summary, snapshot_table

with job(snakemake, __file__) as sm:
    metas = [read_metadata(path) for path in sm.input.sims]
    snaps = snapshot_table(metas)
    sims = simulation_summary(metas)
    atomic_write(sm.output.table, lambda tmp: snaps.to_csv(tmp, index=False))
    atomic_write(sm.output.simulations, lambda tmp: sims.to_csv(tmp, index=False))
    print(f"{len(sims)} simulations, {len(snaps)} snapshots", file=sys.stderr)
