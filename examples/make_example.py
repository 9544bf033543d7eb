"""Write the example inputs of ``scattermorph train`` and ``scattermorph predict``.

From a study's dataset (``results/<study>/dataset.csv`` + ``dataset_sq.npz``,
made by the workflow) this script writes, next to itself:

``training_table.csv``
    The training table format of ``scattermorph train``: one row per
    snapshot (every ``--every``-th snapshot of every simulation except the
    held-out one), columns ``sample``, ``group`` (the simulation), the
    study's densities (3D default: ``volume_density``, ``surface_density``,
    ``mean_curvature_density``, ``euler_density``, per b^0 to b^-3) and ``q=<value>`` intensities S(q) on the study's q grid in 1/b
    (bins empty in every row left out; a bin empty in one row is an empty cell).
``measured_curve.dat``
    One snapshot of the held-out simulation dressed as a measurement: q
    converted to 1/A with a segment length b = 6.5 A (polystyrene-like), S
    scaled to an arbitrary intensity, cut at ``--q-max`` (1/b), Poisson counting
    noise drawn from a fixed seed with ``--min-counts`` counts expected in the
    weakest point, and the counting error dI.
``measured_curve_background.dat``
    The same snapshot measured on top of a flat incoherent background of
    ``--background`` times the signal at 3 q1 (the upper edge of the shipped
    model's window; q1 the curve's highest bin), counts of signal plus
    background drawn from a second fixed seed, dI their counting error:
    what a reduced curve of a hydrogen-rich sample looks like before the
    background is subtracted.
``measured_curve_truth.json``
    The true densities of that snapshot in 1/A units (and in units of b), and
    the background of ``measured_curve_background.dat``.

Usage (from the repository root, after the default study has run)::

    .venv/bin/python examples/make_example.py --study default
"""

import argparse
import json
from pathlib import Path

import numpy as np

from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn.features import density_power
from scattermorph.measure.snapshots import load_dataset

