"""Rules label_snapshots / label_sections: droplet vs co-continuous label of
every full structure (percolation of the minority phase, and the Euler
criterion for comparison)."""

import sys

from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.classify.labels import MIN_CLASS_SHARE, class_balance, label_table

with job(snakemake, __file__) as sm:
    table = label_table(sm.input.sims, level=sm.params.level)
    atomic_write(sm.output.table, lambda tmp: table.to_csv(tmp, index=False))
    agree = table["labels_agree"].mean()
    print(f"{len(table)} structures, percolation label 1 in {table['label_percolation'].mean():.2f}, "
          f"Euler label 1 in {table['label_euler'].mean():.2f}, criteria agree on {agree:.2f}",
          file=sys.stderr)
    for name in ("percolation", "euler"):
        share = class_balance(table, name)
        if not share >= MIN_CLASS_SHARE:
            print(f"WARNING: minority class under the {name} label is {share:.2f} of the structures "
                  f"(< {MIN_CLASS_SHARE}); the summary repeats this for the label used", file=sys.stderr)
