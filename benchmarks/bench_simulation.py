#!/usr/bin/env python
"""Timings and ratios of the Cahn-Hilliard-Cook solvers on this machine.

Run from the repository root::

    python benchmarks/bench_simulation.py            # full run, ~10 min on 2 cores
    python benchmarks/bench_simulation.py --quick    # ~2 min

Five sections, each printed as a table:

1. **FFT floor**: one forward + inverse real FFT pair (``scattermorph.fft.FFTPair``
   with the ``fftw`` back end: FFTW_ESTIMATE plans, the solver's default, and
   ``plan="measure"``, FFTW_MEASURE plans rebuilt from the wisdom cache
   (``--wisdom``; measured once per shape and thread count); ``scipy``).
2. **One semi-implicit step** (``SemiImplicitSpectral.step(1)``) for the
   Flory-Huggins-de Gennes blend with a constant and a de Gennes gradient, with
   and without Cook noise, and for the Landau model, and one *production* step
   (de Gennes + noise, selective stabiliser, ``try_step`` + ``accept`` as
   :class:`~scattermorph.sim.control.StepController` takes it), each with
   estimated and measured plans. ``ratio = step time / (FFT pairs the step
   needs x FFT pair time)`` of the same plans; the target of the issue is
   ``ratio <= 1.5`` with the best (measured) plans. A breakdown into the
   pointwise passes (log, arcsin, RNG ...) shows where the time beyond the FFTs
   goes, beside numpy's SIMD ``np.log`` / ``np.arcsin`` and a plain copy over
   the same array as the floors of a vectorised transcendental and of memory
   traffic (2b; it raises, rather than skips, if the solver's internals it
   times have changed).
2c. **Threads**: one de Gennes + noise step and one FFT pair on 1, 2 and all
   cores at 64^3, 96^3, 128^3, estimated and measured plans: speed-up, step /
   FFT-pair ratio, and whether the fields are bit-identical across thread
   counts (target: 2-thread speed-up >= 1.7 at 128^3).
3. **Time to solution** against the explicit-Euler finite-difference reference:
   same initial condition, same physical end time, the semi-implicit run with the
   production step schedule. Reports the wall-time ratio explicit / semi-implicit
   (target >= 50) and the relative difference of the characteristic length
   (must be <= 2 %); a run with the largest fixed step that meets the 2 % gives
   the speed-up at the accuracy target.
4. Reference numbers of other Cahn-Hilliard codes (printed, not measured).

Every time is the minimum over repeats of the mean time per call in a batch of
calls (another process may share the CPU: the minimum is the least disturbed
estimate). Nothing here asserts on a time; it only prints. The numbers also go
to ``benchmarks/results/simulation.csv`` (long format: one measurement a row).
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import scattermorph
except ImportError:  # running from a source tree without the editable install
    sys.path.insert(0, str(HERE.parent / "workflow"))
    import scattermorph

from scattermorph.fft import HAVE_FFTW, FFTPair, rfft_shape, wisdom_path
from scattermorph.measure.scattering import characteristic_length
from scattermorph.sim import noise as N
from scattermorph.sim import steppers as S
from scattermorph.sim.control import integrate
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau
from scattermorph.sim.run import SELECTIVE_THETA
from scattermorph.sim.spec import RunSpec

try:
    import pyfftw
except ImportError:  # pragma: no cover
    pyfftw = None

perf = time.perf_counter

#: per-mode settings; shapes are (n, n) or (n, n, n)
MODES = {
    "full": dict(
        shapes=[(256, 256), (512, 512), (64, 64, 64), (128, 128, 128)],
        repeats=30,
        target=0.02,  # seconds per timed batch: short batches dodge other processes
        tts_sizes=[128, 256],
        thread_shapes=[(64, 64, 64), (96, 96, 96), (128, 128, 128)],
        explicit_budget=60.0,  # seconds per explicit run
        semi_repeats=3,
    ),
    "quick": dict(
        shapes=[(256, 256), (512, 512), (64, 64, 64), (128, 128, 128)],
        repeats=15,
        target=0.01,
        tts_sizes=[128],
        thread_shapes=[(64, 64, 64), (96, 96, 96), (128, 128, 128)],
        explicit_budget=20.0,
        semi_repeats=2,
    ),
}

STEP_TARGET = 1.5  # semi-implicit step <= 1.5 x the FFT pairs it needs (best plans)
#: the plans sections 1-2c time: the solver's default and, with FFTW, the measured ones
PLANS = ["estimate", "measure"] if HAVE_FFTW else ["estimate"]
#: wisdom cache of the measured plans (--wisdom; None: scattermorph.fft.wisdom_path())
WISDOM = None
THREAD_TARGET = 1.7  # 2-thread speed-up of one 3D de Gennes + noise step at 128^3
#: thread counts of section 2c: 1, 2 and all the machine's cores
THREAD_COUNTS = sorted({1, 2, os.cpu_count() or 1})
SPEEDUP_TARGET = 50.0  # time to solution: explicit / semi-implicit >= 50
LENGTH_TOL = 0.02  # characteristic lengths must agree within 2 %
T_END_TAU = 20.0  # preferred end time of the time-to-solution runs, in tau
DX = 2.0  # production cell size (b)
SEED = 20211209

RECORDS: list[dict] = []


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def record(section, case, shape, metric, value, unit=""):
    RECORDS.append(
        dict(
            section=section,
            case=case,
            shape=shape_str(shape),
            metric=metric,
            value=value,
            unit=unit,
        )
    )


def shape_str(shape) -> str:
    if shape is None or isinstance(shape, str):
        return shape or ""
    return "x".join(str(s) for s in shape)


def progress(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


class Timer:
    """One thing to time: ``fn()`` in batches, ``setup()`` untimed before each batch."""

    def __init__(self, key, fn, setup=None, max_batch: int = 10**6):
        self.key, self.fn, self.setup, self.max_batch = key, fn, setup, max_batch
        self.n = 1
        self.best = math.inf

    def calibrate(self, target: float) -> None:
        """One untimed call (warm-up: numba, caches) sets the batch size."""
        if self.setup is not None:
            self.setup()
        t0 = perf()
        self.fn()
        t1 = perf() - t0
        self.n = max(1, min(self.max_batch, int(target / max(t1, 1e-9))))

    def batch(self) -> None:
        if self.setup is not None:
            self.setup()
        fn, n = self.fn, self.n
        t0 = perf()
        for _ in range(n):
            fn()
        self.best = min(self.best, (perf() - t0) / n)


def best_times(timers, *, repeats: int, target: float) -> dict:
    """Minimum over ``repeats`` batches of the mean seconds per call, per timer.

    The repeats are interleaved (round robin over the timers), so that a
    disturbance by another process hits all of them alike and the ratios
    between them stay meaningful. The garbage collector is off while timing.
    """
    for t in timers:
        t.calibrate(target)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for t in timers:
                t.batch()
    finally:
        if was_enabled:
            gc.enable()
    return {t.key: t.best for t in timers}


def best_time(fn, *, repeats: int, target: float, setup=None) -> float:
    return best_times([Timer(0, fn, setup)], repeats=repeats, target=target)[0]


def fmt_ms(seconds: float) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.1f}"
    if ms >= 10:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def fmt_s(seconds: float) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    return f"{seconds:.2f}" if seconds < 100 else f"{seconds:.1f}"


def fmt_x(ratio: float, digits: int = 2) -> str:
    if ratio is None or not np.isfinite(ratio):
        return "-"
    return f"{ratio:.{digits}f}" if ratio < 100 else f"{ratio:.0f}"


def print_table(title: str, headers: list[str], rows: list[list], notes=()) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print()
    print(title)
    print("=" * len(title))
    print(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths))
        )
    )
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths))
            )
        )
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    import numba
    import scipy

    out = {
        "scattermorph": getattr(scattermorph, "__version__", "?"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }
    if pyfftw is not None:
        out["pyfftw"] = pyfftw.__version__
    return out


def fh_model(gradient: str, quench: float = 2.0, phi0: float = 0.5, N: float = 100.0):
    chi_s = 1.0 / (2.0 * N * phi0 * (1.0 - phi0))
    return FloryHugginsDeGennes(N=N, chi=quench * chi_s, phi0=phi0, gradient=gradient)


# --------------------------------------------------------------------------
# 1. + 2. FFT floor, one semi-implicit step and its passes
# --------------------------------------------------------------------------
STEP_CASES = [
    # label, model factory, noise, FFT pairs per step
    ("FH constant", lambda: fh_model("constant"), 0.0, 1),
    ("FH constant", lambda: fh_model("constant"), 1e-4, 1),
    ("FH de_gennes", lambda: fh_model("de_gennes"), 0.0, 2),
    ("FH de_gennes", lambda: fh_model("de_gennes"), 1e-4, 2),
    ("Landau", lambda: Landau(phi0=0.5, kappa=1.0), 0.0, 1),
]

PASSES = [
    # label, timer key
    ("mu FH: log pass", "mu_fh"),
    ("mu Landau: cubic pass", "mu_landau"),
    ("psi: arcsin pass", "psi"),
    ("lap psi: complex scale", "scale_mul"),
    ("mu de Gennes: log+sqrt pass", "mu_degennes"),
    ("update (no noise)", "update"),
    ("update (noise drawn inside)", "update_noise"),
    ("counter-based normals (solver)", "normals"),
    ("numpy rng.standard_normal (old)", "rng"),
    ("draw noise to array (normals + Hermitian)", "draw_noise"),
    ("real-space check + history copy (production)", "pc_error"),
    ("reference: numpy np.log (SIMD), same array", "np_log"),
    ("reference: numpy np.arcsin (SIMD), same array", "np_arcsin"),
    ("reference: np.copyto of one real field", "copy"),
]


def _max_pairs(shape) -> int:
    """Pairs in a row before an unnormalised round trip overflows float64.

    Each forward + inverse pair multiplies the field by its size; data of
    order 1 stay far from overflow (and from inf/NaN arithmetic) for
    ``900 / log2(size)`` pairs; the field is reset before every batch.
    """
    return max(1, int(900 / math.log2(int(np.prod(shape)))))


def _stepper(model, shape, noise, plan="estimate", threads=1, selective=0.0):
    grid = S.Grid(shape, DX)
    st = S.SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=noise,
                                fft_plan=plan, fft_wisdom=WISDOM, threads=threads,
                                selective=selective)
    phi0 = S.initial_condition(model, grid, np.random.default_rng(SEED), amplitude=0.01)
    return st, phi0


def _fft_timers(shape, data):
    timers, plan_s = [], math.nan
    for backend in ["fftw", "scipy"] if HAVE_FFTW else ["scipy"]:
        pair = FFTPair(shape, backend)

        def run(pair=pair):
            pair.forward()
            pair.inverse()

        timers.append(
            Timer(
                ("fft", backend),
                run,
                lambda pair=pair: np.copyto(pair.real, data),
                _max_pairs(shape),
            )
        )
    if "measure" in PLANS:
        t0 = perf()
        pair = FFTPair(shape, "fftw", plan="measure", wisdom=WISDOM)
        plan_s = perf() - t0

        def run_m(pair=pair):
            pair.forward()
            pair.inverse()

        timers.append(
            Timer(
                ("fft", "fftw_measure"),
                run_m,
                lambda pair=pair: np.copyto(pair.real, data),
                _max_pairs(shape),
            )
        )
    return timers, plan_s


def _step_timers(shape):
    timers = []
    for plan in PLANS:
        for label, make, noise, _pairs in STEP_CASES:
            st, phi0 = _stepper(make(), shape, noise, plan)
            rng = np.random.default_rng(SEED + 1)
            st.set_state(phi0)
            st.step(2, rng)  # numba compile / cache load, first touch of the buffers

            def run(st=st, rng=rng):
                st.step(1, rng)

            timers.append(
                Timer(
                    ("step", label, noise, plan), run,
                    lambda st=st, phi0=phi0: st.set_state(phi0)
                )
            )
        timers.append(_production_timer(shape, plan))
    return timers


def _production_timer(shape, plan, threads=1):
    """One production step: de Gennes + noise, selective stabiliser, taken by
    try_step + accept (the real-space check and history of the safeguarded
    steps included), as the study's StepController takes it."""
    st, phi0 = _stepper(fh_model("de_gennes"), shape, 1e-4, plan, threads, SELECTIVE_THETA)
    rng = np.random.default_rng(SEED + 1)

    def run(st=st, rng=rng):
        st.try_step(rng)
        st.accept()

    def setup(st=st, phi0=phi0):
        st.set_state(phi0)
        run()  # the first step after set_state is first order and has no history

    setup()
    return Timer(("prod", plan, threads), run, setup)


