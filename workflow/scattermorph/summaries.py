"""Stage summaries: the headline numbers of each stage as Markdown.

Each ``*_summary`` function reads the result tables a stage's rules wrote and
returns a short Markdown page of headed tables, each table followed by the
file it was computed from. docs/results.md and the HTML report quote these pages
(``scattermorph readme`` copies them into docs/results.md), so no number of the
study is typed by hand (as showyourwork does for papers).

The pages are deterministic: no timestamps, rows in a fixed (sorted) order
whatever the order of the input rows, and every float written with a fixed
format (:func:`fmt`), so a rerun that reproduces the tables reproduces the
pages byte for byte, except the emulator's speed-up table, which quotes the
measured seconds of ``speedup.csv``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scattermorph.errors import InputFileError

__all__ = [
    "fmt",
    "md_table",
    "dataset_summary",
    "foundations_summary",
    "emulator_summary",
    "scattering_emulator_section",
    "classification_summary",
]

#: Minkowski densities and lengths of the dataset, in the order shown (2D and 3D names)
DATASET_QUANTITIES = (
    "area_density",
    "volume_density",
    "perimeter_density",
    "surface_density",
    "mean_curvature_density",
    "euler_density",
    "L_first_moment",
    "L_peak",
)


def fmt(value, spec: str = ".3g") -> str:
    """A number as fixed-format text: ``n/a`` for None/NaN/inf, ``yes``/``no``
    for booleans, integers without a decimal point, floats with ``spec``
    (default three significant digits)."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "n/a"
    out = format(v, spec)
    return "0" if out in ("-0", "-0.0", "-0.00", "-0.000") else out


