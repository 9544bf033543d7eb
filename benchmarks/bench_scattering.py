"""Benchmark: radially averaged S(q) against its floor (one real FFT) and
against the approach a user would otherwise write (full complex FFT plus
numpy.histogram over every mode).

Usage::

    python benchmarks/bench_scattering.py [--quick]

Prints, per image size, the best time of (a) the real FFT alone, (b)
``scattermorph.measure.scattering.radial_profile`` (FFT + one compiled binning pass,
the bin plan cached per shape), (c) the numpy baseline, and the ratios
``(b) / (a)`` (target: close to 1, "one FFT plus one binning pass") and
``(c) / (b)``. Results agree to round-off (checked). Never asserts on time.
Writes ``benchmarks/results/scattering.csv``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import time
from pathlib import Path

import numpy as np
import scipy.fft as sfft

from scattermorph.measure import scattering as sc


def best(fn, repeats):
    fn()  # warm-up: numba compile, FFT plan, bin-plan cache
    out = np.inf
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def numpy_baseline(phi, dx, edges):
    """What one writes with numpy alone: full FFT, |F|^2, histogram of |k|."""
    f = np.fft.fftn(phi - phi.mean())
    p = np.abs(f) ** 2 * dx**phi.ndim / phi.size
    ks = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n, dx) for n in phi.shape], indexing="ij")
    k = np.sqrt(sum(x**2 for x in ks))
    num, _ = np.histogram(k, bins=edges, weights=p)
    cnt, _ = np.histogram(k, bins=edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / cnt, cnt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = ap.parse_args(argv)
    sizes = [(512, 512), (128, 128, 128)] if args.quick else [(2048, 2048), (128,) * 3, (256,) * 3]
    repeats = 2 if args.quick else 3
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'shape':>14} {'Mvox':>7} {'rfft s':>8} {'S(q) s':>8} {'numpy s':>8} "
          f"{'S(q)/FFT':>9} {'numpy/S(q)':>11}  agree")
    for shape in sizes:
        phi = rng.random(shape).astype(np.float32)
        dx = 1.0
        edges = np.geomspace(2 * np.pi / shape[0], np.pi, 129)
        t_fft = best(lambda: sfft.rfftn(phi.astype(float) - phi.mean(), workers=1), repeats)
        t_sq = best(lambda: sc.radial_profile(phi, dx, edges), repeats)
        t_np = best(lambda: numpy_baseline(phi.astype(float), dx, edges), 1)
        a, ca = sc.radial_profile(phi, dx, edges)
        b, cb = numpy_baseline(phi.astype(float), dx, edges)
        ok = np.array_equal(ca, cb) and np.allclose(a, b, rtol=1e-9, equal_nan=True)
        mvox = np.prod(shape) / 1e6
        print(f"{'x'.join(map(str, shape)):>14} {mvox:7.1f} {t_fft:8.3f} {t_sq:8.3f} {t_np:8.3f} "
              f"{t_sq / t_fft:9.2f} {t_np / t_sq:11.1f}  {ok}")
        rows.append(dict(shape="x".join(map(str, shape)), mvoxel=mvox, rfft_s=t_fft,
                         radial_profile_s=t_sq, numpy_baseline_s=t_np,
                         ratio_to_fft=t_sq / t_fft, numpy_over_ours=t_np / t_sq, agree=ok))
    out = Path(__file__).with_name("results") / "scattering.csv"
    out.parent.mkdir(exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"load average {os.getloadavg()}; CSV written to {out}")


if __name__ == "__main__":
    main()
