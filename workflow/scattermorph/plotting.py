"""Figures of the study. Plotting functions only read arrays and tables.

Every function returns a :class:`matplotlib.figure.Figure`; callers save it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "plot_gallery",
    "plot_coarsening",
    "plot_length_series",
    "save_figure",
    "save_job_figure",
    "functional_columns",
    "plot_motivating_pair",
    "plot_functionals_vs_time",
    "plot_scaling_collapse",
    "plot_euler_vs_composition",
    "predict_figure",
]

CMAP = "RdBu_r"


def _field_image(ax, field, dx):
    field = np.asarray(field)
    if field.ndim != 2:  # 3D fields: scattermorph.plot_structures (sections and isosurfaces)
        from scattermorph.errors import ParameterError

        raise ParameterError(f"field of shape {field.shape}: the image panels draw 2D fields; "
                             "draw 3D fields with scattermorph.plot_structures")
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


def plot_gallery(fields, titles, dx: float, *, ncols: int | None = None, suptitle: str | None = None,
                 level="mean"):
    """Grid of composition fields.

    2D fields are drawn as images; 3D fields each as the shaded interface of
    the minority phase above the three mid-planes
    (:func:`scattermorph.plot_structures.plot_gallery_3d`).

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
        from scattermorph.plot_structures import plot_gallery_3d

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
    (:func:`scattermorph.plot_structures.plot_coarsening_3d`).

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
        from scattermorph.plot_structures import plot_coarsening_3d

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


def plot_length_series(ax, series):
    """Characteristic length against time of several runs, with a t^(1/3) guide.

    Parameters
    ----------
    ax : matplotlib Axes
    series : sequence of (label, t, L)
        Times (tau) and lengths (b) of each run.
    """
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


def save_figure(fig, path, *, dpi: int = 150, provenance: dict | None = None, pdf=None) -> None:
    """Save ``fig`` to ``path`` (and a vector copy to ``pdf``) atomically, then close it.

    The format follows the file suffix. With a ``provenance`` record
    (:mod:`scattermorph.provenance`) the record is embedded in the file itself,
    in the PNG text chunk ``scattermorph:provenance`` or in the PDF document
    information dictionary under the same key, and a sidecar
    ``<file>.prov.json`` holds the record and the file's sha256 (for
    ``scattermorph audit``). Matplotlib's version string and the PDF creation
    date are left out, so the bytes change only with the figure or its record
    (whose ``created`` timestamp is the one field that differs between reruns).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        The raster figure (``.png``) or any format matplotlib writes.
    dpi : int
        Resolution of raster output.
    provenance : dict, optional
        The record of :func:`scattermorph.provenance.from_snakemake`.
    pdf : path, optional
        Also write the figure as PDF here, with the same record.
    """
    try:
        for target in [path] + ([pdf] if pdf is not None else []):
            _save_one(fig, target, dpi, provenance)
    finally:
        plt.close(fig)


def _save_one(fig, path, dpi, provenance) -> None:
    import json
    import warnings

    from scattermorph.provenance import PDF_KEY, PNG_KEY, sha256_file, write_sidecar
    from scattermorph.sim.run import atomic_write

    suffix = str(path).rsplit(".", 1)[-1].lower()
    meta = None
    if suffix == "png":
        meta = {"Software": None}
        if provenance is not None:
            meta[PNG_KEY] = json.dumps(provenance, sort_keys=True)
    elif suffix == "pdf":
        # no Producer (matplotlib's version) and no CreationDate: reruns give the same bytes
        meta = {"Creator": None, "Producer": None, "CreationDate": None}
        if provenance is not None:
            meta[PDF_KEY] = json.dumps(provenance, sort_keys=True)

    def write(tmp):
        with warnings.catch_warnings():
            # matplotlib warns about keys outside the PDF standard's list; the
            # PDF reference allows any key in the information dictionary
            warnings.filterwarnings("ignore", message="Unknown infodict keyword")
            fig.savefig(tmp, dpi=dpi, format=suffix, metadata=meta)

    atomic_write(path, write)
    if provenance is not None:
        write_sidecar(path, {"figure": str(path).rsplit("/", 1)[-1], "figure_sha256": sha256_file(path),
                             "record": provenance})


