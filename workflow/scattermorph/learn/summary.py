"""Summary page of the learning stage: its headline numbers as Markdown.

Every number is read from the tables the learning rules wrote
(:mod:`scattermorph.learn.protocols`), never typed by hand:
:func:`summary_markdown` writes the page, one function per section; the
targets table with the interval calibration before and after sigma scaling,
what the held-out test can resolve of the coverage
(:func:`coverage_band_lines`), the paper's exact GP as a baseline, the physics
estimators, the best cross-validated models, the paper's protocol,
extrapolation and instrument robustness (:func:`robustness_markdown`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph._markdown import md_table
from scattermorph.learn.metrics import coverage_band
from scattermorph.learn.protocols import CALIBRATION_TARGETS, PAPER_GP, robustness_table

__all__ = [
    "summary_markdown",
    "coverage_band_lines",
    "robustness_markdown",
    "windows_markdown",
]


def _fmt(v, spec=".3f"):
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def summary_markdown(*, targets, metrics, comparison, paper, extrapolation, robustness, n_train_sims,
                     n_test_sims, windows=None):
    """The learning stage's headline numbers as a Markdown page.

    Every number is read from the tables the rules wrote; the page states
    which targets are met and, where one is missed, what the tables show.
    """
    lines = ["# Learning the Minkowski functionals from S(q): summary", "",
             f"Held-out test: {n_test_sims} simulations never seen in training or model choice "
             f"({n_train_sims} training simulations).", ""]
    if "role" not in targets:
        targets = targets.assign(role="selected")
    order = {"selected": 0, "baseline": 1}
    t = targets.assign(_o=targets["role"].map(order).fillna(2)).sort_values(["functional", "_o"], kind="stable")
    bands = {k: (t[f"{'coverage' if k == 'coverage_95' else k}_target_lo"].iloc[0],
                 t[f"{'coverage' if k == 'coverage_95' else k}_target_hi"].iloc[0])
             for k in CALIBRATION_TARGETS if len(t)}
    lines += _targets_lines(t, bands)
    sel_rows = t[t["role"] == "selected"].set_index("functional")
    if bands and n_test_sims >= 2 and len(sel_rows):
        lines += ["", *coverage_band_lines(sel_rows, n_test_sims, bands)]
    lines += _baseline_lines(sel_rows, t[t["role"] == "baseline"].set_index("functional"))
    lines += _physics_lines(metrics)
    lines += _best_cv_lines(comparison)
    lines += _paper_lines(paper)
    lines += _extrapolation_lines(extrapolation)
    if len(robustness):
        lines += robustness_markdown(robustness)
    if windows is not None and len(windows):
        lines += windows_markdown(windows)
    return "\n".join(lines) + "\n"


def _targets_lines(t: pd.DataFrame, bands: dict) -> list[str]:
    """The targets table: R^2 against its target and every interval number
    before -> after sigma scaling, per functional and model role."""

    def _pair(r, k):
        return f"{_fmt(getattr(r, k), '.2f')} -> {_fmt(getattr(r, k + '_cal'), '.2f')}"

    def _band_txt(k):
        lo, hi = bands[k]
        return f"{lo:.2f}-{hi:.2f}"

    rows = []
    for r in t.itertuples():
        r2_txt = f"{_fmt(r.r2)} ({_fmt(r.r2_target, '.2f')})"
        if r.role == "baseline":
            met = "baseline"
        else:
            miss = [name for name, ok in (("R^2", r.r2_met), ("calibration", r.calibration_met_cal)) if not ok]
            met = "yes" if not miss else " and ".join(miss) + " missed"
        role = "selected" if r.role == "selected" else "paper's GP" if r.role == "baseline" else r.role
        rows.append((r.functional, role, r.model, r.features, r2_txt, _fmt(r.sigma_scale, ".2f"),
                     _pair(r, "coverage_95"), _pair(r, "coverage_68"), _pair(r, "z_std"), met))
    lines = ["Calibrated intervals: every predictive std is multiplied by the functional's sigma-scaling "
             "factor s = RMS of the out-of-fold z-scores of the grouped cross-validation on the training "
             "simulations (the held-out simulations play no part in it); each interval number is "
             "before -> after. Targets in brackets or in the header; `met` judges R^2 and the "
             "recalibrated intervals.", ""]
    if bands:
        lines += md_table(["functional", "model role", "model", "input", "R^2 (target)", "s",
                           f"95 % coverage ({_band_txt('coverage_95')})",
                           f"68 % coverage ({_band_txt('coverage_68')})",
                           f"std z ({_band_txt('z_std')})", "met"], rows)
    return lines


def coverage_band_lines(selected, n_runs, bands) -> list[str]:
    """What the held-out test can resolve of the interval calibration.

    The snapshots of one run are strongly correlated (one structure
    coarsening), so the ``n_runs`` held-out simulations are the independent
    units: a calibrated model's coverage of its 95 % (68 %) intervals is then
    a binomial fraction of ``n_runs``, and its central 95 % range is what the
    test can tell apart from the nominal value (conservative: runs are not
    entirely one draw each). Returns Markdown lines saying, for each selected
    functional whose recalibrated coverage misses the target range, whether
    it lies inside that sampling range.
    """

    b95 = coverage_band(int(n_runs), 0.95, level=0.95)
    b68 = coverage_band(int(n_runs), 0.68, level=0.95)
    out = [f"Sampling range of the coverage: with {n_runs} held-out simulations as the independent "
           f"units, a calibrated model's 95 % coverage falls in {b95[0]:.2f}-{b95[1]:.2f} and its "
           f"68 % coverage in {b68[0]:.2f}-{b68[1]:.2f} in 95 % of test sets (binomial)."]
    notes = []
    for f, r in selected.iterrows():
        for key, band, nominal in (("coverage_95", b95, "95 %"), ("coverage_68", b68, "68 %")):
            lo, hi = bands[key]
            v = float(r[key + "_cal"])
            if np.isfinite(v) and not lo <= v <= hi:
                inside = band[0] <= v <= band[1]
                notes.append(f"{f}: {nominal} coverage {v:.2f}, outside the target {lo:.2f}-{hi:.2f} "
                             + ("but inside the sampling range (not resolved by this test)" if inside
                                else "and outside the sampling range (a real miscalibration)"))
    if notes:
        out[0] += " Missed coverage targets:"
        out += [""] + [f"- {n}" for n in notes]
    return out


def _baseline_lines(sel_rows: pd.DataFrame, base_rows: pd.DataFrame) -> list[str]:
    """The study's choice against the paper's exact GP on the held-out simulations."""
    if not len(base_rows):
        return ["", f"The paper's exact GP (`{PAPER_GP}`) is not among `learning.models`: no baseline row."]
    both = [f for f in sel_rows.index if f in base_rows.index]
    wins = [f for f in both if sel_rows.loc[f, "r2"] >= base_rows.loc[f, "r2"]]
    return ["", f"The study's choice against the paper's exact GP (`{PAPER_GP}`) on the held-out "
            f"simulations: held-out R^2 as good or better for {len(wins)} of {len(both)} functionals"
            + ("" if len(wins) == len(both) else
               " (worse for " + ", ".join(f"{f}: {_fmt(sel_rows.loc[f, 'r2'])} vs "
                                           f"{_fmt(base_rows.loc[f, 'r2'])}"
                                           for f in both if f not in wins) + ")") + "."]


def _physics_lines(metrics: pd.DataFrame) -> list[str]:
    """R^2 of the physics estimators (no learning) on the same test rows."""
    phys = metrics[metrics["model"] == "physics"]
    if not len(phys):
        return []
    return ["", "Physics estimators on the same test rows (no learning): " + "; ".join(
        f"{r.functional}: R^2 = {_fmt(r.r2)}" for r in phys.itertuples()) + "."]


def _best_cv_lines(comparison: pd.DataFrame) -> list[str]:
    """The best cross-validated GP and baseline per functional."""
    lines = ["", "Best cross-validated model of each kind per functional (training simulations):", ""]
    best = comparison.sort_values("r2", ascending=False).groupby(["functional", "gp"], sort=True).head(1)
    for r in best.sort_values(["functional", "gp"]).itertuples():
        kind = "GP" if r.gp else "baseline"
        lines.append(f"- {r.functional}, best {kind}: {r.model} on {r.features}, CV R^2 = {_fmt(r.r2)}")
    return lines


def _paper_lines(paper: pd.DataFrame) -> list[str]:
    """Best and median relative RMSE of the paper's protocol per functional."""
    if not len(paper):
        return []
    lines = ["", "The paper's protocol (random splits within one run; relative RMSE = rmse / std of "
             "the run's values), best split and median over splits:", ""]
    g = paper.groupby(["functional"])["relative_rmse"]
    for f, s in g:
        f = f[0] if isinstance(f, tuple) else f
        lines.append(f"- {f}: best {_fmt(s.min())}, median {_fmt(s.median())}")
    return lines


