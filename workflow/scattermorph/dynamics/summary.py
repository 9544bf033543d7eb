"""Summary page of the dynamics stage: the recovered coefficients, the blend's
chemical potential and quench depth, the forecast errors and the Cahn plot."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph._markdown import _need, _section, _source, fmt, md_table

__all__ = ["dynamics_summary"]


def _coefficient_lines(coefficients: pd.DataFrame, condition: str) -> list[str]:
    rows = []
    sel = coefficients[(coefficients.condition == condition) & (coefficients.method == "weak")]
    for r in sel.itertuples():
        rows.append((r.model, r.term, r.truth, fmt(r.recovered, ".5g"), fmt(r.sd, ".2g")))
    return md_table(["model", "term", "truth", "recovered", "bootstrap sd"], rows)


def _summary_lines(summary: pd.DataFrame) -> list[str]:
    rows = []
    for (model, cond), g in summary.groupby(["model", "condition"], sort=False):
        w, s = g[g.method == "weak"].iloc[0], g[g.method == "strong"].iloc[0]
        rows.append((model, cond, w.max_rel_error, w.spurious, s.max_rel_error, s.spurious,
                     fmt(s.mass_drift, ".2g")))
    return md_table(["model", "condition", "weak: max rel. error", "weak: spurious terms",
                     "strong: max rel. error", "strong: spurious terms", "strong: mass drift"], rows)


def _forecast_lines(forecast: pd.DataFrame) -> list[str]:
    keys = [k for k in ("sq", "area", "perimeter", "euler", "volume", "surface", "mean_curvature")
            if k in forecast.columns]
    mean = forecast.groupby(["model", "forecaster", "t_tau"], sort=False)[keys].mean().reset_index()
    horizon = mean.t_tau.max()
    marks = sorted({t for t in mean.t_tau.unique()
                    if np.isclose(t, [horizon / 4, horizon / 2, horizon]).any() or t == mean.t_tau[mean.t_tau > 0].min()})
    rows = [(r.model, r.forecaster, r.t_tau, *[getattr(r, k) for k in keys])
            for r in mean[mean.t_tau.isin(marks)].itertuples()]
    return md_table(["model", "forecaster", "t / tau", "S(q) rel. error", *[f"{k} error" for k in keys[1:]]],
                    rows)


def dynamics_summary(*, coefficients: pd.DataFrame, summary: pd.DataFrame, blend: pd.DataFrame,
                     forecast: pd.DataFrame, cahn: pd.DataFrame, sources: dict) -> str:
    """The stage's numbers as Markdown.

    Parameters
    ----------
    coefficients, summary, blend : DataFrame
        :func:`scattermorph.dynamics.study.recovery_tables`' tables.
    forecast : DataFrame
        :func:`scattermorph.dynamics.study.forecast_table`.
    cahn : DataFrame
        :func:`scattermorph.dynamics.study.cahn_table`'s table.
    sources : dict
        Paths ``{"coefficients", "summary", "blend", "forecast", "cahn"}``.
    """
    _need(coefficients, ["model", "condition", "method", "term", "truth", "recovered", "sd"],
          sources["coefficients"])
    _need(summary, ["model", "condition", "method", "max_rel_error", "spurious", "mass_drift"],
          sources["summary"])
    _need(blend, ["condition", "quench_truth", "quench", "quench_sd", "mu_error", "degennes_ratio"],
          sources["blend"])
    _need(forecast, ["model", "forecaster", "run", "t_tau", "sq"], sources["forecast"])
    _need(cahn, ["condition", "quantity", "truth", "recovered", "sd"], sources["cahn"])
    lines = ["# Dynamics: the equation of motion learnt from time series: summary"]
    for cond, title in (("noise-free", "Recovered coefficients, noise-free (weak-form SINDy)"),
                        ("thermal noise", "Recovered coefficients with thermal (Cook) noise")):
        lines += _section(title, _coefficient_lines(coefficients, cond), _source(sources["coefficients"]),
                          note="d_t phi = sum_j c_j term_j, u = phi - 1/2; sd from the block bootstrap "
                               "over time windows.")
    lines += _section("Weak form against the strong-form baseline", _summary_lines(summary),
                      _source(sources["summary"]),
                      note="max rel. error over the true terms; spurious = terms kept whose true "
                           "coefficient is 0; mass drift = largest |d<phi>/dt| of the fitted model on the "
                           "data over the rms d_t phi (the weak form's is 0 by construction). The blend "
                           "is not in the strong library exactly (its log term): n/a.")
    rows = [(r.condition, r.quench_truth, fmt(r.quench, ".4g"), fmt(r.quench_sd, ".2g"),
             fmt(r.mu_error, ".2g"), fmt(r.degennes_ratio, ".4g")) for r in blend.itertuples()]
    lines += _section("Blend: chemical potential and quench depth",
                      md_table(["condition", "chi/chi_s true", "recovered", "bootstrap sd",
                                "mu(phi) rel. L2 error", "de Gennes coeff. / truth"], rows),
                      _source(sources["blend"]),
                      note="chi/chi_s from f''(phi0) of the recovered mu(phi), given N; mu compared over "
                           "the compositions the data visit, both centred.")
    lines += _section("Forecast errors on held-out runs", _forecast_lines(forecast), _source(sources["forecast"]),
                      note="Mean over the held-out runs. S(q): relative L2 error of the radial S(q); "
                           "functionals: |error| of the density over the largest true density of the run. "
                           "NaN: the forecast blew up.")
    rows = [(r.condition, r.quantity, fmt(r.truth, ".4g"), fmt(r.recovered, ".4g"), fmt(r.sd, ".2g"))
            for r in cahn.itertuples()]
    lines += _section("Cahn plot from time-resolved S(q, t)",
                      md_table(["condition", "quantity", "truth", "recovered", "sd"], rows),
                      _source(sources["cahn"]),
                      note="Mobility from the slope with the de Gennes kappa0 known; f'' from the intercept; "
                           "chi/chi_s given N; kappa0 from the slope with the mobility known (1). Rows without "
                           "'joint fit': a rate per q shell, then a line through the rates (sd from the line's "
                           "residuals); 'joint fit': the line fitted to every early curve at once with Cook's "
                           "noise term, shells weighted by their modes (sd: jackknife over shells). Growth "
                           "exponent: truth is the Lifshitz-Slyozov asymptote 1/3.")
    return "\n".join(lines) + "\n"
