"""The figure of `scattermorph predict --plot`: the curve with the model's window, and the predicted densities with their intervals."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt  # noqa: E402


def predict_figure(curve, prediction, model):
    """What ``scattermorph predict --plot`` draws for one curve.

    Left: the curve I(q) (with its dI when given) on log axes, the q window
    the features use (``x_range`` times the curve's q1 for the scale-free
    inputs, the model's q grid for ``log_sq``) shaded, and q1 marked. Right:
    one small panel per predicted density, its mean with the 68 % (+-1 std)
    and 95 % (+-1.96 std) intervals of a Gaussian predictive distribution.

    Parameters
    ----------
    curve : scattermorph.sas.curves.Curve
    prediction : scattermorph.predict.model.Prediction
    model : scattermorph.predict.model.FunctionalModel
        The model the prediction came from (its feature window).

    Returns
    -------
    matplotlib.figure.Figure
    """
    info = prediction.info
    table = prediction.table
    n = len(table)
    fig = plt.figure(figsize=(8.0, max(3.2, 0.9 * n + 1.0)), layout="constrained")
    grid = fig.add_gridspec(n, 2, width_ratios=(1.5, 1.0))
    ax = fig.add_subplot(grid[:, 0])
    q, i = curve.q, curve.intensity
    if curve.error is not None:
        ax.errorbar(q, i, yerr=curve.error, fmt=".", ms=3, lw=0.6, color="C0", label="curve")
    else:
        ax.plot(q, i, ".", ms=3, color="C0", label="curve")
    ax.set_xscale("log")
    ax.set_yscale("log")
    unit = info.get("q_unit", curve.q_unit)
    if info.get("q1") is not None and "x_range" in model.features:
        lo, hi = (v * info["q1"] for v in model.features["x_range"])
        ax.axvline(info["q1"], color="k", lw=0.8, ls="--", label=f"q1 = {info['q1']:.3g} {unit}")
        label = f"feature window {model.features['x_range'][0]:g}-{model.features['x_range'][1]:g} q1"
    else:
        lo, hi = model.grid[0], model.grid[-1]
        label = "model q grid"
    ax.axvspan(lo, hi, color="C2", alpha=0.15, label=label)
    ax.set_xlabel(f"q ({unit})")
    ax.set_ylabel("I(q)" + (f" ({curve.intensity_unit})" if curve.intensity_unit else ""))
    title = Path(str(curve.source)).name + (f" [{curve.entry}]" if curve.entry else "")
    if not info.get("in_domain", True):
        title += "\nOUT OF TRAINING DOMAIN"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    for k, r in enumerate(table.itertuples()):
        a = fig.add_subplot(grid[k, 1])
        a.errorbar([r.mean], [0], xerr=[[1.96 * r.std], [1.96 * r.std]], fmt="none", lw=1.0, color="C1",
                   capsize=3, label="95 %")
        a.errorbar([r.mean], [0], xerr=[[r.std], [r.std]], fmt="o", lw=3.0, ms=5, color="C3", label="68 %")
        a.set_yticks([])
        a.set_ylim(-1, 1)
        a.set_title(f"{r.functional} = {r.mean:.4g} +- {r.std:.2g} [{r.unit}]", fontsize=8)
        a.tick_params(labelsize=7)
        if k == 0:
            a.legend(fontsize=6, loc="upper right", ncols=2)
    return fig