def _extrapolation_lines(extrapolation: pd.DataFrame) -> list[str]:
    """Median predictive std outside / inside the training domain."""
    if not len(extrapolation):
        return []
    lines = ["", "Extrapolation (median predictive std outside / inside the training domain):", ""]
    med = extrapolation.groupby(["parameter", "functional", "domain"])["y_std"].median().unstack("domain")
    for (par, f), r in med.iterrows():
        lines.append(f"- {par}, {f}: {_fmt(r['outside'] / r['inside'], '.2f')}x")
    return lines


def robustness_markdown(robustness) -> list[str]:
    """Lines of the learning summary for the
    :func:`scattermorph.learn.protocols.robustness` table: R^2 per setting
    (models trained on ideal curves) and the
    :func:`scattermorph.learn.protocols.robustness_table` of ideal against
    smeared training."""
    lines = []
    rob = robustness if "training" in robustness else robustness.assign(training="ideal")
    lines += ["", "Instrument robustness (held-out R^2 per setting; -1 = ideal curves; models trained on "
              "ideal curves):", ""]
    for s, grp in rob[rob["training"] == "ideal"].groupby("setting"):
        lines.append(f"- setting {s}: " + ", ".join(f"{r.functional} {_fmt(r.r2)}" for r in grp.itertuples()))
    table = robustness_table(rob)
    if len(table):
        lines += ["", "Resolution-aware models (what `scattermorph predict` does with a curve's dQ): held-out "
                  "R^2 on ideal test curves, and on the setting's test curves with the models trained on "
                  "ideal curves or refitted on training curves smeared with the setting's resolution "
                  "(pinhole Gaussian, sasmodels' scheme):", "",
                  "| setting | dq/q | counts | background | functional | ideal curves | trained on ideal | "
                  "trained on smeared | ideal - smeared |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in table.itertuples():
            counts = "none" if not np.isfinite(r.counts) else f"{r.counts:.0e}"
            lines.append(f"| {r.setting} | {r.resolution:g} | {counts} | {r.background:g} | {r.functional} | "
                         f"{_fmt(r.r2_ideal)} | {_fmt(r.r2_trained_ideal)} | {_fmt(r.r2_trained_smeared)} | "
                         f"{_fmt(r.gap)} |")
    return lines


def windows_markdown(windows) -> list[str]:
    """Lines of the learning summary for the :func:`scattermorph.predict.evaluate.windows_table` table.

    Parameters
    ----------
    windows : pandas.DataFrame
        One row per (window, background level, fitted or given, functional).
    """
    w = windows.copy()
    for col in ("refused_cv", "warned", "r2_all", "b_tail"):  # tables made before these columns existed
        if col not in w:
            w[col] = np.nan
    lines = ["", "Measured curves (what `scattermorph predict` does with a partial q range and a flat background): "
             "held-out curves cut to a window of their own q1, a background of a fraction of I at their largest q "
             "(tail windows reaching beyond the model's: at its upper edge) and relative noise (config "
             "learning.windows) added; the model refitted on the window each covers, the background fitted (rows "
             "'given 0': the full window with the background given as 0, as before window refits and background "
             "fits existed). R^2 and 95 % coverage over the answered curves; R^2 all: over every curve, refusals "
             "ignored; refused: the fraction refused because the refit's cross-validated R^2 (the larger of its "
             "physical and scale-free values) is below the threshold; warned: answered with a warning that the R^2 "
             "with the curve's background and noise errors added is below it; refused (CV): the fraction the "
             "physical cross-validated R^2 alone would refuse (the rule before); background: RMS error of the "
             "fitted background over I at the edge the level scales, RMS of its z-score, and the fraction fitted "
             "from the curve's tail beyond 3 q1.", "",
             "| window (q/q1) | background | functional | R^2 | coverage 95 % | R^2 all | refused | warned | "
             "refused (CV) | background error | background z RMS | tail fit |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in w.itertuples():
        bg = f"{r.background_level:g}" + ("" if r.background_fitted else " (given 0)")
        lines.append(f"| {r.window} | {bg} | {r.functional} | {_fmt(r.r2)} | {_fmt(r.coverage_95, '.2f')} | "
                     f"{_fmt(r.r2_all)} | {_fmt(r.refused, '.2f')} | {_fmt(r.warned, '.2f')} | "
                     f"{_fmt(r.refused_cv, '.2f')} | "
                     f"{_fmt(r.b_error, '.2f')} | {_fmt(r.b_z_rms, '.2f')} | {_fmt(r.b_tail, '.2f')} |")
    return lines
