"""Figures of the dynamics stage.

Every function only reads the tables and arrays written by the compute rules
(:mod:`scattermorph.dynamics.study`) and returns a
:class:`matplotlib.figure.Figure`; callers save it with
:func:`scattermorph.plots.save.save_figure`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_dynamics_recovery", "plot_dynamics_forecast", "plot_cahn"]


def plot_dynamics_recovery(summary, curves):
    """Left: largest relative coefficient error per condition, weak against
    strong form (each model). Right: the blend's recovered ``mu(phi)`` against
    the true one (centred), per condition."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    conds = list(dict.fromkeys(summary.condition))
    x = np.arange(len(conds))
    bars = [("landau", "weak"), ("landau", "strong"), ("blend", "weak")]
    for i, (model, method) in enumerate(bars):
        sel = summary[(summary.model == model) & (summary.method == method)].set_index("condition")
        y = [sel.max_rel_error.get(c, np.nan) for c in conds]
        ax.bar(x + (i - 1) * 0.27, np.maximum(y, 1e-6), 0.27, label=f"{model}, {method} form")
    ax.axhline(0.01, color="k", lw=0.8, ls="--", label="1 %")
    ax.set_yscale("log")
    ax.set_xticks(x, conds, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("largest relative coefficient error")
    ax.legend(fontsize=7)
    first = curves[curves.condition == conds[0]]
    bx.plot(first.phi, first.mu_true, "k", lw=2.5, label="true (log + chi)")
    for c in conds:
        g = curves[curves.condition == c]
        bx.plot(g.phi, g.mu_recovered, lw=1, label=c)
    bx.set_xlabel("phi")
    bx.set_ylabel("mu_bulk(phi), centred (k_B T)")
    bx.set_title("blend: recovered chemical potential", fontsize=9)
    bx.legend(fontsize=6)
    return fig


def plot_dynamics_forecast(forecast):
    """Error against time of each forecaster (mean over held-out runs): the
    relative error of S(q) (top) and of the Euler characteristic density
    (bottom), one column per model."""
    models = list(dict.fromkeys(forecast.model))
    fig, axes = plt.subplots(2, len(models), figsize=(5 * len(models), 6.5), squeeze=False,
                             constrained_layout=True, sharex="col")
    mean = forecast.groupby(["model", "forecaster", "t_tau"], sort=False).mean(numeric_only=True).reset_index()
    for j, model in enumerate(models):
        for name, g in mean[mean.model == model].groupby("forecaster", sort=False):
            g = g[g.t_tau > 0]
            axes[0, j].plot(g.t_tau, g.sq, "o-", ms=3, label=name)
            axes[1, j].plot(g.t_tau, g.euler, "o-", ms=3, label=name)
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(model, fontsize=9)
        axes[0, j].set_ylabel("S(q) relative L2 error")
        axes[1, j].set_ylabel("Euler density error / max")
        axes[1, j].set_xlabel("t / tau")
        axes[0, j].legend(fontsize=7)
    return fig


def plot_cahn(a):
    """Left: ``S(q, t)`` of the ideal early series. Right: the Cahn plot
    ``R(q) / q^2`` against ``q^2`` with the fitted line and the closed form's
    ``q_c`` marked."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    q, t, s = a["q"], a["t"], a["s_qt"]
    pos = q > 0  # shell 0 is k = 0, the mean, removed
    for i in range(0, t.size, max(1, t.size // 6)):
        ax.semilogy(q[pos], s[i][pos], color=plt.cm.viridis(i / max(t.size - 1, 1)), label=f"t = {t[i]:.2g} tau")
    ax.axvline(float(a["k_critical"]), color="k", ls=":", lw=0.8)
    ax.set_xlabel("q (1/b)")
    ax.set_ylabel("S(q, t)")
    ax.legend(fontsize=7)
    ok = np.isfinite(a["rate"]) & (q > 0)
    bx.errorbar(q[ok] ** 2, a["rate"][ok] / q[ok] ** 2, yerr=a["rate_se"][ok] / q[ok] ** 2, fmt="o", ms=3,
                label="measured R(q)/q^2")
    x = np.linspace(0, 1.5 * float(a["k_critical"]) ** 2, 50)
    bx.plot(x, float(a["intercept"]) + float(a["slope"]) * x, "k-", lw=1, label="Cahn-plot fit")
    bx.axvline(float(a["k_critical"]) ** 2, color="k", ls=":", lw=0.8, label="true q_c^2")
    bx.axhline(0, color="0.6", lw=0.6)
    bx.set_xlabel("q^2 (1/b^2)")
    bx.set_ylabel("R(q) / q^2")
    bx.legend(fontsize=7)
    return fig
