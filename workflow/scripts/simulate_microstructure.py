"""Rule simulate_microstructure: run one simulation, write all its snapshots."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.sim.run import run_simulation, save_simulation

record = dict(snakemake.params.record)
out = snakemake.output.sim


def log(msg):
    print(msg, file=sys.stderr)


log(f"parameters: {record}")
log(f"threads: {snakemake.threads}")
# the job's threads (Snakemake lowers the rule's to --cores); the fields do
# not depend on them, so they are not part of the record or the metadata
snapshots, meta = run_simulation(record, log=log, threads=snakemake.threads)
save_simulation(out, snapshots, meta)
log(f"wrote {out}: {snapshots.shape} in {meta['wall_seconds']:.2f} s")

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