def _pass_timers(shape):
    """The pointwise passes of a step on their own (uses solver internals).

    Raises if the internals this section times are gone: a benchmark that
    silently skips a section is a defect (issue 13).
    """
    names = {"_mu_fh": S, "_mu_landau": S, "_psi": S, "_scale_mul": S, "_mu_fh_degennes": S,
             "_update": S, "standard_normals": N, "_pc_error": S}
    k = {n: getattr(module, n, None) for n, module in names.items()}
    missing = [n for n, f in k.items() if f is None]
    st, phi = _stepper(fh_model("de_gennes"), shape, 1e-4)
    missing += [a for a in ("_noise_key", "_draw_noise", "_kabs", "_weight", "lap_symbol")
                if not hasattr(st, a)]
    if missing:
        raise RuntimeError(
            f"section 2b: scattermorph.sim.steppers / .noise no longer have {missing}; update "
            "benchmarks/bench_simulation.py (_pass_timers) to the new internals"
        )
    cshape = rfft_shape(shape)
    g = np.random.default_rng(2)
    out = np.empty(shape)
    lap = g.normal(0, 1e-4, size=shape)
    spec = g.normal(size=cshape) + 1j * g.normal(size=cshape)
    spec_out = np.empty(cshape, dtype=complex)
    phihat = spec.copy()
    prev = spec.copy()
    mu_prev = spec.copy()
    nokey = np.empty(0, dtype=np.uint64)
    buf = np.empty(2 * int(np.prod(cshape)))
    rng = np.random.default_rng(5)
    key = st._noise_key(rng)
    h1, h2, h3 = phi.copy(), phi.copy(), np.empty(shape)
    two_phi_m1 = 2.0 * phi - 1.0

    def update(noise_key):
        # first-order coefficients (om = 0: the repeated update stays bounded;
        # the second-order one does the same arithmetic)
        return k["_update"](phihat, prev, spec, mu_prev, st.k2, st._kabs, st._weight, 0.0,
                            0.1, 1.0, 1.0, 0.0, 0.0, 0.1, 0.1, noise_key, 1e-3,
                            1.0 / phi.size, spec_out)

    fns = {
        "mu_fh": lambda: k["_mu_fh"](phi, out, 0.01, 0.04),
        "mu_landau": lambda: k["_mu_landau"](phi, out),
        "psi": lambda: k["_psi"](phi, out),
        "scale_mul": lambda: k["_scale_mul"](spec, st.lap_symbol, spec_out),
        "mu_degennes": lambda: k["_mu_fh_degennes"](phi, lap, out, 0.01, 0.04),
        "update": lambda: update(nokey),
        "update_noise": lambda: update(key),
        "normals": lambda: k["standard_normals"](key, buf),
        "rng": lambda: rng.standard_normal(out=buf),
        "draw_noise": lambda: st._draw_noise(rng),
        "pc_error": lambda: k["_pc_error"](phi, h1, h2, h3, 0.5),
        "np_log": lambda: np.log(phi, out=out),
        "np_arcsin": lambda: np.arcsin(two_phi_m1, out=out),
        "copy": lambda: np.copyto(out, phi),
    }
    return [Timer(("pass", key_), fns[key_]) for _, key_ in PASSES]


