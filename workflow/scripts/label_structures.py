"""Rules label_snapshots / label_sections: droplet vs co-continuous label of
every full structure (percolation of the minority phase, and the Euler
criterion for comparison)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

import _bootstrap  # noqa: E402,F401  (this checkout's library)

from scattermorph.classify.classifiers import MIN_CLASS_SHARE, class_balance, label_table  # noqa: E402
from scattermorph._io import atomic_write  # noqa: E402

table = label_table(snakemake.input.sims, level=snakemake.params.level)  # noqa: F821
atomic_write(snakemake.output.table, lambda tmp: table.to_csv(tmp, index=False))  # noqa: F821
agree = table["labels_agree"].mean()
print(f"{len(table)} structures, percolation label 1 in {table['label_percolation'].mean():.2f}, "
      f"Euler label 1 in {table['label_euler'].mean():.2f}, criteria agree on {agree:.2f}",
      file=sys.stderr)
for name in ("percolation", "euler"):
    share = class_balance(table, name)
    if not share >= MIN_CLASS_SHARE:
        print(f"WARNING: minority class under the {name} label is {share:.2f} of the structures "
              f"(< {MIN_CLASS_SHARE}); the summary repeats this for the label used", file=sys.stderr)

from scattermorph.provenance.records import record_outputs  # noqa: E402

record_outputs(snakemake, __file__)  # noqa: F821  (provenance sidecar of every output)
