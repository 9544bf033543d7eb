"""Figures of the partial-view classification stage (read tables only).

Every function takes a table written by the ``decompose_errors`` rule
(:func:`scattermorph.classify.jobs.decompose_predictions`) and returns a
:class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scattermorph.classify.labels import CLASS_NAMES  # noqa: E402

__all__ = ["plot_biasvar_vs_fraction", "plot_class_errors", "plot_complexity_tradeoff"]

_STYLE = {"raw": "--", "physics": "-"}
_TERMS = [("loss", "expected error", "k"), ("bias", "bias", "tab:red"),
          ("net_variance", "net variance", "tab:blue"), ("variance", "variance", "tab:cyan")]


def _grid(table):
    kinds = list(dict.fromkeys(table["kind"]))
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(len(kinds), len(models), figsize=(2.6 * len(models), 2.3 * len(kinds)),
                             squeeze=False, sharex=True, sharey=True)
    return fig, axes, kinds, models


def plot_biasvar_vs_fraction(table):
    """Domingos terms (expected 0-1 error, bias, net and total variance)
    against the visible fraction: rows = view kinds, columns = models, line
    style = feature set."""
    fig, axes, kinds, models = _grid(table)
    for i, kind in enumerate(kinds):
        for j, model in enumerate(models):
            ax = axes[i, j]
            for feats, sub in table[(table["kind"] == kind) & (table["model"] == model)].groupby("features"):
                sub = sub.sort_values("fraction")
                for key, label, colour in _TERMS:
                    ax.plot(sub["fraction"], sub[key], _STYLE.get(feats, ":"), color=colour,
                            marker="o", ms=2.5, lw=1.2, label=f"{label} ({feats})")
            ax.set_xscale("log")
            ax.axhline(0, color="0.7", lw=0.5)
            if i == 0:
                ax.set_title(model, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{kind}\n0-1 loss terms", fontsize=8)
            if i == len(kinds) - 1:
                ax.set_xlabel("visible fraction f", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle("Bias-variance decomposition (Domingos 2000) of the test error vs visible fraction",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    return fig


def plot_class_errors(table, *, features="physics"):
    """Error rate of the main prediction per true class against the visible
    fraction, with Wilson intervals; a star marks fractions where Fisher's
    exact test rejects equal class errors at the 5 % level."""
    table = table[table["features"] == features]
    fig, axes, kinds, models = _grid(table)
    colours = ("tab:orange", "tab:purple")
    for i, kind in enumerate(kinds):
        for j, model in enumerate(models):
            ax = axes[i, j]
            sub = table[(table["kind"] == kind) & (table["model"] == model)].sort_values("fraction")
            x = sub["fraction"].to_numpy()
            for c, name in enumerate(CLASS_NAMES):
                e = sub[f"error_{c}"].to_numpy()
                lo, hi = sub[f"error_{c}_lo"].to_numpy(), sub[f"error_{c}_hi"].to_numpy()
                shift = 1.06 if c else 1 / 1.06  # keep the two bars apart
                ax.errorbar(x * shift, e, yerr=[np.maximum(e - lo, 0), np.maximum(hi - e, 0)], fmt="o-", ms=3, lw=1, capsize=2,
                            color=colours[c], label=f"{name} (n={int(sub[f'n_{c}'].max())})")
            sig = sub["fisher_p"].to_numpy() < 0.05
            ax.plot(x[sig], np.full(sig.sum(), 1.04), "k*", ms=5, label="Fisher p < 0.05")
            ax.set_xscale("log")
            ax.set_ylim(-0.03, 1.1)
            if i == 0:
                ax.set_title(model, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{kind}\nerror rate in class", fontsize=8)
            if i == len(kinds) - 1:
                ax.set_xlabel("visible fraction f", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(f"Class-conditional error of the main prediction ({features} features)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    return fig


def plot_complexity_tradeoff(table):
    """Domingos terms against model complexity at one fraction: k-NN (x =
    1/k, complexity grows to the right) and random forests (x = tree depth,
    'full' = grown until pure)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, model in zip(axes, ("knn", "random_forest")):
        sub = table[table["model"] == model].copy()
        if model == "knn":
            sub["x"] = 1.0 / sub["complexity"]
            xlabel = "1 / k (k-NN; more complex to the right)"
        else:
            full = sub["complexity"] == 0
            top = sub.loc[~full, "complexity"].max() if (~full).any() else 1
            sub["x"] = np.where(full, 2 * top, sub["complexity"])
            xlabel = "tree depth (rightmost: fully grown)"
        sub = sub.sort_values("x")
        for key, label, colour in _TERMS:
            ax.plot(sub["x"], sub[key], "o-", color=colour, ms=3, lw=1.2, label=label)
        ax.plot(sub["x"], sub["brier"], "s:", color="0.4", ms=3, lw=1, label="Brier score")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(model, fontsize=9)
        ax.axhline(0, color="0.7", lw=0.5)
    axes[0].set_ylabel("0-1 loss terms", fontsize=8)
    axes[0].legend(fontsize=7, frameon=False)
    row = table.iloc[0]
    fig.suptitle(
        f"Bias-variance trade-off at f = {row['fraction']:.3g} ({row['kind']} views, "
        f"{row['features']} features)", fontsize=10,
    )
    fig.tight_layout()
    return fig