#: timer key of the FFT pair of each plan
_FFT_KEY = {"estimate": "fftw", "measure": "fftw_measure"}


def bench_kernels(shapes, cfg) -> None:
    """Sections 1, 2 and 2b: every timer of one shape is measured interleaved."""
    res, plans = {}, {}
    for shape in shapes:
        progress(f"FFT pairs, steps and passes at {shape_str(shape)}")
        data = np.random.default_rng(SEED).uniform(0.25, 0.75, size=shape)
        fft_t, plans[shape] = _fft_timers(shape, data)
        pass_t = _pass_timers(shape)
        timers = fft_t + _step_timers(shape) + pass_t
        res[shape] = best_times(timers, repeats=cfg["repeats"], target=cfg["target"])
        del timers, fft_t, pass_t

    # ---- 1. FFT floor
    rows = []
    for shape in shapes:
        r = res[shape]
        ref = r.get(("fft", "fftw"), r[("fft", "scipy")])
        for name, label in [
            ("fftw", "FFTPair fftw ESTIMATE (default)"),
            ("scipy", "FFTPair scipy (pocketfft)"),
            ("fftw_measure", "FFTPair fftw MEASURE (cached)"),
        ]:
            if ("fft", name) not in r:
                continue
            t = r[("fft", name)]
            note = f"planned in {plans[shape]:.2f} s" if name == "fftw_measure" else ""
            rows.append([shape_str(shape), label, fmt_ms(t), fmt_x(t / ref), note])
            record("fft", name, shape, "pair_seconds", t, "s")
            record("fft", name, shape, "ratio_vs_solver_pair", t / ref)
            if name == "fftw_measure":
                record("fft", name, shape, "plan_seconds", plans[shape], "s")
    print_table(
        "1. FFT floor: one forward + inverse real FFT pair (float64, 1 thread)",
        ["shape", "back end", "best ms/pair", "x solver pair", "note"],
        rows,
        notes=[
            "'solver pair' = FFTPair('fftw'), FFTW_ESTIMATE plans: what SemiImplicitSpectral runs by default.",
            "MEASURE = FFTPair('fftw', plan='measure') (simulation.fft_plan: measure), rebuilt from the",
            f"wisdom cache {wisdom_path(WISDOM) if HAVE_FFTW else '-'} ('planned in' includes measuring",
            "when the cache did not hold the shape yet).",
        ],
    )

    # ---- 2. one step
    rows = []
    for shape in shapes:
        r = res[shape]
        rng_t = r[("pass", "normals")]
        record("step", "counter-based normals", shape, "seconds", rng_t, "s")
        record("step", "counter-based normals", shape, "values",
               2 * int(np.prod(rfft_shape(shape))))
        cases = [(label, noise, pairs, ("step", label, noise)) for label, _m, noise, pairs
                 in STEP_CASES] + [("production", 1e-4, 2, ("prod",))]
        for label, noise, pairs, key in cases:
            row = [shape_str(shape), label, f"{noise:g}", pairs]
            for plan in PLANS:
                pair_t = r.get(("fft", _FFT_KEY[plan]), r[("fft", "scipy")])
                t = r[key + (plan,) if key[0] == "step" else key + (plan, 1)]
                ratio = t / (pairs * pair_t)
                case = f"{label.replace(' ', '/')}/noise={noise:g}/{plan}"
                record("step", case, shape, "step_seconds", t, "s")
                record("step", case, shape, "fft_pairs", pairs)
                record("step", case, shape, "ratio_vs_fft_pairs", ratio)
                row += [fmt_ms(t), fmt_ms(pairs * pair_t), fmt_x(ratio)]
            row.append("yes" if ratio <= STEP_TARGET else "NO")  # the last plan: the best
            rows.append(row)
    heads = []
    for plan in PLANS:
        heads += [f"step ms {plan}", f"pairs ms {plan}", f"ratio {plan}"]
    print_table(
        "2. One semi-implicit step (SemiImplicitSpectral, fft='auto', laplacian='spectral')",
        ["shape", "model", "noise", "pairs"] + heads + [f"<= {STEP_TARGET:g}x ({PLANS[-1]})?"],
        rows,
        notes=[
            "ratio = step / (pairs x best FFTPair('fftw') pair of the same plans); target of the issue:",
            f"<= {STEP_TARGET:g} with the best plans (measure). step(1) except 'production': FH de Gennes",
            "+ noise, selective stabiliser, try_step + accept (StepController's steps).",
            "FH = FloryHugginsDeGennes(N=100, chi=0.04, phi0=0.5) (quench 2), Landau(phi0=0.5, kappa=1);",
            "initial_condition amplitude 0.01, dt = 0.02 tau, dx = 2. The noise is drawn inside the update",
            "pass; its cost alone is 'counter-based normals' in 2b.",
        ],
    )

    # ---- 2b. breakdown, with the best plans
    best = PLANS[-1]
    fkey = ("fft", _FFT_KEY[best]) if HAVE_FFTW else ("fft", "scipy")
    rows = []
    derived = {}
    for shape in shapes:
        r = res[shape]
        p = {key: r[("pass", key)] for _, key in PASSES}
        f = r[fkey]
        derived[shape] = d = {}
        dg = 2 * f + p["psi"] + p["scale_mul"] + p["mu_degennes"]
        d["FH constant, noise 0"] = (f + p["mu_fh"] + p["update"],
                                     r[("step", "FH constant", 0.0, best)])
        d["FH constant, noise 1e-4"] = (f + p["mu_fh"] + p["update_noise"],
                                        r[("step", "FH constant", 1e-4, best)])
        d["FH de Gennes, noise 0"] = (dg + p["update"], r[("step", "FH de_gennes", 0.0, best)])
        d["FH de Gennes, noise 1e-4"] = (dg + p["update_noise"],
                                         r[("step", "FH de_gennes", 1e-4, best)])
        d["production (de Gennes, noise, try_step)"] = (dg + p["update_noise"] + p["pc_error"],
                                                        r[("prod", best, 1)])
        d["Landau"] = (f + p["mu_landau"] + p["update"], r[("step", "Landau", 0.0, best)])
        for label, key in PASSES:
            record("breakdown", key, shape, "seconds", p[key], "s")
        for label, (parts, meas) in d.items():
            record("breakdown", f"sum of parts: {label}", shape, "seconds", parts, "s")

    def cell(v, f):
        return f"{fmt_ms(v)} ({fmt_x(v / f)})"

    fpair = {s: res[s][fkey] for s in shapes}
    rows.append([f"FFT pair (fftw {best})"] + [cell(fpair[s], fpair[s]) for s in shapes])
    for label, key in PASSES:
        rows.append([label] + [cell(res[s][("pass", key)], fpair[s]) for s in shapes])
    for label in derived[shapes[0]]:
        rows.append(
            [f"sum of parts: {label}"]
            + [cell(derived[s][label][0], fpair[s]) for s in shapes]
        )
        rows.append(
            [f"measured step: {label}"]
            + [cell(derived[s][label][1], fpair[s]) for s in shapes]
        )
    print_table(
        "2b. Where a step's time goes: best ms per pass (in brackets: in units of one FFT pair)",
        ["pass"] + [shape_str(s) for s in shapes],
        rows,
        notes=[
            "Passes are the numba kernels of scattermorph.sim.steppers and .noise called on their own (out of place, 1 thread);",
            "a noisy step draws its normals inside the update pass (row by row), so 'update (noise drawn",
            "inside)' includes them; 'draw noise to array' is the same numbers written out (tests, diagnostics).",
            "'sum of parts' adds the FFT pairs and passes one step runs; measured - sum = Python overhead",
            "and cache misses (a pass timed alone finds its data in cache, inside a step the FFTs evicted it).",
            "References: numpy's SIMD np.log / np.arcsin over the same field (1 ulp from libm: not the",
            "solver's bits) and a copy of one field: the floors of a vectorised transcendental and of",
            "memory traffic; numba calls scalar libm log / asin (no SVML in PyPI's llvmlite).",
        ],
    )


