"""CPU cost of one simulation step and one snapshot measurement vs grid size,
for the resource helpers of workflow/rules/common.smk and the cost estimate of
config/paper.yaml (docs/slurm.md; the estimate itself is in docs/results.md).

    .venv/bin/python benchmarks/bench_job_cost.py [--quick]
    .venv/bin/python benchmarks/bench_job_cost.py --quick --markdown benchmarks/results/job_cost.md \
        [--configfile config/paper.yaml] [--steps-from results/default/simulations.csv] [--measure-job]

Times are process CPU seconds (time.process_time), not wall time, so other
processes on a shared machine slow the numbers down less than they slow the
wall clock (cache and memory-bandwidth contention remain: read the load
printed). For each grid: seconds per de Gennes step of the production stepper
(Flory-Huggins, N = 100, chi = 2.5 chi_s, phi0 = 0.5, Cook noise 1e-4,
single-threaded FFTW, selective stabiliser, each step tried, checked and
accepted as the study's safeguarded steps are) after 20 warm-up steps, and seconds per snapshot of
measure_simulation (S(q) + Minkowski functionals). Prints ns per cell and the
ratio to the smallest 3D grid, so the N log N growth of the FFTs is visible;
writes benchmarks/results/job_cost.csv.

With ``--markdown PATH`` it also writes the expected cost of the study of
``--configfile`` (default config/paper.yaml) as Markdown, which
docs/results.md quotes as a generated block (``scattermorph readme``): per sweep point the
time steps to t_max, per job and for the whole study the CPU time of the
simulations and measurements, memory and disk. The step and measurement costs
are measured at the config's grid; the work space of the stepper is the
tracemalloc peak of building it and taking steps there. The number of steps
depends on the composition and quench, not on the box or the dimension (a
48^3 and a 64^2 run of the same parameters took 13,483 and 15,234 steps), so
it is read from ``--steps-from`` (simulations.csv of a finished study with the
same ``simulation.time`` settings; the mean over replicates) and measured with
a 2D run on ``--steps-grid`` cells per side for the sweep points that table
lacks (a run that blows up is reported as such).
"""

import argparse
import csv
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import numba  # noqa: E402

from scattermorph._markdown import fmt, md_table  # noqa: E402
from scattermorph.measure.scattering import q_grid  # noqa: E402
from scattermorph.measure.snapshots import measure_field  # noqa: E402
from scattermorph.sim.free_energy import run_free_energy  # noqa: E402
from scattermorph.sim.run import SELECTIVE_THETA  # noqa: E402
from scattermorph.sim.steppers import Grid, SemiImplicitSpectral, initial_condition  # noqa: E402


def blend():
    """The timed run's free energy: N = 100, chi = 2.5 chi_s, phi0 = 0.5, de Gennes gradient."""
    return run_free_energy("flory_huggins", phi0=0.5, N=100.0, quench=2.5, gradient="de_gennes",
                           kappa=1.0)


def step_seconds(shape, steps):
    model = blend()
    grid = Grid(tuple(shape), 2.0)
    stepper = SemiImplicitSpectral(
        model, grid, 0.02 * model.time_scale, noise=1e-4, selective=SELECTIVE_THETA
    )
    stepper.track_noise()  # the study's error-controlled steps keep the noise content
    rng = np.random.default_rng(0)
    phi = initial_condition(model, grid, rng, 0.01)
    stepper.set_state(phi)
    for _ in range(20):
        stepper.try_step(rng)
        stepper.accept()
    t0 = time.process_time()
    for _ in range(steps):  # as the study steps: tried, checked, accepted
        stepper.try_step(rng)
        stepper.accept()
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


