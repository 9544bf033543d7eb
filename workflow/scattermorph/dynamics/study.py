"""The dynamics stage's numbers: recovery, forecast and Cahn-plot tables.

Every run is made here from the ``dynamics`` section of the configuration
(:func:`series_setup`), with the project's solver, on a 2D grid (and one 3D
grid for the recovery), with random streams ``SeedSequence([seed, DYNAMICS,
key])`` (:mod:`scattermorph.seeds`). Times are in units of each model's
fastest linear growth time ``tau``, the cell is ``lambda_m /
cells_per_wavelength``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scattermorph import seeds
from scattermorph.dynamics.forecast import fit_fourier_operator, integrate_fit, linear_forecast, trajectory_errors
from scattermorph.dynamics.library import STRONG_TERMS, chemical_potential, conservative_library, true_coefficients
from scattermorph.dynamics.linear import (
    blend_parameters,
    cahn_plot,
    cook_growth_rates,
    growth_exponent,
    growth_rates,
    joint_cahn_fit,
)
from scattermorph.dynamics.series import add_measurement_noise, coarse_grain, simulate_series, subsample_times
from scattermorph.dynamics.strong import fit_strong, strong_terms
from scattermorph.dynamics.weak import fit_weak
from scattermorph.errors import ParameterError
from scattermorph.measure.scattering import (
    apply_instrument,
    peak_position,
    radial_average,
    radial_profile,
    structure_factor,
)
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau

__all__ = ["Setup", "series_setup", "recovery_tables", "forecast_table", "cahn_table",
           "strong_truth", "check_dynamics", "MODELS"]

#: the two free energies of the stage, by their key in the configuration
MODELS = ("landau", "blend")


@dataclass(frozen=True)
class Setup:
    """One model's runs: free energy, cell, times and noise."""

    model: object
    dx: float
    tau: float
    times: np.ndarray
    dt: float
    noise: float
    amplitude: float

    def run(self, shape, key: int, seed: int, *, noise: float | None = None, times=None,
            amplitude: float | None = None):
        """A series from the stream ``[seed, DYNAMICS, key]`` (defaults: this setup's
        noise, times and initial amplitude)."""
        rng = np.random.default_rng(seeds.sequence(seed, seeds.DYNAMICS, key))
        return simulate_series(self.model, shape, self.dx, self.times if times is None else times,
                               dt=self.dt, rng=rng, noise=self.noise if noise is None else noise,
                               amplitude=self.amplitude if amplitude is None else amplitude)


def series_setup(cfg: dict, which: str) -> Setup:
    """The runs of ``which`` (``"landau"`` or ``"blend"``) from the ``dynamics`` config section."""
    m = cfg[which]
    model = (Landau(phi0=m["phi0"], kappa=m["kappa"]) if which == "landau"
             else FloryHugginsDeGennes.at_quench(m["N"], m["phi0"], m["quench"]))
    tau = model.time_scale
    times = np.linspace(0.0, cfg["t_max"] * tau, cfg["snapshots"])
    return Setup(model, model.length_scale / cfg["cells_per_wavelength"], tau, times,
                 cfg["dt"] * tau, m["noise"], m["amplitude"])


def library_of(which: str, cfg: dict):
    """The stage's conservative library of a model (the blend's with log and de Gennes terms)."""
    lib = cfg["library"]
    return conservative_library(degree=lib["degree"], log=which == "blend",
                                degennes=which == "blend", symmetric=lib["symmetric"])


def strong_truth(model) -> np.ndarray:
    """The phi^4 model in the strong-form terms: ``lap g = g' lap phi + g'' |grad phi|^2``
    with ``g = 2 phi - 6 phi^2 + 4 phi^3``; NaN for the blend (its log term is not in them)."""
    if model.name != "landau":
        return np.full(len(STRONG_TERMS), np.nan)
    return np.array([0, 0, 0, 0, 2, -12, 12, -12, 24, -model.kappa], dtype=float)