# --------------------------------------------------------------------------
# 2c. thread speed-up
# --------------------------------------------------------------------------
def bench_threads(shapes, cfg) -> None:
    """One production step (de Gennes + noise, try_step + accept) and one FFT
    pair on 1, 2, ... threads, estimated and measured plans; the fields of
    the thread counts are checked bit for bit."""
    rows = []
    for shape in shapes:
        progress(f"thread speed-up at {shape_str(shape)}")
        data = np.random.default_rng(SEED).uniform(0.25, 0.75, size=shape)
        timers, fields, used = [], {}, {}
        for plan in PLANS:
            for n in THREAD_COUNTS:
                st, phi0 = _stepper(fh_model("de_gennes"), shape, 1e-4, plan, n, SELECTIVE_THETA)
                st.set_state(phi0)
                rng = np.random.default_rng(SEED + 1)
                for _ in range(3):
                    st.try_step(rng)
                    st.accept()
                fields[plan, n] = st.phi.copy()
                used[plan, n] = st.fft.threads
                timers.append(_production_timer(shape, plan, n))
                pair = FFTPair(shape, "auto", threads=n, plan=plan, wisdom=WISDOM)

                def run(pair=pair):
                    pair.forward()
                    pair.inverse()

                timers.append(Timer(("fft", plan, n), run,
                                    lambda pair=pair: np.copyto(pair.real, data),
                                    _max_pairs(shape)))
        r = best_times(timers, repeats=max(3, cfg["repeats"] // 3), target=cfg["target"])
        for plan in PLANS:
            same = all(np.array_equal(fields[plan, 1], fields[plan, n]) for n in THREAD_COUNTS)
            case = f"production/{plan}"
            for n in THREAD_COUNTS:
                step_t, fft_t = r[("prod", plan, n)], r[("fft", plan, n)]
                sp = r[("prod", plan, 1)] / step_t
                fsp = r[("fft", plan, 1)] / fft_t
                ratio = step_t / (2 * fft_t)
                record("threads", case, shape, f"step_seconds_{n}t", step_t, "s")
                record("threads", case, shape, f"speedup_{n}t", sp)
                record("threads", f"fft pair/{plan}", shape, f"speedup_{n}t", fsp)
                record("threads", case, shape, f"ratio_vs_fft_pairs_{n}t", ratio)
                target = ""
                if n == 2 and shape == (128, 128, 128):
                    target = "yes" if sp >= THREAD_TARGET else "NO"
                rows.append([shape_str(shape), plan, f"{n} ({used[plan, n]})", fmt_ms(step_t),
                             fmt_x(sp), fmt_ms(fft_t), fmt_x(fsp), fmt_x(ratio),
                             "yes" if same else "NO", target])
            record("threads", case, shape, "bit_identical", int(same))
    print_table(
        "2c. Threads: one production step (FH de Gennes + noise 1e-4) and one FFT pair on n threads",
        ["shape", "plans", "threads (FFT)", "step ms", "step speed-up", "FFT pair ms",
         "FFT speed-up", "step / 2 pairs", "fields bit-identical", f">= {THREAD_TARGET:g}x?"],
        rows,
        notes=[
            "SemiImplicitSpectral(..., threads=n, selective=1), try_step + accept: pyFFTW threads and the",
            "solver's pool of threads over fixed chunks; '(FFT)': the threads its FFTs use (measured plans",
            "whose threaded pair differed in round-off from the one-thread pair run on one thread).",
            "'fields bit-identical': 3 steps from the same state and seed equal those of 1 thread bit for",
            "bit. Target of the issue: 2-thread speed-up >= 1.7 at 128^3.",
            "Speed-ups need idle cores: check the load average printed above.",
        ],
    )


# --------------------------------------------------------------------------
# 3. time to solution
# --------------------------------------------------------------------------
def _snapshot_times(t_end_tau: float, tau: float) -> np.ndarray:
    """The production snapshot times (5 .. 500 tau, 20 log-spaced) up to ``t_end``.

    The accuracy-controlled steps land on every snapshot, so the run follows
    the production study exactly until ``t_end``.
    """
    prod = np.geomspace(5.0, 500.0, 20)
    keep = prod[prod < t_end_tau * (1 - 1e-9)]
    return tau * np.concatenate([keep, [t_end_tau]])


def _round_down(t: float) -> float:
    step = 1.0 if t >= 5 else 0.5
    return max(0.5, math.floor(t / step) * step)


def _production_accuracy() -> float:
    import yaml

    with open(HERE.parent / "config.yaml") as fh:
        return float(yaml.safe_load(fh)["simulation"]["time"]["accuracy"])


#: accuracy of the production runs (config.yaml simulation.time.accuracy)
PRODUCTION_ACCURACY = _production_accuracy()

#: fixed steps (units of tau) tried, largest first, for the accuracy-matched run
FIXED_DTS = (0.02, 0.01, 0.005, 0.0025, 0.00125)


def _semi_run(model, grid, phi_init, times, *, lap, dt0, dt_max, accuracy=None, order=2):
    """One semi-implicit run as run_simulation does it; (wall s, steps, final field).

    ``accuracy`` given: the production, accuracy-controlled second-order run;
    otherwise fixed steps ``dt0`` of the given order.
    """
    production = accuracy is not None
    st = S.SemiImplicitSpectral(
        model, grid, dt0, noise=0.0, laplacian=lap, stabilization=1.0, order=order,
        selective=SELECTIVE_THETA if production else 0.0,
    )
    gc.collect()
    t0 = perf()
    snaps, steps = integrate(
        st, phi_init, times, dt_max=dt_max, accuracy=accuracy, safeguard=production
    )
    return perf() - t0, int(steps[-1]), snaps[-1]


def bench_tts(cfg) -> list[dict]:
    rows = []
    results = []
    notes = []
    for n in cfg["tts_sizes"]:
        for gradient in ("constant", "de_gennes"):
            model = fh_model(gradient, quench=2.0)
            tau = model.time_scale
            grid = S.Grid((n, n), DX)
            shape = (n, n)
            case = f"flory_huggins/{gradient}"
            phi_init = S.initial_condition(
                model, grid, np.random.default_rng(SEED), amplitude=0.01
            )
            dt_ex = 0.9 * S.explicit_dt_limit(model, grid)
            # explicit: per-step cost first, to choose an end time within budget
            ex = S.ExplicitEuler(model, grid, dt_ex, noise=0.0)
            ex.set_state(phi_init)
            ex.step(3)
            ex_step = best_time(lambda: ex.step(1), repeats=5, target=0.02)
            est_full = T_END_TAU * tau / dt_ex * ex_step
            t_end = T_END_TAU
            if est_full > cfg["explicit_budget"]:
                t_end = _round_down(cfg["explicit_budget"] / est_full * T_END_TAU)
                notes.append(
                    f"{n}^2 {gradient}: explicit to {T_END_TAU:g} tau would take ~{est_full:.0f} s here; "
                    f"ended at {t_end:g} tau to stay within ~{cfg['explicit_budget']:g} s"
                    + (
                        " (still the linear regime: domains form at ~5 tau)"
                        if t_end < 5
                        else ""
                    )
                )
            times = _snapshot_times(t_end, tau)
            progress(
                f"time to solution {n}^2 {gradient}: explicit to {t_end:g} tau "
                f"(~{est_full * t_end / T_END_TAU:.0f} s)"
            )
            ex = S.ExplicitEuler(model, grid, dt_ex, noise=0.0)
            t0 = perf()
            snaps_ex, steps_ex = integrate(ex, phi_init, times)
            wall_ex = perf() - t0
            steps_ex = int(steps_ex[-1])
            L_ex = characteristic_length(snaps_ex[-1], DX)
            common = dict(
                t_end_tau=t_end,
                tau=tau,
                dt_explicit_tau=dt_ex / tau,
                steps_explicit=steps_ex,
            )
            common.update(
                wall_explicit=wall_ex, explicit_step_seconds=ex_step, L_explicit=L_ex
            )
            for k, v in common.items():
                record(
                    "time_to_solution",
                    case,
                    shape,
                    k,
                    v,
                    "s" if "wall" in k or "seconds" in k else "",
                )

            # warm-up (compiled kernels) on a throwaway stepper
            w = S.SemiImplicitSpectral(model, grid, 0.02 * tau, laplacian="fd")
            w.set_state(phi_init)
            w.step(2)

            variants = []
            # (a) the production schedule, fd and spectral Laplacian
            for lap in ("fd", "spectral"):
                progress(
                    f"time to solution {n}^2 {gradient}: semi-implicit, production steps, {lap}"
                )
                best = math.inf
                for _ in range(cfg["semi_repeats"]):
                    wall, steps, final = _semi_run(
                        model,
                        grid,
                        phi_init,
                        times,
                        lap=lap,
                        dt0=0.02 * tau,
                        dt_max=1.0 * tau,
                        accuracy=PRODUCTION_ACCURACY,
                    )
                    best = min(best, wall)
                variants.append((f"production, {lap}", lap, best, steps, final))
            # (b) accuracy-matched: the largest fixed step (fd) meeting the 2 % criterion
            def fixed_run(d):
                return _semi_run(
                    model, grid, phi_init, times, lap="fd", dt0=d * tau, dt_max=None, order=1
                )

            chosen = None
            for d in FIXED_DTS:
                progress(
                    f"time to solution {n}^2 {gradient}: semi-implicit, fixed dt {d:g} tau, fd"
                )
                wall, steps, final = fixed_run(d)
                chosen = (d, wall, steps, final)
                rel = abs(characteristic_length(final, DX) - L_ex) / L_ex
                record(
                    "time_to_solution", case, shape, f"rel_diff_fixed_dt_{d:g}tau", rel
                )
                if rel <= LENGTH_TOL:
                    break
            d, best, steps, final = chosen
            for _ in range(cfg["semi_repeats"] - 1):
                best = min(
                    best,
                    fixed_run(d)[0],
                )
            variants.append((f"1st order, fixed dt {d:g} tau, fd", "fd", best, steps, final))

            res = dict(size=n, gradient=gradient, **common, variants={})
            for label, lap, wall, steps, final in variants:
                L = characteristic_length(final, DX)
                rel = abs(L - L_ex) / L_ex
                speed = wall_ex / wall
                speed_est = steps_ex * ex_step / wall
                res["variants"][label] = dict(
                    wall=wall, steps=steps, L=L, rel_diff=rel, speedup=speed
                )
                vcase = f"{case}/{label.replace(', ', '/').replace(' ', '_')}"
                record("time_to_solution", vcase, shape, "semi_steps", steps)
                record("time_to_solution", vcase, shape, "semi_wall", wall, "s")
                record("time_to_solution", vcase, shape, "L_semi", L)
                record("time_to_solution", vcase, shape, "rel_diff_L", rel)
                record("time_to_solution", vcase, shape, "speedup", speed)
                record(
                    "time_to_solution",
                    vcase,
                    shape,
                    "speedup_from_best_explicit_step",
                    speed_est,
                )
                rows.append(
                    [
                        f"{n}^2",
                        gradient,
                        f"{t_end:g}",
                        steps_ex,
                        fmt_s(wall_ex),
                        label,
                        steps,
                        fmt_s(wall),
                        fmt_x(speed, 1),
                        fmt_x(speed_est, 1),
                        "yes" if speed >= SPEEDUP_TARGET else "NO",
                        f"{L_ex:.2f}",
                        f"{L:.2f}",
                        f"{100 * rel:.2f}%",
                        (
                            ("yes" if rel <= LENGTH_TOL else "NO")
                            if lap == "fd"
                            else "(ref)"
                        ),
                    ]
                )
            results.append(res)
    print_table(
        "3. Time to solution: explicit Euler (FD) vs semi-implicit spectral, no noise",
        [
            "grid",
            "gradient",
            "t_end/tau",
            "ex steps",
            "ex wall s",
            "semi-implicit run",
            "steps",
            "wall s",
            "speedup",
            "speedup*",
            f">= {SPEEDUP_TARGET:g}x?",
            "L ex",
            "L semi",
            "|dL|/L",
            "<= 2%?",
        ],
        rows,
        notes=[
            "FloryHugginsDeGennes(N=100, phi0=0.5, chi=2 chi_s), dx=2, same initial condition (amplitude 0.01).",
            "explicit: ExplicitEuler, dt = 0.9 x explicit_dt_limit (1.7e-3 tau constant, 2.3e-4 tau de Gennes), one run.",
            f"production: second-order scheme, selective stabiliser, integrate(dt=0.02 tau, accuracy={PRODUCTION_ACCURACY:g}, dt_max=1 tau, safeguard=True), snapshots at the production times",
            "(5..500 tau, 20 log-spaced) up to t_end, i.e. the study's run cut at t_end; best of the repeats.",
            f"1st order, fixed dt: the largest of {', '.join(f'{d:g}' for d in FIXED_DTS)} tau (fd, constant step)",
            "whose L agrees within 2 %: the speed-up at the accuracy target.",
            "speedup = explicit wall / semi wall; speedup* = explicit steps x best explicit step time / semi wall",
            "(less sensitive to other load during the one long explicit run).",
            "L = characteristic_length (first moment of S(k)) of the final fields; 'fd' runs use the explicit",
            "scheme's finite-difference Laplacian symbol (same spatial discretisation: must agree within 2 %);",
            "'spectral' (the production default) differs in space too and is shown for reference.",
        ]
        + notes,
    )
    return results


# --------------------------------------------------------------------------
# 5. steps, time and accuracy over the default sweep: selective vs uniform
# --------------------------------------------------------------------------
#: the issue's targets: >= 5x fewer steps at the stiffest points, >= 2x less
#: simulation time over the default sweep, |dL|/L <= 2 % against 10x smaller
#: steps and every Minkowski density within the replicate spread
STIFF_STEPS_TARGET = 5.0
SWEEP_TIME_TARGET = 2.0
#: accuracy checks: the stiffest sweep points, phi0 0.2 (config/paper.yaml) and
#: 0.25 at quench 2 (the step targets apply there), and a critical, shallow one
#: (co-continuous; its step also grew ~7x)
STIFF_POINTS = ((0.2, 2.0), (0.25, 2.0))
ACCURACY_POINTS = STIFF_POINTS + ((0.5, 1.5),)
#: accuracy of the scheme the study used before (uniform stabiliser)
UNIFORM_ACCURACY = 0.25
#: replicates (independent initial fields and noise) for the spread
N_REPLICATES = 4


def _sweep_table(config_path: Path, grid: int | None):
    import yaml

    from scattermorph.sim.sweep import simulation_table

    with open(config_path) as fh:
        config = yaml.safe_load(fh)
    if grid is not None:
        config["simulation"]["grid"] = grid
    table = simulation_table(config)
    return config, table[table["replicate"] == 0].reset_index(drop=True)


def _run_record(rec: dict, **over):
    """run_simulation on a copy of ``rec`` with ``over``; (snaps, steps, wall s)."""
    from scattermorph.sim.run import run_simulation

    p = dict(rec)
    p.update(over)
    spec = RunSpec.from_row(p)
    gc.collect()
    t0 = perf()
    snaps, meta = run_simulation(spec)
    return snaps, int(meta["steps"][-1]), perf() - t0


def _observables(snaps, dx: float) -> np.ndarray:
    """(T, 4): characteristic length and the three Minkowski densities of each
    snapshot (cut at its mean, periodic), as the measurement stage does."""
    from scattermorph.measure.minkowski import minkowski_batch, threshold

    binary = np.stack([threshold(f.astype(float), "mean") for f in snaps])
    m = minkowski_batch(binary, spacing=dx, periodic=True)
    L = [characteristic_length(f.astype(float), dx) for f in snaps]
    key = "volume" if snaps.ndim == 4 else "area"
    key2 = "surface" if snaps.ndim == 4 else "perimeter"
    return np.column_stack([L, m[f"{key}_density"], m[f"{key2}_density"], m["euler_density"]])


def bench_sweep(cfg, config_path: Path) -> None:
    """Steps and wall time to t_max at every point of the default sweep (one
    replicate each), the study's scheme (selective stabiliser, safeguarded
    steps) against the earlier one (uniform stabiliser, accuracy 0.25, kept
    selectable: ``simulation.stabilizer: uniform``); then the accuracy of both
    at the stiffest points against runs of the same scheme with 10x smaller
    steps."""
    config, table = _sweep_table(config_path, cfg.get("sweep_grid"))
    acc = float(config["simulation"]["time"]["accuracy"])
    dx = float(config["simulation"]["dx"])
    shape = tuple(table["shape"].iloc[0])
    progress(f"sweep: {len(table)} points of {config_path.name} at {shape_str(shape)}")
    rows, tot = [], {"uniform": [0, 0.0], "selective": [0, 0.0]}
    for rec in table.to_dict("records"):
        out = {}
        for name, a in (("uniform", UNIFORM_ACCURACY), ("selective", acc)):
            _, steps, wall = _run_record(rec, stabilizer=name, accuracy=a)
            out[name] = (steps, wall)
            tot[name][0] += steps
            tot[name][1] += wall
            record("sweep", f"{name}/phi0={rec['phi0']}/q={rec['quench']}", shape, "steps", steps)
            record("sweep", f"{name}/phi0={rec['phi0']}/q={rec['quench']}", shape, "wall", wall, "s")
        (su, wu), (ss, ws) = out["uniform"], out["selective"]
        rows.append([rec["phi0"], rec["quench"], su, ss, fmt_x(su / ss, 1), fmt_s(wu), fmt_s(ws),
                     fmt_x(wu / ws, 1)])
    (su, wu), (ss, ws) = tot["uniform"], tot["selective"]
    rows.append(["all", "", su, ss, fmt_x(su / ss, 1), fmt_s(wu), fmt_s(ws), fmt_x(wu / ws, 1)])
    record("sweep", "total", shape, "time_ratio", wu / ws)
    print_table(
        f"5. Steps and time to t_max = {config['simulation']['time']['t_max']:g} tau over the "
        f"sweep of {config_path.name} ({shape_str(shape)}, one replicate per point)",
        ["phi0", "chi/chi_s", "steps uniform", "steps selective", "ratio", "wall uniform s",
         "wall selective s", "ratio"],
        rows,
        notes=[
            f"uniform: S = max f'' over the field at every scale, accuracy {UNIFORM_ACCURACY:g} "
            f"(the scheme before issue 13); selective: the study's scheme, accuracy {acc:g}",
            f"target: whole-sweep time ratio >= {SWEEP_TIME_TARGET:g}: "
            f"{'met' if wu / ws >= SWEEP_TIME_TARGET else 'MISSED'} ({wu / ws:.1f}x)",
        ],
    )
    _bench_stiff_accuracy(config, table, acc, dx, cfg)


def _tolerance(rec: dict):
    """The record's local-error tolerance, None where the config sets none."""
    tol = rec.get("tolerance")
    return None if tol is None or not np.isfinite(tol) else float(tol)


def _bench_stiff_accuracy(config, table, acc, dx, cfg) -> None:
    base = table.to_dict("records")[0]
    rows, notes = [], []
    for phi0, quench in ACCURACY_POINTS:
        rec = dict(base, phi0=phi0, quench=quench, sim_id=f"stiff_{phi0}_{quench}")
        progress(f"stiff point phi0={phi0} quench={quench}: replicates")
        reps = [
            _observables(_run_record(rec, sim_index=900 + r)[0], dx) for r in range(N_REPLICATES)
        ]
        spread = np.ptp(reps, axis=0)  # the band the replicates span, per snapshot
        cells = float(np.prod(rec["shape"])) * dx ** len(rec["shape"])
        spread[:, 3] = np.maximum(spread[:, 3], 1.0 / cells)  # Euler: one count at least
        tol = _tolerance(rec)
        for name, a in (("selective", acc),):
            # (the uniform scheme's own 10x run would take millions of steps here)
            progress(f"  {name}: accuracy {a:g} and {a / 10:g}, tolerance {tol} and 1/100 of "
                     "it (10x smaller steps: the error rule's step scales as its square root), "
                     "no noise")
            runs = {}
            for aa, tt in ((a, tol), (a / 10, None if tol is None else tol / 100)):
                snaps, steps, wall = _run_record(rec, stabilizer=name, accuracy=aa,
                                                 tolerance=tt, noise=0.0)
                runs[aa] = (_observables(snaps, dx), steps, wall)
            (x, sx, _), (r, sr, _) = runs[a], runs[a / 10]
            dL = float(np.max(np.abs(x[:, 0] / r[:, 0] - 1)))
            dm = np.max(np.abs(x[:, 1:] - r[:, 1:]) / spread[:, 1:], axis=0)
            ok = dL <= LENGTH_TOL and np.all(dm <= 1)
            rows.append([phi0, quench, name, f"{a:g} + {tol:g}" if tol else f"{a:g}", sx, sr,
                         f"{100 * dL:.2f}",
                         *(f"{v:.2f}" for v in dm), "yes" if ok else "NO"])
            for k, v in zip(("dL_rel", "d_area", "d_perimeter", "d_euler"), (dL, *dm)):
                record("stiff_accuracy", f"{name}/phi0={phi0}", rec["shape"], k, float(v))
        if (phi0, quench) not in STIFF_POINTS:
            continue
        # steps of the noisy production runs (the sweep's own replicate 0 settings)
        _, su, _ = _run_record(rec, stabilizer="uniform", accuracy=UNIFORM_ACCURACY)
        _, ss, _ = _run_record(rec, stabilizer="selective", accuracy=acc)
        ratio = su / ss
        record("stiff_steps", f"phi0={phi0}/q={quench}", rec["shape"], "ratio", ratio)
        notes.append(
            f"phi0 {phi0}, quench {quench}, with noise: {su} steps uniform, {ss} selective: "
            f"{ratio:.1f}x (target >= {STIFF_STEPS_TARGET:g}: "
            f"{'met' if ratio >= STIFF_STEPS_TARGET else 'MISSED'})"
        )
    print_table(
        "5b. Accuracy against 10x smaller steps (no noise, same initial field)",
        ["phi0", "chi/chi_s", "scheme", "accuracy + tolerance", "steps", "steps ref", "max |dL|/L %",
         "area/spread", "perimeter/spread", "euler/spread", "within"],
        rows,
        notes=notes + [
            "no noise, so the two runs differ only in their steps (with noise each step "
            "sequence draws its own noise and the runs part like replicates);",
            f"spread: the range of {N_REPLICATES} replicates (new initial field and noise) "
            "of the selective scheme with noise, per snapshot; the columns give the largest "
            "|difference| / spread over the snapshots (within: <= 1 and |dL|/L <= 2 %)",
        ],
    )


# --------------------------------------------------------------------------
# 4. other codes
# --------------------------------------------------------------------------
def other_codes() -> None:
    print()
    title = "4. Other Cahn-Hilliard codes"
    print(title)
    print("=" * len(title))
    for mod, name in [("pymks", "pymks"), ("pde", "py-pde"), ("fipy", "FiPy")]:
        found = importlib.util.find_spec(mod) is not None
        state = (
            "installed, but not benchmarked here" if found else "not installed: skipped"
        )
        print(f"  {name:8s} {state}")
    print(
        "  for scale, on a 2-core machine of this kind: pymks Cahn-Hilliard step ~7.7 ms, "
        "py-pde explicit ~24 ms, FiPy ~6 s (256^2)"
    )
    print("  (anchors quoted from the issue, not measured by this script)")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def write_csv(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(
            fh, fieldnames=["section", "case", "shape", "metric", "value", "unit"]
        )
        w.writeheader()
        for r in RECORDS:
            v = r["value"]
            if isinstance(v, (float, np.floating)):
                v = repr(float(v))
            w.writerow({**r, "value": v})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats, 128^2 only for time to solution (~2 min)",
    )
    ap.add_argument(
        "--only",
        default="kernels,threads,tts,other,sweep",
        help="comma-separated sections to run: kernels (1, 2, 2b), threads (2c), tts (3), "
        "other (4), sweep (5)",
    )
    ap.add_argument(
        "--explicit-budget",
        type=float,
        default=None,
        help="seconds allowed per explicit run in section 3 (default 60, --quick 20)",
    )
    ap.add_argument(
        "--config",
        type=Path,
        default=HERE.parent / "config" / "2d.yaml",
        help="study config whose sweep section 5 runs (default config/2d.yaml, the 2D sweep "
        "whose numbers docs/model.md and config comments quote; config.yaml runs the 3D sweep)",
    )
    ap.add_argument(
        "--wisdom",
        type=Path,
        default=None,
        help="wisdom cache of the measured FFTW plans (default: scattermorph.fft.wisdom_path(), "
        "i.e. $SCATTERMORPH_FFTW_WISDOM or ~/.cache/scattermorph)",
    )
    ap.add_argument(
        "--csv",
        type=Path,
        default=HERE / "results" / "simulation.csv",
        help="where to write the CSV (default benchmarks/results/simulation.csv)",
    )
    args = ap.parse_args(argv)
    global WISDOM
    WISDOM = args.wisdom
    mode = "quick" if args.quick else "full"
    cfg = dict(MODES[mode])
    if args.explicit_budget is not None:
        cfg["explicit_budget"] = args.explicit_budget
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {"kernels", "threads", "tts", "other", "sweep"}
    if unknown:
        ap.error(
            f"--only: unknown section(s) {sorted(unknown)}; choose kernels, threads, tts, "
            "other, sweep"
        )

    t_start = perf()
    ver = versions()
    print(f"scattermorph simulation benchmark ({mode})")
    print(
        f"  cpu: {cpu_name()}, {os.cpu_count()} logical cores; load average {loadavg()}"
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in ver.items()))
    print(
        f"  FFT back end of the solver: {'fftw' if HAVE_FFTW else 'scipy'}; sections 1-2b on 1 thread, 2c on"
        f" {', '.join(map(str, THREAD_COUNTS))}"
    )
    print(
        "  times: min over repeats of the mean per call in a batch; nothing is asserted"
    )
    record("machine", "cpu", None, "name", cpu_name())
    record("machine", "cpu", None, "logical_cores", os.cpu_count())
    record("machine", "load", None, "loadavg_start", loadavg())
    record("machine", "run", None, "mode", mode)
    for k, v in ver.items():
        record("machine", "version", None, k, v)

    if "kernels" in only:
        bench_kernels(cfg["shapes"], cfg)
    if "threads" in only:
        bench_threads(cfg["thread_shapes"], cfg)
    if "tts" in only:
        bench_tts(cfg)
    if "other" in only:
        other_codes()
    if "sweep" in only:
        bench_sweep(cfg, args.config)

    total = perf() - t_start
    record("machine", "load", None, "loadavg_end", loadavg())
    record("machine", "run", None, "total_seconds", total, "s")
    write_csv(args.csv)
    print()
    print(f"total {total:.0f} s; load average at the end {loadavg()}")
    print(f"CSV written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
