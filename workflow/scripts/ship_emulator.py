"""Rule ship_emulator (only when config learning.ship_model is true): fit the
inference emulator on every run of the study and write it, with the posterior
predictive check's reference distribution, to models/emulator.npz, the
emulator `scattermorph infer` uses without --study (checked to load and to be
small)."""

import sys

from _bootstrap import job

from scattermorph.infer.emulatorfile import load_emulator, write_study_emulator

with job(snakemake, __file__) as sm:
    p = sm.params
    write_study_emulator(sm.input.table, sm.input.curves, sm.output.emulator, features=p.feature_grid,
                         metadata={"study": p.study, "rule": "ship_emulator",
                                   "config": {"feature_grid": p.feature_grid, "seed": p.seed}},
                         max_bytes=p.max_bytes, seed=p.seed)
    cal = load_emulator(sm.output.emulator)
    print(f"shipped the emulator of {sm.input.table} -> {sm.output.emulator}: {cal.emulator.X_train.shape[0]} "
          f"snapshots, {cal.emulator.k} components", file=sys.stderr)
