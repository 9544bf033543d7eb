"""CPU cost of one simulation step and one snapshot measurement vs grid size,
for the resource helpers of workflow/rules/common.smk and the cost estimate of
config/paper.yaml (README, "Running on a SLURM cluster").

    .venv/bin/python benchmarks/bench_job_cost.py [--quick]

Times are process CPU seconds (time.process_time), not wall time, so other
processes on a shared machine slow the numbers down less than they slow the
wall clock (cache and memory-bandwidth contention remain: read the load
printed). For each grid: seconds per de Gennes step of the production stepper
(Flory-Huggins, N = 100, chi = 2.5 chi_s, phi0 = 0.5, Cook noise 1e-4,
single-threaded FFTW) after 20 warm-up steps, and seconds per snapshot of
measure_simulation (S(q) + Minkowski functionals). Prints ns per cell and the
ratio to the smallest 3D grid, so the N log N growth of the FFTs is visible;
writes benchmarks/results/job_cost.csv.
"""

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import numba  # noqa: E402

from scattermorph.measure import measure_field  # noqa: E402
from scattermorph.scattering import q_grid  # noqa: E402
from scattermorph.simulate import build_model, initial_condition  # noqa: E402
from scattermorph.solver import Grid, SemiImplicitSpectral  # noqa: E402


def record(shape):
    return {
        "model": "flory_huggins", "N": 100.0, "quench": 2.5, "phi0": 0.5, "gradient": "de_gennes",
        "kappa": 1.0, "noise": 1e-4, "shape": shape, "dx": 2.0,
    }


def step_seconds(shape, steps):
    p = record(shape)
    model = build_model(p)
    grid = Grid(tuple(shape), 2.0)
    stepper = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=1e-4)
    rng = np.random.default_rng(0)
    phi = initial_condition(model, grid, rng, 0.01)
    stepper.set_state(phi)
    stepper.step(20, rng)
    t0 = time.process_time()
    stepper.step(steps, rng)
    return (time.process_time() - t0) / steps


def measure_seconds(shape, snapshots=3):
    rng = np.random.default_rng(1)
    fields = (0.5 + 0.4 * np.tanh(rng.standard_normal((snapshots + 1, *shape)))).astype(np.float32)
    edges, centres = q_grid(0.04, 1.5, 128, "log")
    kw = dict(q_edges=edges, q_centres=centres, level="mean", periodic=True, connectivity=None,
              porod_window=(0.2, 0.8), porod_method="ruland", contrast=1.0)
    measure_field(fields[0], 2.0, **kw)  # warm-up: numba, FFTW plans
    t0 = time.process_time()
    for phi in fields[1:]:
        measure_field(phi, 2.0, **kw)
    return (time.process_time() - t0) / snapshots


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer grids and steps (~1 min)")
    args = ap.parse_args(argv)
    numba.set_num_threads(1)  # a cluster job of the study has 1 CPU
    grids = [(128, 128), (256, 256), (48, 48, 48), (64, 64, 64)]
    if not args.quick:
        grids += [(96, 96, 96), (128, 128, 128)]
    print(f"load average at start: {os.getloadavg()}")
    rows = []
    for shape in grids:
        cells = int(np.prod(shape))
        steps = max(5, int(2e7 / cells)) if not args.quick else max(3, int(5e6 / cells))
        s = step_seconds(shape, steps)
        m = measure_seconds(shape)
        rows.append({"shape": "x".join(map(str, shape)), "cells": cells, "step_s": s,
                     "step_ns_per_cell": 1e9 * s / cells, "measure_s": m,
                     "measure_ns_per_cell": 1e9 * m / cells})
        print(f"{rows[-1]['shape']:>12} {cells:>9} cells: step {1e3 * s:8.3f} ms "
              f"({rows[-1]['step_ns_per_cell']:6.1f} ns/cell), measure {1e3 * m:8.2f} ms/snapshot "
              f"({rows[-1]['measure_ns_per_cell']:6.1f} ns/cell)", flush=True)
    ref = next(r for r in rows if r["shape"].count("x") == 2)
    for r in rows:
        print(f"{r['shape']:>12}: step ns/cell ratio to {ref['shape']}: "
              f"{r['step_ns_per_cell'] / ref['step_ns_per_cell']:.2f}")
    print(f"load average at end: {os.getloadavg()}")
    out = ROOT / "benchmarks/results/job_cost.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
