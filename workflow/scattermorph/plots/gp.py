"""Figures of the Gaussian-process stage (foundations and emulators).

Every function only reads arrays and tables written by the compute rules and
returns a :class:`matplotlib.figure.Figure`; callers save it with
:func:`scattermorph.plots.save.save_figure`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "plot_few_points",
    "plot_posterior",
    "plot_hyperparameter_maps",
    "plot_emulator_validation",
    "plot_emulator_response",
    "plot_adaptive_design",
    "plot_ch1d_emulator",
]

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def plot_few_points(a):
    """Noise-free GP predictions from 1, 2, 3 points (rows) for each length scale (columns)."""
    npts, nls = a["few_mean"].shape[:2]
    fig, axes = plt.subplots(npts, nls, figsize=(3.3 * nls, 2.5 * npts), sharex=True, sharey=True,
                             constrained_layout=True)
    x = a["x_grid"]
    for i in range(npts):
        for j in range(nls):
            ax = axes[i, j]
            mu, sd = a["few_mean"][i, j], np.sqrt(a["few_var"][i, j])
            ax.plot(a["x"], a["y_mpa"], "o", color="0.8", ms=3, label="all data")
            ax.fill_between(x, mu - Z95 * sd, mu + Z95 * sd, color="C0", alpha=0.25, lw=0,
                            label="95 % band")
            ax.plot(x, mu, color="C0", lw=1.3, label="posterior mean")
            ax.plot(a["points"][: i + 1], a["few_train_y"][: i + 1], "o", color="C3", ms=5,
                    label="training points")
            if i == 0:
                ax.set_title(f"l = {a['length_scales'][j]:g}")
            if j == 0:
                ax.set_ylabel(f"{i + 1} point{'s' if i else ''}\nnominal stress (MPa)")
            if i == npts - 1:
                ax.set_xlabel(r"stretch $\lambda$")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    return fig


def plot_posterior(a):
    """(a) Posterior on all data with its 95 % band; (b) zero vs neo-Hookean prior mean."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    x = a["x_grid"]
    mu, sd = a["post_mean"], np.sqrt(a["post_var"])
    sdy = np.sqrt(a["post_var"] + a["post_noise_var"])
    ax1.fill_between(x, mu - Z95 * sdy, mu + Z95 * sdy, color="C0", alpha=0.15, lw=0,
                     label="95 % band, new measurement")
    ax1.fill_between(x, mu - Z95 * sd, mu + Z95 * sd, color="C0", alpha=0.35, lw=0,
                     label="95 % band, latent curve")
    ax1.plot(x, mu, color="C0", label="posterior mean")
    ax1.plot(a["x"], a["y_mpa"], "k.", label="Treloar (1944)")
    ell, sf2, sn2 = a["post_hyper"]
    ax1.set_title(f"zero-mean GP, max. likelihood: l = {ell:.3g}, "
                  f"sf = {np.sqrt(sf2) * a['scale_mpa']:.3g} MPa, sn = {np.sqrt(sn2) * a['scale_mpa']:.2g} MPa",
                  fontsize=9)
    ax1.set_xlabel(r"stretch $\lambda$")
    ax1.set_ylabel("nominal stress (MPa)")
    ax1.legend(fontsize=8)
    xw = a["x_wide"]
    lo, hi = a["x"].min(), a["x"].max()
    ax2.axvspan(lo, hi, color="0.93", lw=0, label="range of the data")
    for tag, col, name in (("zero", "C0", "zero mean"),
                           ("neo", "C3", rf"neo-Hookean mean, G = {a['G_mpa']:.3f} $\pm$ "
                                         rf"{a['G_se_mpa']:.3f} MPa")):
        m, s = a[f"{tag}_mean"], np.sqrt(a[f"{tag}_var"])
        ax2.fill_between(xw, m - Z95 * s, m + Z95 * s, color=col, alpha=0.2, lw=0)
        ax2.plot(xw, m, color=col, label=f"posterior, {name}")
        ax2.plot(xw, a[f"{tag}_prior_mean"], color=col, ls="--", lw=1, label=f"prior: {name}")
    ax2.plot(a["x"], a["y_mpa"], "k.", label="data")
    span = np.ptp(a["y_mpa"])
    ax2.set_ylim(a["y_mpa"].min() - 0.6 * span, a["y_mpa"].max() + 0.6 * span)
    ax2.set_xlabel(r"stretch $\lambda$")
    ax2.set_ylabel("nominal stress (MPa)")
    ax2.set_title("where the data overwhelm the prior", fontsize=9)
    ax2.legend(fontsize=7, loc="upper left")
    return fig


