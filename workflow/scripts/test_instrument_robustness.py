"""Rule test_instrument_robustness: models trained on ideal curves, tested on
curves with resolution smearing, counting noise and background."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning

    st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                       selection_path=sm.input.selection)
    out = ev.robustness(st["table"], st["arrays"], st["train"], st["test"], selection=st["selection"],
                        ndim=st["ndim"], learning=learning, settings=learning["robustness"]["settings"],
                        seed=ev.stage_seed(sm.params.seed, 5), restarts=learning["restarts"])
    atomic_write(sm.output.metrics, lambda tmp: out.to_csv(tmp, index=False))
    print(out[["setting", "functional", "r2", "coverage_95"]].to_string(), file=sys.stderr)