def conditions(cfg: dict) -> list[tuple[str, str, object]]:
    """``(name, kind, value)`` of every recovery condition."""
    deg = cfg["degradation"]
    out = [("noise-free", "clean", None), ("thermal noise", "thermal", None)]
    out += [(f"measurement noise {v:g}", "measurement", v) for v in deg["measurement_noise"]]
    out += [(f"time stride {v}", "stride", v) for v in deg["time_stride"]]
    out += [(f"coarse-grained x{v}", "coarse", v) for v in deg["coarse_grain"]]
    return out + [("3D noise-free", "3d", None)]


def _condition_data(setup, cfg, kind, value, clean, thermal, seed, key):
    """The series of one condition: ``(phi, times, dx)``."""
    rng = np.random.default_rng(seeds.sequence(seed, seeds.DYNAMICS, key, 1))
    if kind == "thermal":
        return thermal, setup.times, setup.dx
    if kind == "measurement":
        return add_measurement_noise(clean, value, rng), setup.times, setup.dx
    if kind == "stride":
        return (*subsample_times(clean, setup.times, value), setup.dx)
    if kind == "coarse":
        return coarse_grain(clean, value), setup.times, setup.dx * value
    if kind == "3d":
        g = cfg["grid_3d"]
        return setup.run((g, g, g), key, seed, noise=0.0), setup.times, setup.dx
    return clean, setup.times, setup.dx


def _fit_rows(which, name, method, fit, truth):
    return [{"model": which, "condition": name, "method": method, "term": n, "truth": t,
             "recovered": c, "sd": s} for n, t, c, s in zip(fit.names, truth, fit.coef, fit.std)]


def blend_readout(model, terms, coef, boot, phi) -> dict:
    """``chi / chi_s`` (from ``f''(phi0)`` of the recovered ``mu``, given ``N``), its
    bootstrap sd, the relative L2 error of ``mu(phi)`` (both centred: ``mu`` is
    defined up to a constant) over the compositions the data visit, the de
    Gennes coefficient over its true value; and the two ``mu`` curves."""
    phi0, N = model.phi0, model.N
    grid = np.linspace(max(float(phi.min()), 1e-3), min(float(phi.max()), 1 - 1e-3), 201)
    h = 1e-4

    def quench(c):
        f2 = (chemical_potential(terms, c, phi0 + h) - chemical_potential(terms, c, phi0 - h)) / (2 * h)
        return (1 / (N * phi0 * (1 - phi0)) - f2) / 2 / model.chi_s

    mu = chemical_potential(terms, coef, grid)
    true = model.mu_bulk(grid)
    err = np.linalg.norm((mu - mu.mean()) - (true - true.mean())) / np.linalg.norm(true - true.mean())
    names = [t.name for t in terms]
    dg = coef[names.index("lap(psi' lap psi)")] / -2.0 if "lap(psi' lap psi)" in names else np.nan
    curve = pd.DataFrame({"phi": grid, "mu_true": true - true.mean(), "mu_recovered": mu - mu.mean()})
    return {"quench_truth": model.quench_depth, "quench": quench(coef),
            "quench_sd": float(np.std([quench(b) for b in boot], ddof=1)) if len(boot) else np.nan,
            "mu_error": err, "degennes_ratio": dg, "phi_min": grid[0], "phi_max": grid[-1]}, curve


def mass_drift(fit, phi, times, dx) -> float:
    """``|d<phi>/dt|`` the fitted model gives on the data, over the rms ``d_t phi`` (0: conserved)."""
    if fit.method == "weak":
        return 0.0  # every term is a Laplacian: its box mean is zero identically
    rates = [float(np.tensordot(fit.coef, strong_terms(f, dx).mean(axis=tuple(range(1, f.ndim + 1))), 1))
             for f in phi[::10]]
    dphi = np.diff(phi, axis=0) / np.diff(times)[:, None, None] if phi.ndim == 3 else \
        np.diff(phi, axis=0) / np.diff(times).reshape(-1, 1, 1, 1)
    return float(np.max(np.abs(rates)) / np.sqrt(np.mean(dphi**2)))


