"""Figures of the study. Plotting functions only read arrays and tables.

Every function returns a :class:`matplotlib.figure.Figure`; callers save it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_gallery", "plot_coarsening", "save_figure"]

CMAP = "RdBu_r"


def _field_image(ax, field, dx):
    field = np.asarray(field)
    if field.ndim == 3:  # mid-plane section of a 3D field
        field = field[field.shape[0] // 2]
    n, m = field.shape
    im = ax.imshow(
        field.T,
        origin="lower",
        cmap=CMAP,
        vmin=0.0,
        vmax=1.0,
        extent=(0, n * dx, 0, m * dx),
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def plot_gallery(fields, titles, dx: float, *, ncols: int = 3, suptitle: str | None = None):
    """Grid of composition fields (mid-plane sections for 3D).

    Parameters
    ----------
    fields : sequence of (M, N[, P]) ndarray
        Volume fraction fields in [0, 1].
    titles : sequence of str
    dx : float
        Cell size in b (sets the axes extent and the scale bar).
    """
    n = len(fields)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.0 * ncols, 3.0 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    im = None
    for ax, f, t in zip(axes.flat, fields, titles):
        im = _field_image(ax, f, dx)
        ax.set_title(t, fontsize=9)
    for ax in axes.flat[n:]:
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label=r"volume fraction $\phi$")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    box = np.asarray(fields[0]).shape[-1] * dx
    axes.flat[0].text(
        0.02, -0.08, f"box side {box:g} b", transform=axes.flat[0].transAxes, fontsize=8, va="top"
    )
    return fig


def plot_coarsening(fields, times, series, dx: float, *, title: str | None = None):
    """Coarsening of runs: snapshots of one run and L(t) of several.

    Parameters
    ----------
    fields : sequence of ndarray
        Snapshots of one run at increasing times (shown in the top row).
    times : sequence of float
        Times of ``fields`` in units of tau.
    series : sequence of (label, t, L)
        Characteristic length ``L`` (units of b) against time (units of tau)
        for each run plotted in the bottom panel.
    dx : float
        Cell size in b.
    """
    n = len(fields)
    fig = plt.figure(figsize=(2.4 * n, 6.0), layout="constrained")
    gs = fig.add_gridspec(2, n, height_ratios=[1.0, 1.3])
    for i, (f, t) in enumerate(zip(fields, times)):
        ax = fig.add_subplot(gs[0, i])
        _field_image(ax, f, dx)
        ax.set_title(rf"$t = {t:.3g}\,\tau$", fontsize=9)
    ax = fig.add_subplot(gs[1, :])
    tall = []
    for label, t, L in series:
        ax.loglog(t, L, "o-", ms=3, label=label)
        tall.append(np.asarray(t))
    if tall:
        # Lifshitz-Slyozov-Wagner guide L ~ t^(1/3), anchored at the late data
        t_all = np.concatenate(tall)
        t_late = np.geomspace(np.quantile(t_all, 0.5), t_all.max(), 20)
        l_ref = np.nanmedian([np.asarray(L)[-1] for _, _, L in series])
        ax.loglog(
            t_late, l_ref * (t_late / t_all.max()) ** (1 / 3), "k--", lw=1, label=r"$t^{1/3}$"
        )
    ax.set_xlabel(r"time $t / \tau$")
    ax.set_ylabel(r"characteristic length $L = 2\pi/\langle k \rangle$ ($b$)")
    ax.legend(fontsize=8, ncol=2)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save_figure(fig, path, *, dpi: int = 150) -> None:
    """Save ``fig`` to ``path`` atomically and close it.

    The format follows the file suffix. Metadata that changes from run to run
    (software version strings aside) is not written, so reruns give
    byte-identical PNGs.
    """
    from .simulate import atomic_write

    suffix = str(path).rsplit(".", 1)[-1]
    meta = {"Software": None} if suffix == "png" else None

    def write(tmp):
        fig.savefig(tmp, dpi=dpi, format=suffix, metadata=meta)

    try:
        atomic_write(path, write)
    finally:
        plt.close(fig)
