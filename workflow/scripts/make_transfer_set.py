"""Rule make_transfer_set: every structure of one cross-simulator test set, made and measured in one job."""

import sys

import numba
from _bootstrap import job

from scattermorph.transfer.sets import run_set
from scattermorph.transfer.stage import save_set

with job(snakemake, __file__) as sm:
    numba.set_num_threads(min(sm.threads, numba.config.NUMBA_NUM_THREADS))
    config = {"study": {"seed": sm.params.seed, "dimension": 3}, "simulation": sm.params.simulation,
              "transfer": sm.params.transfer}
    table, q, s_q = run_set(config, sm.wildcards.set, log=lambda line: print(line, file=sys.stderr))
    save_set(sm.output.set, table, q, s_q)
