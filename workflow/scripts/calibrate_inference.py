"""Rule calibrate_inference: fit the scattering emulator on the study's runs,
validate it and compute the posterior of every snapshot of the calibration
runs, the calibration / identifiability table and one example posterior."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.infer.stage import run_stage, write_example
from scattermorph.measure.snapshots import load_dataset

with job(snakemake, __file__) as sm:
    settings = sm.params.inference
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    held, held_arrays = load_dataset(sm.input.held, sm.input.held_curves)
    out = run_stage(table, arrays, held, held_arrays, features=sm.params.feature_grid,
                    n_grid=settings["n_grid"], level=settings["level"], rank_bins=settings["rank_bins"],
                    seed=sm.params.seed, log=lambda line: print(line, file=sys.stderr))
    o = sm.output
    atomic_write(o.validation, lambda tmp: out["validation"].to_csv(tmp, index=False))
    atomic_write(o.calibration, lambda tmp: out["calibration"].to_csv(tmp, index=False))
    atomic_write(o.identifiability, lambda tmp: out["identifiability"].to_csv(tmp, index=False))
    write_example(out["example"], out["grid"], o.example, o.grid)
    print(out["identifiability"].to_string(), file=sys.stderr)