def plot_hyperparameter_maps(maps, optima):
    """Maps of LOOCV log probability / squared error and log marginal likelihood,
    the buggy LOOCV maps, and profiles along the length scale."""
    ls, sv = maps["length_scales"], maps["signal_variances"]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8.2), constrained_layout=True)
    panels = [
        ("loo_log_prob", "LOOCV mean log predictive probability", False, "max"),
        ("loo_sq_error", r"LOOCV mean squared error (log$_{10}$)", True, "min"),
        ("lml", "log marginal likelihood", False, "max"),
        ("buggy_log_prob", "BUGGY LOOCV (full-data fit): log prob.", False, "max"),
        ("buggy_sq_error", r"BUGGY LOOCV: squared error (log$_{10}$)", True, "min"),
    ]
    grid = optima[optima["source"] == "grid"].set_index("method")
    sk = optima[(optima["source"] == "sklearn_lbfgs")
                & (optima["output_scaling"] == grid["output_scaling"].iloc[0])]
    blog = optima[optima["source"] == "blog"]
    local = optima[optima["method"] == "lml_local_maximum"].sort_values("value", ascending=False)
    for ax, (key, title, logc, _) in zip(axes.flat, panels):
        z = maps[key]
        z = np.log10(np.maximum(z, 1e-300)) if logc else z
        finite = z[np.isfinite(z)]
        lo = np.percentile(finite, 25) if not logc else finite.min()
        # errors: reversed colours, so yellow is the better score in every panel
        im = ax.pcolormesh(ls, sv, z.T, shading="auto", cmap="viridis_r" if logc else "viridis",
                           vmin=lo, vmax=finite.max())
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.contour(ls, sv, z.T, levels=12, colors="w", linewidths=0.4, alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(r"length scale $l$ (units of $\lambda$)")
        ax.set_ylabel(r"signal variance $s_f^2$ (scaled stress$^2$)")
        r = grid.loc[key]
        ax.plot(r["length_scale"], r["signal_variance"], "*", ms=14, mec="k", color="gold",
                label=f"grid optimum l={r['length_scale']:.3g}, sf2={r['signal_variance']:.3g}"
                      + (" (edge)" if r["on_grid_edge"] else ""))
        ax.plot(sk["length_scale"], sk["signal_variance"], "X", ms=9, mec="k", color="C1",
                label=f"sklearn L-BFGS l={sk['length_scale'].iloc[0]:.3g}, "
                      f"sf2={sk['signal_variance'].iloc[0]:.3g}")
        ax.plot(blog["length_scale"], blog["signal_variance"], "o", ms=8, mfc="none", mec="r",
                mew=1.5, label="blog's optima")
        if key == "lml" and len(local) > 1:
            ax.plot(local["length_scale"].iloc[1:], local["signal_variance"].iloc[1:], "^",
                    ms=8, mec="k", color="w",
                    label="lower local maxima (noise fitted):\n" + "\n".join(
                        f"l={a:.3g}, sf2={b:.3g}" for a, b in
                        zip(local["length_scale"].iloc[1:], local["signal_variance"].iloc[1:])))
        ax.set_xlim(ls[0], ls[-1])
        ax.set_ylim(sv[0], sv[-1])
        ax.legend(fontsize=6.5, loc="lower left")
    ax = axes[1, 2]
    for key, title, logc, how in panels:
        z = maps[key]
        prof = z.max(axis=1) if how == "max" else -np.log10(np.maximum(z.min(axis=1), 1e-300))
        prof = (prof - prof.min()) / max(np.ptp(prof), 1e-300)
        ax.plot(ls, prof, ls="--" if key.startswith("buggy") else "-",
                label=title.replace(" (log$_{10}$)", "") + (" (-log)" if how == "min" else ""))
    ax.set_xscale("log")
    ax.set_xlabel(r"length scale $l$")
    ax.set_ylabel("best score over $s_f^2$ (rescaled to [0, 1])")
    ax.set_title(r"profiles along $l$ (best score over $s_f^2$)", fontsize=9)
    ax.legend(fontsize=6.5)
    return fig


_OUT_LABELS = {
    "L_first_moment": r"$L = 2\pi/\langle q\rangle$ ($b$)",
    "area_density": "area fraction",
    "perimeter_density": r"perimeter density ($b^{-1}$)",
    "euler_density": r"Euler density ($b^{-2}$)",
    "volume_density": "volume fraction",
    "surface_density": r"surface density ($b^{-1}$)",
    "mean_curvature_density": r"mean curvature density ($b^{-2}$)",
}


def plot_emulator_validation(pred, metrics, speed):
    """Top row: emulated vs simulated held-out outputs with 95 % intervals.
    Bottom row: histograms of the standardised errors against N(0, 1)."""
    outputs = list(metrics["output"])
    n = len(outputs)
    fig, axes = plt.subplots(2, n, figsize=(3.4 * n, 6.6), constrained_layout=True)
    zz = np.linspace(-4, 4, 200)
    for j, name in enumerate(outputs):
        d = pred[pred["output"] == name]
        m = metrics.set_index("output").loc[name]
        lo, hi = d["mean"] - Z95 * d["std"], d["mean"] + Z95 * d["std"]
        if name in ("L_first_moment", "perimeter_density", "surface_density"):
            lo, hi = np.exp(lo), np.exp(hi)
        ax = axes[0, j]
        sc = ax.scatter(d["truth_raw"], d["pred_raw"], c=np.log10(d["time_over_tau"]), s=10,
                        cmap="viridis", zorder=3)
        ax.vlines(d["truth_raw"], lo, hi, color="0.6", lw=0.6, zorder=2)
        lim = [min(d["truth_raw"].min(), lo.min()), max(d["truth_raw"].max(), hi.max())]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel("simulated " + _OUT_LABELS.get(name, name), fontsize=8)
        ax.set_ylabel("emulated", fontsize=8)
        ax.set_title(f"RMSE {m['rmse']:.3g} ({100 * m['rmse_relative']:.0f} % of spread)\n"
                     f"95 % coverage {100 * m['coverage95']:.0f} % "
                     f"(band {100 * m['coverage_band_lo']:.0f}-{100 * m['coverage_band_hi']:.0f} %)",
                     fontsize=8)
        ax = axes[1, j]
        ax.hist(np.clip(d["z"], -4, 4), bins=np.linspace(-4, 4, 17), density=True, color="C0",
                alpha=0.7)
        ax.plot(zz, np.exp(-zz**2 / 2) / np.sqrt(2 * np.pi), "k", lw=1)
        ax.set_xlabel("standardised error (sim - emu) / sd", fontsize=8)
        ax.set_title(f"mean {m['z_mean']:.2f}, sd {m['z_std']:.2f}", fontsize=8)
    fig.colorbar(sc, ax=axes[0, -1], label=r"log$_{10}$ t / $\tau$")
    s = speed.iloc[0]
    fig.suptitle(f"GP emulators on {int(metrics['n_runs'].iloc[0])} held-out runs; one emulated run "
                 f"takes {1e3 * s['emulator_prediction_seconds']:.2g} ms vs "
                 f"{s['simulation_plus_measurement_seconds']:.2g} s simulated "
                 f"(speed-up {s['speedup']:.2g}x)", fontsize=10)
    return fig


def plot_emulator_response(surf):
    """Emulated outputs over (phi0, quench) at three times, with the design."""
    names = [k[:-5] for k in surf if k.endswith("_mean")]
    times = surf["times"]
    fig, axes = plt.subplots(len(names), len(times), figsize=(3.6 * len(times), 2.8 * len(names)),
                             constrained_layout=True, squeeze=False)
    p, q = surf["phi0"], surf["quench"]
    for i, name in enumerate(names):
        vals = surf[f"{name}_mean"]
        vmin, vmax = np.nanmin(vals), np.nanmax(vals)
        for k, t in enumerate(times):
            ax = axes[i, k]
            im = ax.pcolormesh(p, q, vals[k].T, shading="auto", cmap="viridis", vmin=vmin, vmax=vmax)
            cs = ax.contour(p, q, surf[f"{name}_std"][k].T, levels=4, colors="w", linewidths=0.6)
            ax.clabel(cs, fontsize=5, fmt="%.2g")
            ax.plot(surf["train_phi0"], surf["train_quench"], "k.", ms=4)
            ax.plot(surf["test_phi0"], surf["test_quench"], "rx", ms=4)
            if i == 0:
                ax.set_title(rf"t = {t:.3g} $\tau$", fontsize=9)
            if k == 0:
                ax.set_ylabel(r"quench $\chi/\chi_s$")
            if i == len(names) - 1:
                ax.set_xlabel(r"$\phi_0$")
        fig.colorbar(im, ax=axes[i, -1], label=_OUT_LABELS.get(name, name))
    return fig


def plot_adaptive_design(curve, added, runs, *, n_initial):
    """Held-out error vs number of runs for the adaptive and random designs,
    and where each design put its runs."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for design, col in (("adaptive", "C3"), ("random", "C0")):
        c = curve[curve["design"] == design]
        for name, g in c.groupby("output"):
            ax1.plot(g["n_runs"], g["rmse_relative"], color=col, lw=0.6, alpha=0.5)
        mean = c.groupby("n_runs")["rmse_relative"].mean()
        ax1.plot(mean.index, mean.values, "o-", color=col, lw=2, ms=4,
                 label=f"{design}: mean over outputs")
    ax1.set_xlabel("number of simulations")
    ax1.set_ylabel("held-out RMSE / spread of the output")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax1.set_title("thin lines: individual outputs", fontsize=9)
    first = runs[runs["role"] == "train"].groupby("sim_id")[["phi0", "quench"]].first()
    first = first.iloc[:n_initial]
    ax2.plot(first["phi0"], first["quench"], "ks", ms=6, label="initial runs")
    for design, col, mk in (("adaptive", "C3", "o"), ("random", "C0", "^")):
        a = added[added["design"] == design].groupby("order")[["phi0", "quench"]].first()
        ax2.scatter(a["phi0"], a["quench"], color=col, marker=mk, s=30, label=f"{design} additions")
        for o, r in a.iterrows():
            ax2.annotate(str(o + 1), (r["phi0"], r["quench"]), fontsize=6, color=col,
                         xytext=(3, 3), textcoords="offset points")
    ax2.set_xlabel(r"$\phi_0$")
    ax2.set_ylabel(r"quench $\chi/\chi_s$")
    ax2.legend(fontsize=8)
    ax2.set_title("runs added (numbers: order)", fontsize=9)
    return fig


def plot_ch1d_emulator(a):
    """Space-time maps of the 1D solution, its emulation and their difference,
    and profiles at held-out times with 95 % bands."""
    x, t = a["x"], a["times"]
    fig = plt.figure(figsize=(13, 6.5), constrained_layout=True)
    gs = fig.add_gridspec(2, 3)
    logt = np.log10(t)
    edges = np.concatenate([[1.5 * logt[0] - 0.5 * logt[1]], (logt[1:] + logt[:-1]) / 2,
                            [1.5 * logt[-1] - 0.5 * logt[-2]]])
    dxc = x[1] - x[0]
    xe = np.append(x, x[-1] + dxc) - dxc / 2
    for k, (key, title) in enumerate((("phi", "full solution"), ("mean", "GP emulation"))):
        ax = fig.add_subplot(gs[0, k])
        im = ax.pcolormesh(xe, edges, a[key], cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(r"$x$ ($b$)")
        ax.set_ylabel(r"log$_{10}$ t / $\tau$")
        for tt, tr in zip(logt, a["train"]):
            if tr:
                ax.axhline(tt, color="k", lw=0.4, ls=":")
    fig.colorbar(im, ax=ax, label=r"$\phi$")
    ax = fig.add_subplot(gs[0, 2])
    d = a["mean"] - a["phi"]
    lim = np.abs(d).max()
    im = ax.pcolormesh(xe, edges, d, cmap="PuOr", vmin=-lim, vmax=lim, shading="auto")
    ax.set_title("emulated - simulated (dotted: training times)", fontsize=9)
    ax.set_xlabel(r"$x$ ($b$)")
    fig.colorbar(im, ax=ax)
    test = np.flatnonzero(~a["train"])
    # the first and last held-out times and the worst-covered one (the
    # transient where the interfaces form is the hardest to interpolate)
    worst = test[int(np.argmin(a["coverage95_by_time"][test]))]
    show = sorted({test[0], worst, test[-1]})
    if len(show) < min(3, len(test)):
        show = sorted(set(show) | {test[len(test) // 2]})
    for j, i in enumerate(show):
        ax = fig.add_subplot(gs[1, j])
        m, s = a["mean"][i], a["std"][i]
        ax.fill_between(x, m - Z95 * s, m + Z95 * s, color="C1", alpha=0.3, lw=0,
                        label="95 % band")
        ax.plot(x, a["phi"][i], "k", lw=1.2, label="simulation")
        ax.plot(x, m, "C1--", lw=1.2, label="emulator")
        ax.set_title(rf"held-out t = {t[i]:.3g} $\tau$: "
                     rf"{100 * a['coverage95_by_time'][i]:.0f} % of cells inside the band",
                     fontsize=9)
        ax.set_xlabel(r"$x$ ($b$)")
        ax.set_ylabel(r"$\phi$")
        if j == 0:
            ax.legend(fontsize=7)
    ls = a["length_scales"]
    fig.suptitle(rf"1D Cahn-Hilliard, $\phi_0$ = {float(a['phi0']):.2f}, quench "
                 rf"{float(a['quench']):.2f}: GP in (x, log t), l_x = {ls[0]:.3g} b, "
                 rf"l_logt = {ls[1]:.3g}; held-out RMSE {float(a['rmse_held_out']):.3g}, "
                 rf"{100 * float(a['coverage95_held_out']):.0f} % inside the 95 % band; "
                 rf"solve {float(a['solve_seconds']):.2g} s, "
                 rf"predict {float(a['predict_seconds']):.2g} s", fontsize=10)
    return fig
