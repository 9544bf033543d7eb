"""Rule measure_snapshots: S(q) and Minkowski functionals of every snapshot of one run."""

import sys

import numba
from _bootstrap import job

from scattermorph.measure.scattering import q_grid
from scattermorph.measure.snapshots import measure_simulation, save_measurements
from scattermorph.sim.run import load_simulation

with job(snakemake, __file__) as sm:
    # the compiled Minkowski pass uses the job's cores only (a cluster node may have more)
    numba.set_num_threads(min(sm.threads, numba.config.NUMBA_NUM_THREADS))

    m = sm.params.measurement
    phi, times, meta = load_simulation(sm.input.sim)
    edges, centres = q_grid(m["q"]["min"], m["q"]["max"], m["q"]["n_bins"], m["q"]["spacing"])
    table, s_q, counts = measure_simulation(
        phi,
        meta,
        q_edges=edges,
        q_centres=centres,
        level=m["threshold"],
        periodic=m["periodic"],
        connectivity=m["connectivity"],
        porod_window=(m["porod"]["q_min"], m["porod"]["q_max"]),
        porod_method=m["porod"]["method"],
        log=lambda msg: print(msg, file=sys.stderr),
    )
    save_measurements(sm.output.measurements, table, s_q, counts, edges, centres)