def save_job_figure(fig, smk, script) -> None:
    """Save the figure of a Snakemake figure job: ``smk.output.figure`` (PNG)
    and ``smk.output.pdf``, each with the job's provenance record embedded and
    in its sidecar, at ``smk.params.dpi``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    smk : snakemake.script.Snakemake
        The job's ``snakemake`` object (outputs ``figure`` and ``pdf``).
    script : path
        The rule's script (``__file__``).
    """
    from scattermorph.provenance import from_snakemake

    save_figure(fig, smk.output.figure, dpi=smk.params.dpi, provenance=from_snakemake(smk, script),
                pdf=smk.output.pdf)


# --------------------------------------------------------------------------
# scattering and Minkowski functionals (stage 2)
# --------------------------------------------------------------------------
_LABELS = {
    "area_density": r"area fraction $A/V$",
    "volume_density": r"volume fraction $V/V_{box}$",
    "perimeter_density": r"perimeter density $L/A$ ($b^{-1}$)",
    "surface_density": r"surface density $S/V$ ($b^{-1}$)",
    "mean_curvature_density": r"mean curvature density $M/V$ ($b^{-2}$)",
    "euler_density": r"Euler density $\chi/V$ ($b^{-d}$)",
    "L_first_moment": r"$L = 2\pi/\langle q\rangle$ ($b$)",
}


def functional_columns(ndim: int) -> list[str]:
    """Density columns of the Minkowski functionals in a dataset table."""
    if ndim == 2:
        return ["area_density", "perimeter_density", "euler_density"]
    return ["volume_density", "surface_density", "mean_curvature_density", "euler_density"]


def plot_motivating_pair(images, q, curves, rows, dx: float, labels, *, level="mean"):
    """Two structures, their S(q) and their functionals (the study's question).

    3D structures are drawn as shaded interfaces of the minority phase above
    their three mid-planes
    (:func:`scattermorph.plot_structures.plot_motivating_pair_3d`).

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
        from scattermorph.plot_structures import plot_motivating_pair_3d

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


def inference_figure(post, result):
    """Corner plot of a grid posterior and its posterior-predictive feature curve.

    Parameters
    ----------
    post : dict
        :func:`scattermorph.inference.grid_posterior` (``axes``, ``weights``, ``lo``, ``hi``).
    result : dict
        :meth:`scattermorph.inference.StudyCalibration.infer` (``posterior``, ``features``).

    Returns
    -------
    matplotlib Figure
        Lower triangle: pairwise marginal densities; diagonal: 1D marginals with
        the central credible interval; right: the curve's scale-free features
        log10(S q1^d / Q) against x = q/q1 over the posterior-predictive mean and
        5-95 % band.
    """
    from scattermorph.inference import PARAM_LABELS, PARAMS

    fig = plt.figure(figsize=(11, 6.2), layout="constrained")
    gs = fig.add_gridspec(3, 5)
    w, axes = post["weights"], post["axes"]
    for i in range(3):
        for j in range(i + 1):
            ax = fig.add_subplot(gs[i, j])
            if i == j:
                m = w.sum(axis=tuple(k for k in range(3) if k != i))
                ax.step(axes[i], m, where="mid", color="C0")
                lo, hi = result["posterior"]["params"][PARAMS[i]]["central"]
                ax.axvspan(lo, hi, color="C0", alpha=0.15, lw=0)
                ax.set_yticks([])
            else:
                m = w.sum(axis=3 - i - j)  # shape (n_j, n_i): the two remaining axes, j < i
                ax.pcolormesh(axes[j], axes[i], m.T, cmap="Blues", shading="nearest")
            ax.set_xlim(post["lo"][j], post["hi"][j])
            if i == 2:
                ax.set_xlabel(PARAM_LABELS[PARAMS[j]])
            if j == 0 and i > 0:
                ax.set_ylabel(PARAM_LABELS[PARAMS[i]])
    ax = fig.add_subplot(gs[0:2, 3:5])
    f = result["features"]
    ax.fill_between(f["x"], f["predictive_lo"], f["predictive_hi"], color="C1", alpha=0.3,
                    label="posterior predictive 5-95 %")
    ax.plot(f["x"], f["predictive_mean"], color="C1", label="posterior predictive mean")
    ax.plot(f["x"], f["curve"], "k.", ms=4, label="the curve")
    ax.set_xscale("log")
    ax.set_xlabel("q / q1")
    ax.set_ylabel("log10(S q1^d / Q)")
    ax.legend(fontsize=8)
    return fig