def stepper_bytes(shape, steps=2):
    """Peak bytes (tracemalloc) of building the production stepper on ``shape``
    and taking ``steps`` steps: its work space, without the interpreter."""
    model = blend()
    tracemalloc.start()
    try:
        grid = Grid(tuple(shape), 2.0)
        stepper = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=1e-4,
                                       selective=SELECTIVE_THETA)
        stepper.track_noise()
        rng = np.random.default_rng(0)
        stepper.set_state(initial_condition(model, grid, rng, 0.01))
        for _ in range(steps):
            stepper.try_step(rng)
            stepper.accept()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measured_job(cfg, steps: dict) -> dict:
    """The opening of the config's most expensive job, run as the study runs
    it: its first snapshot interval (0 to t_min) with the study's stepper and
    step control, in this process. Returns the CPU seconds per step (accepted
    and retried steps both cost one), the retried fraction, the peak resident
    memory (``ru_maxrss``: interpreter, compiled kernels, FFT plans, the
    stepper's work space) and the job extrapolated to its step count."""
    import resource

    from scattermorph.sim.control import StepController
    from scattermorph.sim.run import make_stepper, simulation_generators
    from scattermorph.sim.spec import RunSpec
    from scattermorph.sim.sweep import simulation_table

    table = simulation_table(cfg)
    known = {k: v[0] for k, v in steps.items() if v[0] is not None}
    key = max(known, key=known.get)
    rec = table[(table["phi0"].round(6) == key[0]) & (table["quench"].round(6) == key[1])]
    row = rec.iloc[0].to_dict()
    small = make_stepper(RunSpec.from_row(dict(row, shape=(16,) * len(row["shape"]))))
    small.track_noise()  # compile the kernels first: the timing is of steps, not of numba
    small.set_state(np.full(small.grid.shape, row["phi0"]))
    for _ in range(3):
        small.try_step(np.random.default_rng(0))
        small.accept()
    spec = RunSpec.from_row(row)
    stepper = make_stepper(spec, threads=1)
    rng_init, rng_noise = simulation_generators(spec.seed, spec.sim_index)
    model = spec.free_energy()
    stepper.set_state(initial_condition(model, spec.grid(), rng_init, spec.init_amplitude))
    ctl = StepController(stepper, spec.accuracy, spec.largest_dt(), tolerance=spec.tolerance)
    t0 = time.process_time()
    ctl.advance_to(float(spec.snapshot_times()[0]), rng_noise)
    cpu = time.process_time() - t0
    tried = ctl.accepted + ctl.rejected
    per_step = cpu / tried
    total = known[key] * (1 + ctl.rejected / max(ctl.accepted, 1))
    snap_bytes = 4 * int(np.prod(spec.grid().shape)) * spec.n_snapshots
    return {"sim_id": spec.sim_id, "phi0": key[0], "quench": key[1], "steps_run": tried,
            "rejected": ctl.rejected, "cpu_s": cpu, "step_s": per_step,
            "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "snap_bytes": snap_bytes, "job_hours": total * per_step / 3600,
            "steps_total": known[key]}


def _load_config(path):
    import yaml

    return yaml.safe_load(Path(path).read_text())


def sweep_steps(cfg, steps_from, steps_grid, steps_dimension=2):
    """Time steps to t_max per (phi0, quench) of the config's sweep: from a
    finished study's simulations.csv where it has the point, else measured
    with a run on steps_grid^steps_dimension cells (the run itself, at a
    reduced box: it shows that the point completes). Returns {(phi0, quench):
    (steps or None, how)}."""
    import pandas as pd

    from scattermorph.errors import SimulationError
    from scattermorph.sim.run import run_simulation
    from scattermorph.sim.spec import RunSpec
    from scattermorph.sim.sweep import simulation_table

    table = simulation_table(cfg)
    known = {}
    if steps_from:
        done = pd.read_csv(steps_from)
        snaps = Path(steps_from).with_name("snapshots.csv")
        t_max = cfg["simulation"]["time"]["t_max"]
        if snaps.is_file() and not np.isclose(pd.read_csv(snaps)["time_over_tau"].max(), t_max):
            sys.exit(f"{steps_from}: its study ran to a different t_max than {t_max} tau; "
                     "give the simulations.csv of a study with the same simulation.time settings")
        for (phi0, quench), g in done.groupby(["phi0", "quench"]):
            known[(round(phi0, 6), round(quench, 6))] = (float(g["steps"].mean()), f"{steps_from} ({len(g)} runs)")
    out = {}
    for rec in table.drop_duplicates(["phi0", "quench"]).to_dict("records"):
        key = (round(rec["phi0"], 6), round(rec["quench"], 6))
        if key in known:
            out[key] = known[key]
            continue
        p = dict(rec, shape=(steps_grid,) * steps_dimension)
        t0 = time.process_time()
        try:
            _, meta = run_simulation(RunSpec.from_row(p))
            out[key] = (float(meta["steps"][-1]), f"measured, {steps_grid}^{steps_dimension} run")
        except SimulationError as exc:
            out[key] = (None, f"blew up on a {steps_grid}^{steps_dimension} run: {exc}")
        print(f"steps at phi0 {rec['phi0']}, quench {rec['quench']}: {out[key]} "
              f"({time.process_time() - t0:.0f} s CPU)", flush=True)
    return table, out


