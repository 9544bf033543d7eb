"""Does a model trained on the union of simulators help on the sets it never saw?

For every transfer set of a finished study (``results/<study>/transfer/sets/``),
the study model's recipe is refitted on the study's curves plus every *other*
set and scored on the held-out set, beside the study-only model
(:func:`scattermorph.transfer.union.union_leave_one_out`); the study's own
held-out runs are scored by the recipe on its training runs alone and on them
plus every set. Prints R^2, median relative error and 68/95 % coverage per set
and functional, both trainings side by side, and writes the predictions and
the tables under ``--out``.

Run from the repository root on a finished default study (~11 min on one busy core)::

    .venv/bin/python benchmarks/measure_union.py results/default [--train-on simulations|all] [--out DIR]

``--train-on simulations`` leaves the Gaussian-field and Boolean sets out of
every training (they are still scored).
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import pandas as pd

from scattermorph.measure.snapshots import load_dataset
from scattermorph.predict.modelfile import load_model
from scattermorph.transfer.stage import KEEP_COLUMNS, load_set
from scattermorph.transfer.union import union_leave_one_out, union_scores

SHOWN = ("r2", "median_rel_error", "coverage_68", "coverage_95")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a finished study's results folder, e.g. results/default")
    ap.add_argument("--train-on", choices=("all", "simulations"), default="all")
    ap.add_argument("--out", default="benchmarks/results/union")
    args = ap.parse_args(argv)
    res = Path(args.results)
    model = load_model(res / "models" / "scale_free_gp.npz")
    table, arrays = load_dataset(res / "dataset.csv", res / "dataset_sq.npz")
    sets = [load_set(p) for p in sorted(glob.glob(str(res / "transfer" / "sets" / "*.npz")))]
    names = [str(t["set"].iloc[0]) for t, _, _ in sets]
    sims = [str(t["set"].iloc[0]) for t, _, _ in sets if t["kind"].iloc[0] == "simulation"]
    train_on = names if args.train_on == "all" else sims
    t0 = time.perf_counter()
    pred = union_leave_one_out(model, (table, arrays["q"], arrays["s_q"]), sets,
                               split=pd.read_csv(res / "learning" / "split.csv"), train_on=train_on,
                               keep=KEEP_COLUMNS, log=lambda line: print(f"{line} ({time.perf_counter() - t0:.0f} s)"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pred.to_csv(out / f"predictions_{args.train_on}.csv", index=False)
    for where in ("answered", "in_domain"):
        scores = union_scores(pred, where=where)
        scores.to_csv(out / f"scores_{args.train_on}_{where}.csv", index=False)
        cols = ["set", "functional", "n_study"] + [f"{m}_{t}" for m in SHOWN for t in ("study", "union")]
        print(f"\n{where} curves (training on the study + {args.train_on} other sets):")
        print(scores[cols].round(3).to_string(index=False))
    print(f"\n{time.perf_counter() - t0:.0f} s; tables in {out}/")


if __name__ == "__main__":
    main()
