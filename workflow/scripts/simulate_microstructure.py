"""Rule simulate_microstructure: run one simulation, write all its snapshots."""

import sys

from _bootstrap import job

from scattermorph.sim.run import run_simulation, save_simulation
from scattermorph.sim.spec import RunSpec


def log(msg):
    print(msg, file=sys.stderr)


with job(snakemake, __file__) as sm:
    record = dict(sm.params.record)
    out = sm.output.sim

    log(f"parameters: {record}")
    log(f"threads: {sm.threads}")
    # the job's threads (Snakemake lowers the rule's to --cores); the fields do
    # not depend on them, so they are not part of the record or the metadata.
    # The FFT plans can change the last bits: a params change reruns the job
    log(f"fft plans: {sm.params.fft_plan} (wisdom {sm.params.fft_wisdom})")
    snapshots, meta = run_simulation(RunSpec.from_row(record), log=log, threads=sm.threads,
                                     fft_plan=sm.params.fft_plan,
                                     fft_wisdom=sm.params.fft_wisdom)
    save_simulation(out, snapshots, meta)
    log(f"wrote {out}: {snapshots.shape} in {meta['wall_seconds']:.2f} s")