def cost_markdown(cfg, table, steps, step_s, measure_s, work_bytes, load, job=None):
    """The expected cost of the study of ``cfg`` as Markdown (see the module docstring)."""
    dim, grid = cfg["study"]["dimension"], cfg["simulation"]["grid"]
    cells = grid**dim
    n_snap = cfg["simulation"]["time"]["n_snapshots"]
    per_point = table.groupby(["phi0", "quench"]).size()
    rows, total_sim, missing, per_run = [], 0.0, [], []
    for (phi0, quench), n in per_point.items():
        st, how = steps[(round(phi0, 6), round(quench, 6))]
        if st is None:
            missing.append((phi0, quench))
            rows.append((fmt(phi0), fmt(quench), int(n), "n/a", "n/a", how))
            continue
        total_sim += n * st * step_s
        per_run.append(st * step_s / 3600)
        rows.append((fmt(phi0), fmt(quench), int(n), fmt(st, ".0f"), fmt(st * step_s / 3600), how))
    n_sims = len(table)
    measure_h = n_sims * n_snap * measure_s / 3600
    snap_bytes = 4 * cells * n_snap
    shape = "^".join((str(grid), str(dim)))
    lines = [f"Expected cost of `{cfg['study']['name']}` ({n_sims} simulations of {shape} cells, {n_snap} "
             f"snapshots each), from `benchmarks/bench_job_cost.py` (CPU seconds of one core, "
             f"load average {load:.1f} on {os.cpu_count()} cores at the start):", ""]
    lines += md_table(["quantity", "per job", "study"], [
        (f"one de Gennes step at {shape}", f"{fmt(step_s * 1e3)} ms CPU", ""),
        ("simulation to t_max (sweep points below)",
         f"{fmt(min(per_run))}-{fmt(max(per_run))} core-hours" if per_run else "n/a",
         f"{fmt(total_sim / 3600)} core-hours" + (" (without the points that blew up)" if missing else "")),
        (f"measurement of one snapshot at {shape}", f"{fmt(measure_s * 1e3)} ms CPU",
         f"{fmt(measure_h)} core-hours"),
        ("stepper work space (tracemalloc peak)", f"{fmt(work_bytes / cells)} B per cell, "
         f"{fmt(work_bytes / 1e9)} GB", ""),
        ("snapshots (float32)", f"{fmt(snap_bytes / 1e9)} GB", f"{fmt(n_sims * snap_bytes / 1e9)} GB on disk "
         "(uncompressed)"),
    ])
    if job is not None:
        lines += ["", f"Measured: the opening of the most expensive job, `{job['sim_id']}` (phi0 "
                  f"{fmt(job['phi0'])}, chi / chi_s {fmt(job['quench'])}), run as the study runs it "
                  f"(its stepper and step control, 0 to t_min): {job['steps_run']} steps "
                  f"({job['rejected']} retried) in {fmt(job['cpu_s'])} s CPU, {fmt(job['step_s'] * 1e3)} ms "
                  f"per step, peak resident memory {fmt(job['rss_bytes'] / 1e9)} GB; the job holds its "
                  f"{fmt(job['snap_bytes'] / 1e9)} GB of snapshots besides. At this rate its "
                  f"{fmt(job['steps_total'], '.0f')} steps take {fmt(job['job_hours'])} core-hours "
                  f"(estimate above: {fmt(job['steps_total'] * step_s / 3600)})."]
    lines += ["", "Time steps to t_max per sweep point (the step count does not depend on the box or the "
              "dimension):", ""]
    lines += md_table(["phi0", "chi / chi_s", "runs", "steps", f"core-hours per run at {shape}", "steps from"],
                      rows)
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer grids and steps (~1 min)")
    ap.add_argument("--markdown", help="also write the expected cost of --configfile as Markdown to this file")
    ap.add_argument("--configfile", default=str(ROOT / "config/paper.yaml"),
                    help="study whose cost --markdown estimates (default config/paper.yaml)")
    ap.add_argument("--steps-from", help="simulations.csv of a finished study with the same time settings")
    ap.add_argument("--steps-grid", type=int, default=64,
                    help="cells per side of the runs that measure missing step counts (default 64)")
    ap.add_argument("--steps-dimension", type=int, choices=(2, 3), default=2,
                    help="dimension of those runs (default 2: cheap; 3: the study's own "
                    "dimension at a reduced box, to show every point completes)")
    ap.add_argument("--measure-job", action="store_true",
                    help="with --markdown: also run the opening of the config's most expensive job "
                    "(0 to t_min at its full grid; minutes at 256^3) and extrapolate it")
    args = ap.parse_args(argv)
    numba.set_num_threads(1)  # a cluster job of the study has 1 CPU
    grids = [(128, 128), (256, 256), (48, 48, 48), (64, 64, 64)]
    if not args.quick:
        grids += [(96, 96, 96), (128, 128, 128)]
    if args.markdown:
        cfg = _load_config(args.configfile)
        study_shape = (cfg["simulation"]["grid"],) * cfg["study"]["dimension"]
        if study_shape not in grids:
            grids.append(study_shape)
    load = os.getloadavg()[0]
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
    if args.markdown:
        table, steps = sweep_steps(cfg, args.steps_from, args.steps_grid, args.steps_dimension)
        at = next(r for r in rows if r["shape"] == "x".join(map(str, study_shape)))
        work = stepper_bytes(study_shape)
        job = measured_job(cfg, steps) if args.measure_job else None
        page = cost_markdown(cfg, table, steps, at["step_s"], at["measure_s"], work, load, job)
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(page)
        print(page)


if __name__ == "__main__":
    main()
