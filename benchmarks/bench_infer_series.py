"""What a time series of curves buys the inference: posterior widths and coverage, one curve vs a series.

On the inference stage's calibration runs (simulations the emulator never saw,
phi0, chi/chi_s and log t drawn from the prior; 11 snapshots each in the default
study), each run's snapshots form a series of one quench. For one curve (every
snapshot on its own), and for series of 3, 5 and all snapshots (evenly spaced
over the run's), the joint posterior of :mod:`scattermorph.infer.series` with
the shipped emulator (``models/emulator.npz``, trained on every run of the
default study), in both modes: ``free`` (each curve's age integrated out) and
``timed`` (the time stamps' ratios known, the time unit tau a nuisance), each
with the curves' emulator residuals independent (the plain product) and
correlated as the training runs' leave-one-run-out residuals are
(:func:`scattermorph.infer.series.residual_correlation`).
Printed per parameter: the median 90 % width / prior width, the RMS error of
the posterior mean, and the coverage of the central and HPD 90 % intervals,
with the 95 % binomial band of the coverage for the runs as independent units
(the series of one run are one draw each; a single snapshot's band is the
snapshots' one, with 48 runs of 11 correlated snapshots between the two).

Usage::

    PYTHONPATH=workflow python benchmarks/bench_infer_series.py \\
        [--inference results/default/inference] [--grid 32]

Writes ``benchmarks/results/bench_infer_series.csv`` (one row per run, series
size, mode and residual model) and prints the table. About 11 min on 2 busy cores (528 single-curve and
192 series posteriors on a 32^3 grid).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from scattermorph.infer.emulatorfile import load_shipped_emulator
from scattermorph.infer.posterior import study_features, study_parameters
from scattermorph.infer.series import SeriesGrid, series_posterior
from scattermorph.learn.metrics import coverage_band
from scattermorph.measure.snapshots import load_dataset

SIZES = (1, 3, 5, 0)  # 0: every snapshot of the run


def pick(n_snap: int, size: int) -> np.ndarray:
    """Indices of ``size`` snapshots evenly spaced over a run's ``n_snap`` (0: all)."""
    if size == 0 or size >= n_snap:
        return np.arange(n_snap)
    return np.unique(np.round(np.linspace(0, n_snap - 1, size)).astype(int))


def series_rows(grid, table, Z, theta) -> list[dict]:
    """One row per (run, series size, mode); single curves: one row per snapshot."""
    rows, correlation = [], grid.correlation
    for run, idx in table.groupby("sim_id", sort=True).indices.items():
        idx = idx[np.argsort(table["time"].to_numpy()[idx])]
        for size in SIZES:
            sets = [[i] for i in idx] if size == 1 else [idx[pick(idx.size, size)]]
            for sel in sets:
                sel = np.asarray(sel)
                variants = [("free", "-")] if size == 1 else [(m, c) for m in ("free", "timed")
                                                               for c in ("independent", "correlated")]
                for mode, residuals in variants:
                    times = table["time"].to_numpy()[sel] if mode == "timed" else None
                    grid.correlation = correlation if residuals == "correlated" else None
                    res = series_posterior(grid, Z[sel], times=times, truth=theta[sel[0]])
                    row = {"run": run, "size": sel.size if size else "all", "n_curves": sel.size, "mode": mode,
                           "residuals": residuals, "tempering": res["tempering"]}
                    for name, r in res["posterior"]["params"].items():
                        row.update({f"{name}_width_ratio": r["width_ratio"], f"{name}_mean": r["mean"],
                                    f"{name}_true": r["truth"], f"{name}_covered_central": r["covered_central"],
                                    f"{name}_covered_hpd": r["covered_hpd"], f"{name}_quantile": r["quantile"]})
                    rows.append(row)
    return rows


def table_text(df: pd.DataFrame) -> str:
    """The printed table: widths, errors and coverage per series size and mode."""
    lines = ["| curves | ages | residuals | parameter | 90 % width / prior width (median) | RMS error of the mean | "
             "central 90 % coverage | HPD 90 % coverage | band (runs independent) | n |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (size, mode, residuals), g in df.groupby(["size", "mode", "residuals"], sort=False):
        for name, label in (("phi0", "phi0"), ("quench", "chi/chi_s"), ("log10_t", "log10 t/tau (first)")):
            lo, hi = coverage_band(g["run"].nunique(), 0.9, 0.95)
            rms = np.sqrt(np.mean((g[f"{name}_mean"] - g[f"{name}_true"]) ** 2))
            lines.append(f"| {size} | {mode} | {residuals} | {label} | {g[f'{name}_width_ratio'].median():.2f} | {rms:.3g} | "
                         f"{g[f'{name}_covered_central'].mean():.2f} | {g[f'{name}_covered_hpd'].mean():.2f} | "
                         f"{lo:.2f}-{hi:.2f} | {len(g)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inference", default=str(ROOT / "results" / "default" / "inference"),
                    help="the inference stage's folder (calibration_set.csv, calibration_set_sq.npz)")
    ap.add_argument("--grid", type=int, default=32, help="cells per parameter (default 32)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_infer_series.csv"))
    args = ap.parse_args(argv)
    d = Path(args.inference)
    table, arrays = load_dataset(d / "calibration_set.csv", d / "calibration_set_sq.npz")
    cal, path = load_shipped_emulator()
    X, _ = study_features(arrays["q"], arrays["s_q"], cal.ndim, **cal.features)
    Z, theta = cal.emulator.transform(X), study_parameters(table)
    t0 = time.perf_counter()
    grid = SeriesGrid(cal.emulator, args.grid)
    t_grid = time.perf_counter() - t0
    df = pd.DataFrame(series_rows(grid, table, Z, theta))
    print(f"emulator {path}; {table['sim_id'].nunique()} calibration runs, {len(table)} snapshots; grid {args.grid}^3; "
          f"tables {t_grid:.1f} s, posteriors {time.perf_counter() - t0 - t_grid:.1f} s (busy machine)")
    print(table_text(df))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
