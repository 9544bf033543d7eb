"""Rule make_section_structure: one 3D structure for the section views (a
small 3D Cahn-Hilliard-Cook run, or Gaussian-field level cuts)."""

import sys

from _bootstrap import job

from scattermorph.classify.sections import grf_structures
from scattermorph.sim.run import run_simulation, save_simulation
from scattermorph.sim.spec import RunSpec

with job(snakemake, __file__) as sm:
    rec = sm.params.record
    if rec["source"] == "grf":
        snaps, meta = grf_structures(sm.params.sections, sm.params.seed, rec["index"])
    else:
        # the structure's row of the section table: a simulation record whose
        # id is the structure's
        row = {k: v for k, v in rec.items() if k not in ("struct_id", "index", "source")}
        spec = RunSpec.from_row({**row, "sim_id": rec["struct_id"]})
        snaps, meta = run_simulation(spec, log=lambda line: print(line, file=sys.stderr))
    save_simulation(sm.output.structure, snaps, meta)
    print(f"{rec['struct_id']}: {snaps.shape}", file=sys.stderr)