HERE = Path(__file__).resolve().parent
SEGMENT_A = 6.5  # statistical segment length b in Angstrom (polystyrene-like)
INTENSITY_SCALE = 3.7e-2  # arbitrary intensity scale of the "instrument" (cm^-1 per count-like unit)
SEED = 20211209  # noise seed (the default study's seed)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default="default", help="study name under results/ (default: default)")
    ap.add_argument("--results", default="results", help="results folder (default: results)")
    ap.add_argument("--holdout", default="fh_p0.400_q1.50_r1", help="simulation kept out of the table")
    ap.add_argument("--snapshot", type=int, default=8, help="snapshot of the held-out run made 'measured' (of 12)")
    ap.add_argument("--every", type=int, default=2, help="keep every n-th snapshot in the table (default 2)")
    ap.add_argument("--q-max", type=float, default=0.9,
                    help="highest q of the 'measurement' in 1/b (default 0.9, above 5 q1 of the curve)")
    ap.add_argument("--min-counts", type=float, default=50.0,
                    help="expected counts in the weakest point (default 50: 14%% noise there)")
    ap.add_argument("--background", type=float, default=0.5,
                    help="flat background of measured_curve_background.dat in units of the signal at 3 q1 "
                         "(default 0.5: half the signal at the model window's upper edge)")
    ap.add_argument("--out", default=str(HERE), help="output folder (default: examples/)")
    args = ap.parse_args(argv)

    root = Path(args.results) / args.study
    table, arrays = load_dataset(root / "dataset.csv", root / "dataset_sq.npz")
    ndim = int(table["dimension"].iloc[0])
    names = FUNCTIONALS[ndim]
    q, s_q = arrays["q"], arrays["s_q"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    held = (table["sim_id"] == args.holdout).to_numpy()
    if not held.any():
        raise SystemExit(f"--holdout {args.holdout!r} is not a sim_id of {root / 'dataset.csv'}")
    keep = ~held & (table["snapshot"].to_numpy() % args.every == 0)
    bins = np.isfinite(s_q[keep]).any(axis=0)
    header = ["sample", "group", *names, *(f"q={v:.6g}" for v in q[bins])]
    lines = [
        "# scattermorph training table written by examples/make_example.py from "
        f"results/{args.study}; q in 1/b, densities per b^p; held out: {args.holdout}",
        ",".join(header),
    ]
    for i in np.flatnonzero(keep):
        row = table.iloc[i]
        vals = [f"{row['sim_id']}_s{int(row['snapshot']):02d}", str(row["sim_id"])]
        vals += [f"{row[n]:.9g}" for n in names]
        vals += ["" if not np.isfinite(v) else f"{v:.6g}" for v in s_q[i, bins]]
        lines.append(",".join(vals))
    (out / "training_table.csv").write_text("\n".join(lines) + "\n")

    sel = np.flatnonzero(held & (table["snapshot"].to_numpy() == args.snapshot))
    if sel.size != 1:
        raise SystemExit(f"--snapshot {args.snapshot} not found in {args.holdout}")
    i = int(sel[0])
    ok = np.isfinite(s_q[i]) & (q <= args.q_max)
    s = s_q[i, ok]
    rng = np.random.default_rng(SEED)
    expected = s / s.min() * args.min_counts
    counts = rng.poisson(expected).astype(float)
    if np.any(counts <= 0):
        raise SystemExit("a bin has zero counts: raise --min-counts")
    unit = INTENSITY_SCALE
    q_a = q[ok] / SEGMENT_A
    with open(out / "measured_curve.dat", "w") as fh:
        fh.write(
            f"# example 'measured' curve written by examples/make_example.py: {args.holdout} snapshot "
            f"{args.snapshot} of results/{args.study}\n# q in 1/A (b = {SEGMENT_A} A), I in arbitrary units "
            f"(Poisson noise, {args.min_counts:g} counts expected in the weakest point, seed {SEED}), "
            "dI = counting error\n"
        )
        fh.write("q I dI\n")
        for a, c in zip(q_a, counts):
            fh.write(f"{a:.6e} {c * unit:.6e} {np.sqrt(c) * unit:.6e}\n")
    q1 = q[ok][np.argmax(s)]
    bg_counts = args.background * float(np.interp(3 * q1, q[ok], expected))
    total = np.random.default_rng(SEED + 1).poisson(expected + bg_counts).astype(float)
    with open(out / "measured_curve_background.dat", "w") as fh:
        fh.write(
            f"# example 'measured' curve written by examples/make_example.py: {args.holdout} snapshot "
            f"{args.snapshot} of results/{args.study} on a flat background of {bg_counts * unit:.6e} "
            f"(= {args.background:g} x the signal at 3 q1)\n# q in 1/A (b = {SEGMENT_A} A), I in "
            f"arbitrary units (Poisson noise of signal + background, seed {SEED + 1}), dI = counting error\n"
        )
        fh.write("q I dI\n")
        for a, c in zip(q_a, total):
            fh.write(f"{a:.6e} {c * unit:.6e} {np.sqrt(c) * unit:.6e}\n")
    row = table.iloc[i]
    truth = {
        "source": {"study": args.study, "sim_id": args.holdout, "snapshot": args.snapshot,
                   "segment_length_A": SEGMENT_A},
        "q_unit": "1/A",
        "densities": {n: float(row[n]) / SEGMENT_A ** density_power(n, ndim) for n in names},
        "densities_per_b": {n: float(row[n]) for n in names},
        "background_of_measured_curve_background": bg_counts * unit,
    }
    (out / "measured_curve_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {out}/training_table.csv ({int(keep.sum())} rows, {int(bins.sum())} q bins), "
          f"measured_curve.dat ({ok.sum()} points), measured_curve_background.dat, measured_curve_truth.json")


if __name__ == "__main__":
    main()