def recovery_tables(cfg: dict, seed: int, *, log=print):
    """The recovered-coefficient table, its summary and the blend's readout.

    Returns
    -------
    coefficients : DataFrame
        ``model, condition, method, term, truth, recovered, sd`` (sd: block
        bootstrap over time windows / blocks).
    summary : DataFrame
        Per ``model, condition, method``: ``max_rel_error`` over the true
        terms, ``spurious`` terms, ``mass_drift``.
    blend : DataFrame
        Per condition: :func:`blend_readout` of the weak fit.
    curves : DataFrame
        ``condition, phi, mu_true, mu_recovered`` of the blend.
    """
    rows, summ, blend, curves = [], [], [], []
    lib_cfg = cfg["library"]
    for mi, which in enumerate(MODELS):
        setup = series_setup(cfg, which)
        g = cfg["grid"]
        clean = setup.run((g, g), 10 * mi, seed, noise=0.0)
        thermal = setup.run((g, g), 10 * mi + 1, seed)
        lib = library_of(which, cfg)
        truth = true_coefficients(setup.model, lib)
        for ci, (name, kind, value) in enumerate(conditions(cfg)):
            phi, times, dx = _condition_data(setup, cfg, kind, value, clean, thermal, seed, 10 * mi + 2 + ci)
            rng = np.random.default_rng(seeds.sequence(seed, seeds.DYNAMICS, 100 + 10 * mi + ci))
            window = min(lib_cfg["window"], times.size)
            weak = fit_weak(phi, times, dx, lib, threshold=lib_cfg["threshold"], n_boot=cfg["bootstrap"],
                            rng=rng, window=window, k_max=lib_cfg["k_max"])
            strong = fit_strong(phi, times, dx, threshold=lib_cfg["threshold"], n_points=cfg["strong_points"],
                                n_boot=cfg["bootstrap"], rng=rng)
            for fit, tr in ((weak, truth), (strong, strong_truth(setup.model))):
                rows += _fit_rows(which, name, fit.method, fit, tr)
                nz = np.isfinite(tr) & (tr != 0)
                summ.append({"model": which, "condition": name, "method": fit.method,
                             "max_rel_error": float(np.max(np.abs(fit.coef[nz] / tr[nz] - 1))) if nz.any()
                             else np.nan,
                             "spurious": int(np.sum((tr == 0) & (fit.coef != 0))) if nz.any() else np.nan,
                             "mass_drift": mass_drift(fit, phi, times, dx)})
            if which == "blend":
                read, curve = blend_readout(setup.model, lib, weak.coef, weak.boot, phi)
                blend.append({"condition": name, **read})
                curves.append(curve.assign(condition=name))
            log(f"{which} / {name}: weak {np.round(weak.coef, 5)} strong {np.round(strong.coef, 3)}")
    return pd.DataFrame(rows), pd.DataFrame(summ), pd.DataFrame(blend), pd.concat(curves, ignore_index=True)


