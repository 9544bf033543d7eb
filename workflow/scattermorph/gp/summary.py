"""Summary pages of the Gaussian-process stage: the foundations (Treloar's rubber data) and the emulators of the simulation, with the scattering emulator's held-out check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph._markdown import _need, _section, _source, fmt, md_table
from scattermorph.errors import InputFileError


def foundations_summary(*, optima: pd.DataFrame, loo_check: pd.DataFrame, shear_modulus: float,
                        shear_modulus_se: float, sources: dict) -> str:
    """Gaussian-process foundations on Treloar's rubber data in numbers.

    Parameters
    ----------
    optima : DataFrame
        ``gp_optima.csv``: ``method``, ``source``, ``output_scaling``,
        ``length_scale`` (stretch), ``signal_variance``, ``noise_variance``,
        ``value`` (of the criterion), ``on_grid_edge``.
    loo_check : DataFrame
        ``loo_check.csv``: ``quantity``, ``max_abs_difference`` (closed-form
        LOO, Rasmussen & Williams eqs. 5.10-5.12, against brute-force refits),
        ``max_abs_value``.
    shear_modulus, shear_modulus_se : float
        Least-squares neo-Hookean G and its standard error (MPa).
    sources : dict
        ``{"optima": path, "loo_check": path, "tutorial": path}``.
    """
    _need(optima, ["method", "source", "output_scaling", "length_scale", "signal_variance",
                   "noise_variance", "value", "on_grid_edge"], sources["optima"])
    _need(loo_check, ["quantity", "max_abs_difference", "max_abs_value"], sources["loo_check"])
    opt = optima.sort_values(["source", "method", "output_scaling", "value"], kind="mergesort")
    rows = [(r.method, r.source, r.output_scaling, r.length_scale, r.signal_variance, r.noise_variance,
             r.value, "yes" if str(r.on_grid_edge) == "True" else "no") for r in opt.itertuples()]
    lines = ["# Gaussian-process foundations (Treloar's rubber data): summary"]
    lines += _section(
        "Hyper-parameter optima", md_table(["criterion", "search", "output scaling", "length scale",
                                            "signal variance", "noise variance", "value", "on grid edge"], rows),
        _source(sources["optima"]),
        note="Length scale in units of stretch; `lml` = log marginal likelihood, `loo_*` = leave-one-out, "
             "`buggy_*` = LOOCV scored on the full-data fit (the bug).")
    lrows = []
    for r in loo_check.sort_values("quantity").itertuples():
        rel = r.max_abs_difference / r.max_abs_value if r.max_abs_value > 0 else float("nan")
        lrows.append((r.quantity, r.max_abs_difference, r.max_abs_value, rel))
    lines += _section("Closed-form leave-one-out against brute-force refits",
                      md_table(["quantity", "max abs difference", "max abs value", "relative"], lrows),
                      _source(sources["loo_check"]))
    lines += _section("Neo-Hookean fit", md_table(["quantity", "value"], [
        ("shear modulus G (MPa)", shear_modulus), ("standard error (MPa)", fmt(shear_modulus_se, ".2g"))]),
        _source(sources["tutorial"]), note="sigma = G (lambda - lambda^-2), least squares (Treloar 1975, ch. 4).")
    return "\n".join(lines) + "\n"


def scattering_emulator_section(validation: pd.DataFrame, source: str, *, components: bool = True,
                                title: str = "Scattering emulator on held-out runs") -> list[str]:
    """Lines of a Markdown section on the inference stage's scattering emulator
    (:mod:`scattermorph.infer.stage`) checked on the calibration runs.

    Parameters
    ----------
    validation : DataFrame
        ``inference/emulator_validation.csv``: one row per principal component
        (``component`` 1..k) and a ``pooled`` row; columns
        ``explained_variance``, ``variance_scale``, ``coverage``, ``band_lo``,
        ``band_hi``, ``band_runs_lo``, ``band_runs_hi``, ``median_rel_error_S``
        and ``rms_log10`` (pooled row), ``n``, ``n_runs``, ``n_train_runs``,
        ``level``, ``noise_source``.
    source : str
        Its path, as shown.
    components : bool
        Add the table of the components (coverage, bands, kappa^2).
    title : str
        The section's heading.
    """
    _need(validation, ["component", "explained_variance", "variance_scale", "coverage", "band_lo", "band_hi",
                       "band_runs_lo", "band_runs_hi", "median_rel_error_S", "rms_log10", "n", "n_runs",
                       "n_train_runs", "level", "noise_source"], source)
    comp = validation["component"].astype(str)
    pooled = validation[comp == "pooled"]
    if len(pooled) != 1:
        raise InputFileError(f"{source} has {len(pooled)} pooled rows, expected 1: rerun calibrate_inference")
    p = pooled.iloc[0]
    pct = f"{fmt(100 * float(p['level']), '.0f')} %"
    rows = [("calibration snapshots (runs)", f"{int(p['n'])} ({int(p['n_runs'])})"),
            ("training runs", int(p["n_train_runs"])),
            ("principal components (variance held)", f"{int((comp != 'pooled').sum())} "
                                                      f"({fmt(p['explained_variance'], '.3f')})"),
            ("median relative error of S q1^d / Q", fmt(p["median_rel_error_S"], ".3f")),
            ("RMS error of log10(S q1^d / Q)", fmt(p["rms_log10"], ".3f")),
            (f"coverage of the {pct} intervals, all components (band, runs independent)",
             f"{fmt(p['coverage'], '.2f')} ({p['band_runs_lo']:.2f}-{p['band_runs_hi']:.2f})"),
            ("feature noise from", str(p["noise_source"]))]
    lines = md_table(["quantity", "value"], rows)
    if components:
        crows = []
        for r in validation[comp != "pooled"].sort_values("component", key=lambda s: s.astype(int)).itertuples():
            inside = r.band_runs_lo <= r.coverage <= r.band_runs_hi
            crows.append((r.component, fmt(r.explained_variance, ".3f"), fmt(r.variance_scale, ".2f"),
                          fmt(r.coverage, ".2f"), f"{r.band_lo:.2f}-{r.band_hi:.2f}",
                          f"{r.band_runs_lo:.2f}-{r.band_runs_hi:.2f}", "yes" if inside else "no"))
        lines += [""] + md_table(["component", "variance share", "kappa^2", f"{pct} coverage",
                                  "band (snapshots)", "band (runs)", "inside the runs' band"], crows)
    note = (f"The PCA-GP emulator of the scale-free features of S(q) over (phi0, chi/chi_s, log10 t/tau) that "
            f"`scattermorph infer` uses, trained on every run of the study, against every snapshot of the "
            f"calibration runs (parameters drawn uniformly over the study's range); relative error of S q1^d / Q = median of |10^(emulated - true) - 1|. "
            f"Bands: 95 % binomial range of the coverage of calibrated {pct} intervals with the snapshots, or "
            f"the runs, as independent units (the snapshots of one run are correlated: the real range lies "
            f"between).")
    if components:
        note += " kappa^2: leave-one-run-out widening of each component's variance."
    return _section(title, lines, _source(source), note=note)


def emulator_summary(*, metrics: pd.DataFrame, speedup: pd.DataFrame, adaptive: pd.DataFrame,
                     ch1d: dict | None = None, inference_validation: pd.DataFrame | None = None,
                     sources: dict) -> str:
    """The emulators of the simulation in numbers.

    Parameters
    ----------
    metrics : DataFrame
        ``metrics.csv``, one row per output: ``output``, ``n``, ``n_runs``,
        ``rmse_relative``, ``coverage95`` and the band ``coverage_band_lo``,
        ``coverage_band_hi`` a calibrated emulator falls in, ``z_std``.
    speedup : DataFrame, one row
        ``speedup.csv``: ``simulation_plus_measurement_seconds``,
        ``emulator_prediction_seconds``, ``speedup``, ``n_runs_timed``.
    adaptive : DataFrame
        ``adaptive_curve.csv``: ``design`` (adaptive / random), ``n_runs``,
        ``output``, ``rmse_relative``.
    ch1d : dict, optional
        ``rmse_held_out``, ``coverage95_held_out`` of the 1D emulator.
    inference_validation : DataFrame, optional
        ``inference/emulator_validation.csv``: the scattering emulator of the
        inference stage on held-out runs (:func:`scattering_emulator_section`,
        without the per-component table).
    sources : dict
        ``{"metrics", "speedup", "adaptive"[, "ch1d"][, "inference_validation"]}`` paths.
    """
    _need(metrics, ["output", "n", "n_runs", "rmse_relative", "coverage95", "coverage_band_lo",
                    "coverage_band_hi", "z_std"], sources["metrics"])
    _need(speedup, ["simulation_plus_measurement_seconds", "emulator_prediction_seconds", "speedup",
                    "n_runs_timed"], sources["speedup"])
    _need(adaptive, ["design", "n_runs", "output", "rmse_relative"], sources["adaptive"])
    rows = []
    for r in metrics.sort_values("output").itertuples():
        inside = r.coverage_band_lo <= r.coverage95 <= r.coverage_band_hi
        rows.append((r.output, r.n, r.n_runs, r.rmse_relative, fmt(r.coverage95, ".2f"),
                     f"{r.coverage_band_lo:.2f}-{r.coverage_band_hi:.2f}", "yes" if inside else "no", r.z_std))
    lines = ["# Gaussian-process emulators of the simulation: summary"]
    lines += _section(
        "Validation on held-out runs",
        md_table(["output", "points", "runs", "relative RMSE", "95 % coverage", "band", "calibrated",
                  "std of z"], rows),
        _source(sources["metrics"]),
        note="Band: the coverages a calibrated emulator gives with this many held-out runs; "
             "z = (truth - mean) / std, 1 if calibrated.")
    s = speedup.iloc[0]
    lines += _section("Speed-up", md_table(["quantity", "value"], [
        ("simulation + measurement per run (s)", s["simulation_plus_measurement_seconds"]),
        ("emulator prediction per run (s)", s["emulator_prediction_seconds"]),
        ("speed-up", s["speedup"]),
        ("runs timed", int(s["n_runs_timed"]))]),
        _source(sources["speedup"]), note="Wall-clock times of the machine that ran the study.")
    last = adaptive.groupby("design")["n_runs"].max()
    n_last = int(last.min())
    at = adaptive[adaptive["n_runs"] == n_last].pivot_table(index="output", columns="design",
                                                            values="rmse_relative", aggfunc="mean")
    arows = []
    for out, r in at.sort_index().iterrows():
        a, b = r.get("adaptive", np.nan), r.get("random", np.nan)
        arows.append((out, a, b, a / b if b > 0 else float("nan")))
    lines += _section(f"Adaptive against random design ({n_last} training runs)",
                      md_table(["output", "adaptive rel. RMSE", "random rel. RMSE", "ratio"], arows),
                      _source(sources["adaptive"]), note="A ratio below 1: the adaptive design is better.")
    if ch1d is not None:
        lines += _section("1D Cahn-Hilliard emulator", md_table(["quantity", "value"], [
            ("held-out RMSE of phi", ch1d["rmse_held_out"]),
            ("held-out 95 % coverage", fmt(ch1d["coverage95_held_out"], ".2f"))]), _source(sources["ch1d"]))
    if inference_validation is not None:
        lines += scattering_emulator_section(inference_validation, sources["inference_validation"],
                                             components=False, title="Emulator of the scattering curve")
    return "\n".join(lines) + "\n"
