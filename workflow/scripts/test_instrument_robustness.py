"""Rule test_instrument_robustness: models trained on ideal curves, tested on
curves with resolution smearing, counting noise and background."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library
from threadpoolctl import threadpool_limits

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev

sm = snakemake
learning = sm.params.learning

st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                   selection_path=sm.input.selection)
with threadpool_limits(sm.threads):
    out = ev.robustness(st["table"], st["arrays"], st["train"], st["test"], selection=st["selection"],
                        ndim=st["ndim"], learning=learning, settings=learning["robustness"]["settings"],
                        seed=ev.stage_seed(sm.params.seed, 5), restarts=learning["restarts"])
atomic_write(sm.output.metrics, lambda tmp: out.to_csv(tmp, index=False))
print(out[["setting", "functional", "r2", "coverage_95"]].to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs

record_outputs(snakemake, __file__)  # provenance sidecar of every output