def shells(n: int, dx: float) -> np.ndarray:
    """Edges of the ``|k|`` shells of an ``n``-cell side: one shell per ``2 pi / (n dx)``."""
    return np.linspace(0.0, np.pi / dx, n // 2 + 1)


def _series_sq(phi, dx, edges, *, modes=False):
    """``(q, S(q, t))``: mean ``|k|`` of each shell and the radial ``S`` of every snapshot
    (and with ``modes`` the number of modes per shell)."""
    q, _, counts = radial_average(*structure_factor(phi[0], dx), edges)
    s = np.array([radial_profile(f, dx, edges)[0] for f in phi])
    return (q, s, counts) if modes else (q, s)


def _cahn_rate(phi, times, dx, edges, t_max, q_max):
    """Per-shell ``R(q) = q^2 (intercept + slope q^2)`` of the Cahn plot of ``phi``'s early series."""
    q, s = _series_sq(phi, dx, edges)
    early = times <= t_max
    ok = np.all(np.isfinite(s[early]) & (s[early] > 0), axis=0)
    rate = np.full(q.size, np.nan)
    rate[ok] = growth_rates(times[early], s[early][:, ok])[0]
    plot = cahn_plot(q, rate, q_max=q_max)
    return np.nan_to_num(q**2 * (plot.intercept + plot.slope * q**2))


def _forecasters(setup, which, cfg, train, seed, mi):
    """The forecasters fitted on one training series, and the linear theory with the
    model's closed-form growth rate (the best a linear forecast can do)."""
    lib_cfg, c = cfg["library"], cfg["cahn"]
    edges = shells(cfg["grid"], setup.dx)
    rng = np.random.default_rng(seeds.sequence(seed, seeds.DYNAMICS, 300 + mi))
    weak = fit_weak(train, setup.times, setup.dx, library_of(which, cfg), threshold=lib_cfg["threshold"],
                    window=lib_cfg["window"], k_max=lib_cfg["k_max"])
    strong = fit_strong(train, setup.times, setup.dx, threshold=lib_cfg["threshold"],
                        n_points=cfg["strong_points"], rng=rng)
    fourier = fit_fourier_operator([train], setup.times, setup.dx, edges)
    cahn = _cahn_rate(train, setup.times, setup.dx, edges, c["t_max"] * setup.tau,
                      c["q_max"] * setup.model.k_critical)
    exact = setup.model.linear_growth_rate
    return {"weak SINDy": lambda x, t: integrate_fit(weak, x, setup.dx, t, dt=setup.dt),
            "strong SINDy": lambda x, t: integrate_fit(strong, x, setup.dx, t, dt=setup.dt),
            "Fourier operator": lambda x, t: linear_forecast(x, setup.dx, t, edges, fourier),
            "linear theory (Cahn plot)": lambda x, t: linear_forecast(x, setup.dx, t, edges, cahn),
            "linear theory (exact)": lambda x, t: linear_forecast(x, setup.dx, t, edges, exact)}


def forecast_table(cfg: dict, seed: int, *, log=print) -> pd.DataFrame:
    """Errors against time of every forecaster on held-out runs.

    Each model's forecasters are fitted on its thermal-noise training series
    (the recovery's); the held-out runs start from new random initial
    conditions (their own streams) and are noise-free: a deterministic
    forecast of a noisy run departs from it by the noise alone, so the
    noise-free truth measures the error of the learnt dynamics.

    Returns
    -------
    DataFrame
        ``model, forecaster, run, t_tau`` and the errors of
        :func:`~scattermorph.dynamics.forecast.trajectory_errors`.
    """
    f = cfg["forecast"]
    rows = []
    for mi, which in enumerate(MODELS):
        setup = series_setup(cfg, which)
        g = cfg["grid"]
        train = setup.run((g, g), 10 * mi + 1, seed)
        models = _forecasters(setup, which, cfg, train, seed, mi)
        times = np.linspace(0.0, f["t_max"] * setup.tau, f["snapshots"])
        edges = shells(g, setup.dx)
        for h in range(f["held_out"]):
            true = setup.run((g, g), 500 + 10 * mi + h, seed, times=times, noise=0.0)
            for name, predict in models.items():
                err = trajectory_errors(predict(true[0], times), true, setup.dx, edges)
                rows += [{"model": which, "forecaster": name, "run": h, "t_tau": t / setup.tau,
                          **{k: float(v[i]) for k, v in err.items()}} for i, t in enumerate(times)]
            log(f"{which}: held-out run {h} forecast")
    return pd.DataFrame(rows)


def _cahn_rows(name, plot, model) -> list[dict]:
    """Mobility, f'', chi/chi_s and kappa0 of a Cahn plot against the model's (the table's rows)."""
    got = blend_parameters(plot, phi0=model.phi0, N=model.N)
    rows = [{"condition": name, "quantity": k, "truth": t, "recovered": got[k], "sd": got[f"{k}_sd"]}
            for k, t in (("mobility", 1.0), ("f2", float(model.f2(model.phi0))), ("quench", model.quench_depth))]
    rows.append({"condition": name, "quantity": "kappa0 (mobility 1)", "truth": model.kappa0,
                 "recovered": -plot.slope / 2, "sd": float(np.sqrt(plot.cov[1, 1])) / 2})
    return rows


def cahn_table(cfg: dict, seed: int, *, log=print):
    """Cahn-plot recovery of the blend from simulated time-resolved scattering.

    Conditions: the ideal ``S(q, t)`` of a noise-free run; of a run with
    thermal noise, fitted as ``ln S`` linear in t and with Cook's noise floor
    (:func:`~scattermorph.dynamics.linear.cook_growth_rates`); and the
    noise-free run seen through an instrument
    (resolution ``dq/q`` and Poisson counting noise, ``counts`` counts in a
    bin of the first curve's mean intensity). Also the late-stage growth
    exponent of the peak ``q1(t)`` of the recovery's noise-free blend run.

    Returns
    -------
    table : DataFrame
        ``condition, quantity, truth, recovered, sd``.
    series : dict of ndarray
        ``q, t, s_qt, rate, rate_se`` of the ideal condition, and the line's
        ``intercept, slope`` (for the figure).
    """
    c = cfg["cahn"]
    setup = series_setup(cfg, "blend")
    model, g = setup.model, cfg["grid"]
    times = np.linspace(0.0, c["t_max"] * setup.tau, c["snapshots"])
    edges = shells(g, setup.dx)
    rng = np.random.default_rng(seeds.sequence(seed, seeds.DYNAMICS, 400))
    runs = {"ideal": setup.run((g, g), 401, seed, noise=0.0, times=times, amplitude=c["amplitude"]),
            "thermal noise": setup.run((g, g), 402, seed, times=times, amplitude=c["amplitude"])}
    q, s_ideal, modes = _series_sq(runs["ideal"], setup.dx, edges, modes=True)
    thermal = _series_sq(runs["thermal noise"], setup.dx, edges)[1]
    counts = c["counts"] / np.nanmean(s_ideal[0])
    seen = np.array([apply_instrument(q, s, rng=rng, resolution=c["resolution"], counts=counts)[0]
                     for s in s_ideal])
    series = {"ideal": (s_ideal, growth_rates), "thermal noise": (thermal, growth_rates),
              "thermal noise, Cook fit": (thermal, cook_growth_rates), "instrument": (seen, growth_rates)}
    rows, out = [], {}
    q_max = c["q_max"] * model.k_critical
    for name, (s, rates) in series.items():
        ok = np.all(np.isfinite(s) & (s > 0), axis=0)
        rate, se = np.full(q.size, np.nan), np.full(q.size, np.nan)
        rate[ok], se[ok] = rates(times, s[:, ok])
        plot = cahn_plot(q, rate, q_max=q_max)
        rows += _cahn_rows(name, plot, model)
        if name == "ideal":
            out = {"q": q, "t": times / setup.tau, "s_qt": s, "rate": rate, "rate_se": se,
                   "intercept": plot.intercept, "slope": plot.slope, "k_critical": model.k_critical}
        log(f"Cahn plot, {name}: chi/chi_s = {rows[-2]['recovered']:.4f} +- {rows[-2]['sd']:.4f}")
    # the same series, the line fitted to every early curve at once (shells weighted by their modes)
    joint = {"ideal": (s_ideal, False, modes), "thermal noise": (thermal, True, modes),
             "instrument": (seen, True, None)}
    for name, (s, noisy, m) in joint.items():
        plot, _ = joint_cahn_fit(times, q, s, modes=m, q_max=q_max, noise=noisy)
        rows += _cahn_rows(f"{name}, joint fit", plot, model)
        log(f"Cahn plot, {name}, joint fit: chi/chi_s = {rows[-2]['recovered']:.4f} +- {rows[-2]['sd']:.4f}")
    late = setup.run((g, g), 20, seed, noise=0.0)
    qs, s_late = _series_sq(late, setup.dx, edges)
    q1 = np.array([peak_position(qs[1:], s[1:]) for s in s_late])  # shell 0 is k = 0, the mean
    alpha, alpha_se = growth_exponent(setup.times / setup.tau, q1, t_min=c["late_t_min"])
    rows.append({"condition": "late stage (noise-free run)", "quantity": "growth exponent alpha",
                 "truth": 1 / 3, "recovered": alpha, "sd": alpha_se})
    return pd.DataFrame(rows), out


def check_dynamics(cfg: dict) -> None:
    """The ``dynamics`` section's cross-key checks (the schema checks each key alone).

    Raises
    ------
    ParameterError
        Naming the keys: a time window longer than a (subsampled) series.
    """
    lib = cfg["library"]
    shortest = min([cfg["snapshots"]] + [len(range(0, cfg["snapshots"], s))
                                         for s in cfg["degradation"]["time_stride"]])
    if lib["window"] > shortest:
        raise ParameterError(
            f"dynamics.library.window = {lib['window']} snapshots is longer than the shortest series "
            f"({shortest} snapshots, after dynamics.degradation.time_stride): lower the window or the stride"
        )
