"""Figures of the structures and their functionals: the morphology gallery, coarsening, the motivating pair, functionals against time, the scaling collapse and the Euler characteristic against composition (2D fields drawn here, 3D through plots.structures)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scattermorph.plots.common import _LABELS, _field_image, functional_columns, plot_length_series
from scattermorph.plots.structures import plot_coarsening_3d, plot_gallery_3d, plot_motivating_pair_3d


def plot_gallery(fields, titles, dx: float, *, ncols: int | None = None, suptitle: str | None = None,
                 level="mean"):
    """Grid of composition fields.

    2D fields are drawn as images; 3D fields each as the shaded interface of
    the minority phase above the three mid-planes
    (:func:`scattermorph.plots.structures.plot_gallery_3d`).

    Parameters
    ----------
    fields : sequence of (M, N[, P]) ndarray
        Volume fraction fields in [0, 1].
    titles : sequence of str
    dx : float or sequence of float
        Cell size in b (sets the axes extent and the scale bar), one for all
        fields or one per field.
    ncols : int, optional
        Panels per row (default 3 in 2D; 3D: see ``plot_gallery_3d``).
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study (3D: where the interface is drawn).
    """
    if np.asarray(fields[0]).ndim == 3:

        return plot_gallery_3d(fields, titles, dx, level=level, ncols=ncols, suptitle=suptitle)
    n = len(fields)
    dxs = np.broadcast_to(np.asarray(dx, float), (n,))
    ncols = min(ncols or 3, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.0 * ncols, 3.0 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    im = None
    for ax, f, t, d in zip(axes.flat, fields, titles, dxs):
        im = _field_image(ax, f, d)
        ax.set_title(t, fontsize=9)
    for ax in axes.flat[n:]:
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label=r"volume fraction $\phi$")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    boxes = [np.asarray(f).shape[-1] * d for f, d in zip(fields, dxs)]
    # one box side for all, or (per-run cell sizes) one under each panel
    for ax, box in zip(axes.flat, boxes if len(set(boxes)) > 1 else boxes[:1]):
        ax.text(0.02, -0.08, f"box side {box:g} b", transform=ax.transAxes, fontsize=8, va="top")
    return fig


def plot_coarsening(fields, times, series, dx: float, *, title: str | None = None, level="mean"):
    """Coarsening of runs: snapshots of one run and L(t) of several.

    3D snapshots are drawn as shaded interfaces above their xy mid-planes
    (:func:`scattermorph.plots.structures.plot_coarsening_3d`).

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
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study (3D: where the interface is drawn).
    """
    if np.asarray(fields[0]).ndim == 3:

        return plot_coarsening_3d(fields, times, series, dx, level=level, title=title)
    n = len(fields)
    fig = plt.figure(figsize=(2.4 * n, 6.0), layout="constrained")
    gs = fig.add_gridspec(2, n, height_ratios=[1.0, 1.3])
    for i, (f, t) in enumerate(zip(fields, times)):
        ax = fig.add_subplot(gs[0, i])
        _field_image(ax, f, dx)
        ax.set_title(rf"$t = {t:.3g}\,\tau$", fontsize=9)
    ax = fig.add_subplot(gs[1, :])
    plot_length_series(ax, series)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_motivating_pair(images, q, curves, rows, dx: float, labels, *, level="mean"):
    """Two structures, their S(q) and their functionals (the study's question).

    3D structures are drawn as shaded interfaces of the minority phase above
    their three mid-planes
    (:func:`scattermorph.plots.structures.plot_motivating_pair_3d`).

    Parameters
    ----------
    images : (2,) sequence of ndarray
        Composition fields, 2D or 3D.
    q : (B,) ndarray
        q bin centres (1/b).
    curves : (2, B) ndarray
        S(q) of each structure.
    rows : (2,) sequence of mapping
        Dataset rows (functional densities, ``q_peak``).
    dx : float or (2,) sequence of float
        Cell size in b, one for both or one per structure.
    labels : (2,) sequence of str
    level : {"mean", "equal_volume"} or float
        Binarisation rule of the study (3D: where the interface is drawn).
    """
    ndim = np.asarray(images[0]).ndim
    if ndim == 3:

        return plot_motivating_pair_3d(images, q, curves, rows, dx, labels, level=level)
    cols = functional_columns(ndim)
    dxs = np.broadcast_to(np.asarray(dx, float), (2,))
    fig = plt.figure(figsize=(11, 4.2), layout="constrained")
    gs = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.4])
    colors = ["C0", "C3"]
    for i in range(2):
        ax = fig.add_subplot(gs[0, i])
        _field_image(ax, images[i], dxs[i])
        ax.set_title(labels[i], fontsize=9, color=colors[i])
        text = "\n".join(
            f"{c.replace('_density', '')}: {rows[i][c]:.3g}" for c in cols
        )
        ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=7, va="bottom",
                bbox=dict(facecolor="white", alpha=0.85, lw=0))
    ax = fig.add_subplot(gs[0, 2])
    for i in range(2):
        good = np.isfinite(curves[i])
        ax.loglog(q[good], curves[i][good], "-", color=colors[i], label=labels[i].split("\n")[0])
        ax.axvline(rows[i]["q_peak"], color=colors[i], ls=":", lw=1)
    ax.set_xlabel(r"$q$ ($b^{-1}$)")
    ax.set_ylabel(r"$S(q)$ ($b^{%d}$)" % ndim)
    ax.legend(fontsize=8)
    ax.set_title("same peak position, different structures", fontsize=9)
    return fig


def plot_functionals_vs_time(table, *, ndim: int):
    """Functional densities and L against time, one colour per composition.

    Replicates are averaged; line style distinguishes quench depths.
    """
    cols = functional_columns(ndim) + ["L_first_moment"]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.3 * len(cols), 3.4), layout="constrained")
    phis = sorted(table["phi0"].unique())
    cmap = plt.get_cmap("viridis")
    styles = ["-", "--", ":", "-."]
    quenches = sorted(table["quench"].dropna().unique()) or [np.nan]
    for ax, col in zip(axes, cols):
        for i, p in enumerate(phis):
            for j, qd in enumerate(quenches):
                sel = table[(table["phi0"] == p)]
                if np.isfinite(qd):
                    sel = sel[sel["quench"] == qd]
                g = sel.groupby("snapshot")[["time_over_tau", col]].mean()
                ax.plot(g["time_over_tau"], g[col], styles[j % 4], color=cmap(i / max(1, len(phis) - 1)),
                        label=rf"$\phi_0$={p:g}" if j == 0 else None)
        ax.set_xscale("log")
        if col == "L_first_moment":
            ax.set_yscale("log")
        ax.axhline(0, color="k", lw=0.5) if col == "euler_density" else None
        ax.set_xlabel(r"$t/\tau$")
        ax.set_ylabel(_LABELS[col], fontsize=9)
    axes[0].legend(fontsize=7)
    if len(quenches) > 1:
        axes[-1].text(0.02, 0.98, "  ".join(f"{styles[j]} $\\chi/\\chi_s$={q:g}" for j, q in enumerate(quenches)),
                      transform=axes[-1].transAxes, fontsize=7, va="top")
    return fig


def plot_scaling_collapse(q, curves, lengths, times, *, ndim: int, title=None):
    """Dynamic scaling: ``S(q) q1^d`` against ``q / q1`` with ``q1 = 2 pi / L``.

    Parameters
    ----------
    q : (B,) ndarray
    curves : (T, B) ndarray
        S(q) of one run at T times.
    lengths : (T,) ndarray
        First-moment lengths L (b).
    times : (T,) ndarray
        Times (tau), used for the colour scale.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    cmap = plt.get_cmap("plasma")
    norm = matplotlib.colors.LogNorm(vmin=np.min(times), vmax=np.max(times))
    for s, L, t in zip(curves, lengths, times):
        good = np.isfinite(s) & (s > 0)
        q1 = 2 * np.pi / L
        axes[0].loglog(q[good], s[good], color=cmap(norm(t)), lw=1)
        axes[1].loglog(q[good] / q1, s[good] * q1**ndim, color=cmap(norm(t)), lw=1)
    axes[0].set_xlabel(r"$q$ ($b^{-1}$)")
    axes[0].set_ylabel(r"$S(q)$")
    axes[1].set_xlabel(r"$q / q_1$")
    axes[1].set_ylabel(r"$S(q)\, q_1^{%d}$" % ndim)
    axes[1].set_xlim(0.1, 20)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=r"$t/\tau$")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_euler_vs_composition(table, *, ndim: int, late_fraction: float = 0.25):
    """Dimensionless Euler characteristic ``chi L^d / V`` against phi0.

    Uses the latest ``late_fraction`` of each run's snapshots; points are
    individual snapshots (jittered), lines the mean per (phi0, quench).
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    tmax = table.groupby("sim_id")["snapshot"].transform("max")
    late = table[table["snapshot"] >= (1 - late_fraction) * tmax].copy()
    late["chi_L"] = late["euler_density"] * late["L_first_moment"] ** ndim
    quenches = sorted(late["quench"].dropna().unique()) or [np.nan]
    rng = np.random.default_rng(0)  # jitter only: a plotting aid
    for j, qd in enumerate(quenches):
        sel = late if not np.isfinite(qd) else late[late["quench"] == qd]
        x = sel["phi0"] + rng.uniform(-0.004, 0.004, len(sel))
        lab = rf"$\chi/\chi_s$={qd:g}" if np.isfinite(qd) else None
        axes[0].plot(x, sel["chi_L"], ".", color=f"C{j}", alpha=0.4, ms=4)
        g = sel.groupby("phi0")["chi_L"].mean()
        axes[0].plot(g.index, g.values, "-o", color=f"C{j}", label=lab)
        vol = "area_density" if ndim == 2 else "volume_density"
        axes[1].plot(sel[vol], sel["chi_L"], ".", color=f"C{j}", alpha=0.5, ms=4, label=lab)
    for ax in axes:
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(r"$\chi\, L^{%d} / V$" % ndim)
    axes[0].set_xlabel(r"mean composition $\phi_0$")
    axes[1].set_xlabel("measured " + ("area" if ndim == 2 else "volume") + " fraction of the A-rich phase")
    axes[0].set_title("positive: droplets (isolated domains); negative: connected", fontsize=9)
    if np.isfinite(quenches[0]):
        axes[0].legend(fontsize=8)
    return fig
