"""How ``scattermorph infer`` does on curves that cover part of the feature window: 90 % coverage and widths.

Held-out calibration curves of a study (``results/<study>/inference/calibration_set*``, runs drawn from
the prior, none in the emulator's training set) are cut to windows of q/q1 of their own q1, and the
posterior of (phi0, chi/chi_s, log10 t/tau) is computed twice with the shipped emulator: from every
feature point, the missing ends held at the curve's end values ("held", what ``infer`` did before it
handled windows), and from the feature points the curve covers
(:meth:`scattermorph.infer.posterior.ScatteringEmulator.covered_scores`, what ``infer`` does; the
refusal of narrow windows is bypassed to measure them). Background given as 0.

Usage::

    PYTHONPATH=workflow python benchmarks/measure_infer_windows.py results/default [--step 22] [--grid 16]

Prints, per window, variant and parameter, the fraction of 90 % central intervals covering the truth and
the median width over the prior's; writes ``benchmarks/results/infer_windows.csv`` (one row per curve).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from scattermorph.infer.emulatorfile import load_shipped_emulator
from scattermorph.infer.posterior import grid_posterior, study_features, summarise_posterior
from scattermorph.learn.features import window_curve

WINDOWS = [(0.3, 3.0), (0.5, 2.0), (0.3, 1.5), (0.7, 3.0)]


def _posteriors(cal, q, s, truth, n_grid):
    """Rows of one curve: each window x variant x parameter."""
    em, out = cal.emulator, []
    _, _, q1 = window_curve(q, s, cal.ndim, tuple(cal.features["x_range"]))
    for w in WINDOWS:
        cut = (q >= w[0] * q1 * (1 - 1e-9)) & (q <= w[1] * q1 * (1 + 1e-9))
        X, q1c = study_features(q[cut], s[cut][None], cal.ndim, **cal.features)
        mask, _ = cal.covered(q[cut], s[cut], q1c[0])
        held = (em.transform(X)[0], None)
        covered = em.covered_scores(X[0], mask) if not mask.all() else held
        for name, (z, extra) in (("held", held), ("covered", covered)):
            post = grid_posterior(lambda th, z=z, extra=extra: em.loglike(z, th, extra), em.lo, em.hi, n_grid)
            for p, r in summarise_posterior(post, 0.90)["params"].items():
                out.append({"window": f"[{w[0]:g}, {w[1]:g}]", "variant": name, "param": p, "true": truth[p],
                            "mean": r["mean"], "covered": bool(r["central"][0] <= truth[p] <= r["central"][1]),
                            "width_ratio": r["width_ratio"], "points": int(mask.sum())})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path, help="a study's results folder, e.g. results/default")
    ap.add_argument("--step", type=int, default=22, help="every STEP-th calibration snapshot (default 22: 24 curves)")
    ap.add_argument("--grid", type=int, default=16, help="grid cells per parameter (default 16)")
    args = ap.parse_args(argv)
    cal, _ = load_shipped_emulator()
    tab = pd.read_csv(args.study / "inference" / "calibration_set.csv")
    arrays = np.load(args.study / "inference" / "calibration_set_sq.npz")
    q, S = arrays["q"], arrays["s_q"]
    rows = []
    for r in range(0, len(tab), args.step):
        ok = np.isfinite(S[r]) & (S[r] > 0)
        truth = {"phi0": tab.loc[r, "phi0"], "quench": tab.loc[r, "quench"],
                 "log10_t": float(np.log10(tab.loc[r, "time_over_tau"]))}
        rows += [dict(x, row=r) for x in _posteriors(cal, q[ok], S[r][ok], truth, args.grid)]
    df = pd.DataFrame(rows)
    summary = df.groupby(["window", "variant", "param"], sort=False).agg(
        n=("covered", "size"), coverage_90=("covered", "mean"), width_ratio=("width_ratio", "median"))
    print(summary.round(3).to_string())
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    df.to_csv(res / "infer_windows.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