def md_table(header, rows) -> list[str]:
    """Lines of a Markdown table; cells that are not strings go through :func:`fmt`."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return lines


def _source(*paths) -> str:
    return "From " + ", ".join(f"`{p}`" for p in paths) + "."


def _need(table: pd.DataFrame, columns, name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(f"{name} lacks the column(s) {', '.join(missing)}: "
                             f"rerun the rule that writes it (has {', '.join(map(str, table.columns))})")


def _section(title: str, table_lines: list[str], source: str, note: str | None = None) -> list[str]:
    lines = ["", f"## {title}", ""]
    if note:
        lines += [note, ""]
    return lines + table_lines + ["", source]


def _dropped_text(dropped: pd.DataFrame) -> str:
    """'0', or the count with the simulations and times it came from."""
    if dropped.empty:
        return "0"
    per = dropped.groupby("sim_id")["time_over_tau"].min().sort_index()
    where = "; ".join(f"{s} from t/tau = {fmt(t)}" for s, t in per.items())
    return f"{len(dropped)} ({where})"


def dataset_summary(*, simulations: pd.DataFrame, dataset: pd.DataFrame, sources: dict,
                    dropped: pd.DataFrame | None = None) -> str:
    """The study dataset in numbers.

    Parameters
    ----------
    simulations : DataFrame, one row per simulation
        ``simulations.csv``: columns ``sim_id``, ``phi0``, ``quench``,
        ``replicate``, ``steps`` (``grid``, ``dx`` if present).
    dataset : DataFrame, one row per snapshot
        ``dataset.csv``: ``sim_id``, ``time_over_tau``, ``dimension`` and the
        Minkowski densities (``area_density`` ... in 2D, ``volume_density``
        ... in 3D, units length^-p of the simulation, b) and lengths.
    sources : dict
        ``{"simulations": path, "dataset": path[, "dropped": path]}`` as shown
        on the page.
    dropped : DataFrame, optional
        ``dataset_dropped.csv``: the snapshots left out because their
        characteristic length exceeds the allowed fraction of the box
        (columns ``sim_id``, ``snapshot``, ``time_over_tau``, ``L_over_box``).

    Returns
    -------
    str
        Markdown: counts and parameter ranges (with the dropped snapshots);
        min / median / max of every functional present.
    """
    _need(simulations, ["sim_id", "phi0", "quench", "replicate", "steps"], sources["simulations"])
    _need(dataset, ["sim_id", "time_over_tau"], sources["dataset"])
    sims = simulations.sort_values("sim_id")
    n_sims = len(sims)
    dims = sorted(set(dataset["dimension"])) if "dimension" in dataset else []
    per_sim = dataset.groupby("sim_id").size()
    rows = [
        ("simulations", n_sims),
        ("snapshots (dataset rows)", len(dataset)),
        ("snapshots per simulation", fmt(per_sim.min()) if per_sim.min() == per_sim.max()
         else f"{fmt(per_sim.min())}-{fmt(per_sim.max())}"),
        ("compositions phi0", ", ".join(fmt(v) for v in sorted(set(sims["phi0"])))),
        ("quench depths chi / chi_s", ", ".join(fmt(v) for v in sorted(set(sims["quench"])))),
        ("replicates per point", int(sims.groupby(["phi0", "quench"]).size().max())),
        ("snapshot times t / tau", f"{fmt(dataset['time_over_tau'].min())}-{fmt(dataset['time_over_tau'].max())}"),
        ("time steps per simulation (min / median / max)",
         " / ".join(fmt(float(v), ".6g") for v in (sims["steps"].min(), sims["steps"].median(), sims["steps"].max()))),
    ]
    if dropped is not None:
        rows.insert(2, ("snapshots dropped (L_first_moment > max_length_fraction x box)",
                        _dropped_text(dropped)))
    if "L_first_moment" in dataset and {"grid", "dx"} <= set(dataset.columns):
        ratio = dataset["L_first_moment"] / (dataset["grid"] * dataset["dx"])
        rows.append(("largest L_first_moment / box of the kept snapshots", fmt(float(ratio.max()))))
    if dims:
        rows.insert(2, ("dimension", ", ".join(str(int(d)) for d in dims)))
    if "grid" in sims:
        rows.insert(3, ("grid", ", ".join(sorted(set(map(str, sims["grid"]))))))
    lines = ["# The study dataset: summary"]
    lines += _section("Size and parameters", md_table(["quantity", "value"], rows),
                      _source(sources["simulations"], sources["dataset"],
                              *([sources["dropped"]] if "dropped" in sources else [])))
    qrows = []
    for q in DATASET_QUANTITIES:
        if q in dataset:
            v = dataset[q].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                qrows.append((q, v.min(), np.median(v), v.max()))
    lines += _section("Minkowski functionals and lengths over all snapshots",
                      md_table(["quantity", "min", "median", "max"], qrows), _source(sources["dataset"]),
                      note="Densities per unit area (2D) or volume (3D) in units of b^-p; lengths in b.")
    return "\n".join(lines) + "\n"


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
    (:mod:`scattermorph.inference_study`) checked on the calibration runs.

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


def classification_summary(*, biasvar: pd.DataFrame, labels: dict, sources: dict,
                           label: str = "percolation") -> str:
    """Partial-view classification in numbers.

    Parameters
    ----------
    biasvar : DataFrame
        ``biasvar.csv``: one row per (``kind``, ``features``, ``model``,
        ``fraction``) with the Domingos (2000) terms ``loss``, ``bias``,
        ``net_variance`` (= variance_unbiased - variance_biased, so loss =
        bias + net_variance with zero noise) and the class-conditional
        errors ``error_0``/``error_1`` (droplets / co-continuous) with their
        Wilson intervals ``error_c_lo``, ``error_c_hi`` and ``fisher_p``.
    labels : dict name -> DataFrame
        Label tables (``labels_study.csv``, ``labels_sections.csv``) with
        ``label_percolation``, ``labels_agree`` and (when written)
        ``label_euler``.
    sources : dict
        ``{"biasvar": path, <name of each label table>: path}``.
    label : {"percolation", "euler"}
        The label the classifiers were trained on (``classification.label``).

    Returns
    -------
    str
        Markdown: the class balance of both labels per label table, which
        label was used and why (with its reference), and a warning line for
        every table whose minority class under the used label is below
        :data:`scattermorph.classify.MIN_CLASS_SHARE`; for every view kind,
        feature set and visible fraction the model of lowest loss with its
        bias and net variance; the class-conditional errors of the same
        models.
    """
    from .classify import LABEL_CRITERIA, MIN_CLASS_SHARE, class_balance

    if label not in LABEL_CRITERIA:
        raise InputFileError(f"label={label!r}: choose one of {sorted(LABEL_CRITERIA)}")
    cols = ["kind", "features", "model", "fraction", "loss", "bias", "net_variance", "error_0", "error_0_lo",
            "error_0_hi", "error_1", "error_1_lo", "error_1_hi", "fisher_p"]
    _need(biasvar, cols, sources["biasvar"])
    lines = ["# Partial-view classification: summary"]
    lrows, warn = [], []
    for name in sorted(labels):
        t = labels[name]
        _need(t, ["label_percolation", "labels_agree", f"label_{label}"], sources[name])
        agree = t["labels_agree"].astype(str).eq("True")
        n_eul = int((t["label_euler"] == 1).sum()) if "label_euler" in t else None
        share = class_balance(t, label)
        lrows.append((name, len(t), int((t["label_percolation"] == 1).sum()),
                      "n/a" if n_eul is None else n_eul, fmt(agree.mean(), ".3f"), fmt(share, ".2f")))
        if not share >= MIN_CLASS_SHARE:
            other = "euler" if label == "percolation" else "percolation"
            alt = class_balance(t, other) if f"label_{other}" in t else float("nan")
            fix = (f"the {other} label gives {fmt(alt, '.2f')}: set classification.label: {other}"
                   if alt >= MIN_CLASS_SHARE else
                   "neither label is balanced: add structures of the missing class (lower or higher "
                   "phi0, other times or quench depths)")
            warn.append(f"**Warning**: {name}: the minority class under the {label} label is "
                        f"{fmt(share, '.2f')} of the structures, below {MIN_CLASS_SHARE:.2f}; {fix}.")
    if lrows:
        note = f"Label used: **{label}**: {LABEL_CRITERIA[label]}"
        lines += _section("Labels", md_table(["images", "structures", "co-continuous (percolating)",
                                              "co-continuous (Euler <= 0)",
                                              "agreement with the Euler-sign label",
                                              f"minority class share ({label})"], lrows),
                          _source(*(sources[n] for n in sorted(labels))), note=note)
        for w in warn:  # one paragraph each
            lines += ["", w]
    bv = biasvar.sort_values(["kind", "features", "fraction", "loss", "model"], kind="mergesort")
    best = bv.groupby(["kind", "features", "fraction"], sort=True).head(1)
    rows, crows = [], []
    for r in best.itertuples():
        share = r.bias / r.loss if r.loss > 0 else float("nan")
        rows.append((r.kind, r.features, fmt(r.fraction, ".3g"), r.model, fmt(r.loss, ".3f"), fmt(r.bias, ".3f"),
                     fmt(r.net_variance, ".3f"), fmt(share, ".2f")))
        crows.append((r.kind, r.features, fmt(r.fraction, ".3g"), r.model,
                      f"{r.error_0:.3f} ({r.error_0_lo:.3f}-{r.error_0_hi:.3f})",
                      f"{r.error_1:.3f} ({r.error_1_lo:.3f}-{r.error_1_hi:.3f})", fmt(r.fisher_p, ".2g")))
    lines += _section(
        "Bias and variance of the best model per view and visible fraction",
        md_table(["view", "features", "visible fraction", "best model", "0-1 loss", "bias", "net variance",
                  "bias share"], rows),
        _source(sources["biasvar"]),
        note="Domingos (2000) decomposition with zero noise: loss = bias + net variance; "
             "best = lowest loss among the models.")
    lines += _section(
        "Class-conditional errors of the same models",
        md_table(["view", "features", "visible fraction", "model", "error on droplets (95 % CI)",
                  "error on co-continuous (95 % CI)", "Fisher p"], crows),
        _source(sources["biasvar"]), note="Wilson intervals; Fisher's exact test of equal error rates.")
    return "\n".join(lines) + "\n"
