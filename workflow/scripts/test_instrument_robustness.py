"""Rule test_instrument_robustness: models trained on ideal curves, tested on
curves with resolution smearing, counting noise and background."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from threadpoolctl import threadpool_limits  # noqa: E402

from scattermorph.learn import protocols as ev  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

sm = snakemake  # noqa: F821
learning = sm.params.learning

st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                   selection_path=sm.input.selection)
with threadpool_limits(sm.threads):
    out = ev.robustness(st["table"], st["arrays"], st["train"], st["test"], selection=st["selection"],
                        ndim=st["ndim"], learning=learning, settings=learning["robustness"]["settings"],
                        seed=ev.stage_seed(sm.params.seed, 5), restarts=learning["restarts"])
atomic_write(sm.output.metrics, lambda tmp: out.to_csv(tmp, index=False))
print(out[["setting", "functional", "r2", "coverage_95"]].to_string(), file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
