"""Figure of the transfer stage: predicted against true densities per set.

Reads only the predictions table of :func:`scattermorph.transfer.stage.score_stage`
and returns a :class:`matplotlib.figure.Figure`; callers save it with
:func:`scattermorph.plots.save.save_figure`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scattermorph.transfer.score import Z95  # noqa: E402

__all__ = ["plot_transfer"]


def plot_transfer(predictions):
    """Predicted against true density, one row per set and one column per functional.

    Filled markers: curves inside the model's domain; open: flagged out of it;
    error bars: the 95 % intervals before any discrepancy term. The densities
    are made dimensionless with each curve's q1 (``y_true``, ``y_mean``), so
    sets of different cell sizes share the axes of a column.
    """
    sets = list(dict.fromkeys(predictions["set"]))
    funcs = list(dict.fromkeys(predictions["functional"]))
    fig, axes = plt.subplots(len(sets), len(funcs), figsize=(2.6 * len(funcs), 2.1 * len(sets)), squeeze=False,
                             constrained_layout=True)
    answered = predictions[~predictions["refused"]]
    for j, name in enumerate(funcs):
        col = answered[answered["functional"] == name]
        lo, hi = np.nanpercentile(np.r_[col["y_true"], col["y_mean"]], [0.5, 99.5])
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        for i, s in enumerate(sets):
            ax = axes[i, j]
            g = col[col["set"] == s]
            for inside, face in ((True, "C0"), (False, "none")):
                h = g[g["in_domain"] == inside]
                ax.errorbar(h["y_true"], h["y_mean"], yerr=Z95 * h["y_std"], fmt="o", ms=3, mfc=face, mec="C0",
                            ecolor="0.6", elinewidth=0.7, lw=0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.7)
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(name.replace("_", " ") + " / q1^p", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{s}\npredicted", fontsize=7)
            if i == len(sets) - 1:
                ax.set_xlabel("true", fontsize=7)
    return fig
