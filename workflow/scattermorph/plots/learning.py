"""Figures of the learning stage. They only read the tables that the
learning rules write (:mod:`scattermorph.learn.protocols`); each returns a
:class:`matplotlib.figure.Figure` that the caller saves with
:func:`scattermorph.plots.save.save_figure`.
"""

from __future__ import annotations

import html

import matplotlib

from scattermorph.learn.protocols import CALIBRATION_TARGETS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scattermorph.learn.protocols import calibration_curve  # noqa: E402

__all__ = [
    "LABELS",
    "plot_parity",
    "plot_error_vs_euler",
    "plot_calibration",
    "plot_learning_curves",
    "plot_extrapolation",
    "plot_model_comparison",
    "comparison_html",
    "plot_paper_protocol",
    "plot_robustness",
]

#: axis labels of the functionals (densities per unit area/volume, units of b)
LABELS = {
    "area_density": "area fraction",
    "volume_density": "volume fraction",
    "perimeter_density": r"perimeter density ($b^{-1}$)",
    "surface_density": r"surface density ($b^{-1}$)",
    "mean_curvature_density": r"mean curvature density ($b^{-2}$)",
    "euler_density": r"Euler characteristic density ($b^{-d}$)",
}


def _label(f):
    return LABELS.get(f, f)


def _panels(n, width=4.0, height=3.6):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, constrained_layout=True)
    return fig, axes[0]


def plot_parity(predictions, metrics, phi0):
    """Predicted vs true value of each functional on the held-out simulations.

    Parameters
    ----------
    predictions : DataFrame
        ``test_predictions.csv`` (functional, row, y_true, y_pred, y_std and,
        if present, the recalibrated ``y_std_cal`` used for the bars).
    metrics : DataFrame
        ``test_metrics.csv`` (functional, model, features, r2, coverage_95,
        optionally ``role`` (only ``selected`` rows are used) and
        ``coverage_95_cal``).
    phi0 : Series
        Composition of each dataset row (indexed by row), for colour.
    """
    funcs = list(dict.fromkeys(predictions["functional"]))
    fig, axes = _panels(len(funcs))
    for ax, f in zip(axes, funcs):
        p = predictions[predictions["functional"] == f]
        keep = (metrics["functional"] == f) & (metrics["model"] != "physics")
        if "role" in metrics:  # the selected model, not the paper's baseline row
            keep &= metrics["role"] == "selected"
        m = metrics[keep].iloc[0]
        cal = "y_std_cal" in p and np.isfinite(p["y_std_cal"]).all()
        c = phi0.loc[p["row"]].to_numpy()
        ax.errorbar(p["y_true"], p["y_pred"], yerr=1.96 * (p["y_std_cal"] if cal else p["y_std"]), fmt="none",
                    ecolor="0.7", elinewidth=0.6, zorder=1)
        sc = ax.scatter(p["y_true"], p["y_pred"], c=c, s=10, cmap="viridis", zorder=2)
        lo = min(p["y_true"].min(), p["y_pred"].min())
        hi = max(p["y_true"].max(), p["y_pred"].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"true {_label(f)}")
        ax.set_ylabel(f"predicted {_label(f)}")
        ax.set_title(f"{m['model']} on {m['features']}\n"
                     f"$R^2$ = {m['r2']:.3f}, 95% coverage = {m['coverage_95']:.2f}"
                     + (f" -> {m['coverage_95_cal']:.2f}" if cal and "coverage_95_cal" in m else ""),
                     fontsize=9)
    fig.colorbar(sc, ax=axes[-1], label=r"$\phi_0$")
    return fig


def plot_error_vs_euler(predictions, name="euler_density"):
    """Error and predictive std of the Euler characteristic density against
    its true value: where does connectivity fail?"""
    p = predictions[predictions["functional"] == name].sort_values("y_true")
    fig, axes = _panels(2)
    err = p["y_pred"] - p["y_true"]
    axes[0].errorbar(p["y_true"], err, yerr=1.96 * p["y_std"], fmt="o", ms=3, elinewidth=0.6,
                     ecolor="0.6", color="C3")
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].axvline(0, color="0.5", lw=0.6, ls=":")
    axes[0].set_xlabel(f"true {_label(name)}")
    axes[0].set_ylabel("prediction - truth (bars: 95% interval)")
    z = err / p["y_std"]
    axes[1].scatter(p["y_true"], z, s=8, color="C0")
    for v in (-1.96, 1.96):
        axes[1].axhline(v, color="k", ls="--", lw=0.8)
    axes[1].axvline(0, color="0.5", lw=0.6, ls=":")
    axes[1].set_xlabel(f"true {_label(name)}")
    axes[1].set_ylabel("standardised error z")
    return fig


def plot_calibration(test_predictions, cv_predictions=None, targets=None):
    """Observed vs nominal coverage of the GP's central intervals, before and
    after sigma scaling.

    Left: the held-out simulations with the GP's own std (solid) and the
    selected models' out-of-fold predictions on the training simulations
    (dashed, the data the scaling factor is fitted to), if given. Middle: the
    held-out simulations with the recalibrated std (``y_std_cal`` of
    ``test_predictions``; the panel says so when the column is absent).
    Both: the target bands of the 68 % and 95 % coverage (``targets``: dict
    with ``coverage_68`` and ``coverage_95`` (lo, hi); default
    :data:`scattermorph.learn.protocols.CALIBRATION_TARGETS`) as grey bars. Right:
    standardised residuals of the test rows after recalibration.
    """

    targets = dict(CALIBRATION_TARGETS, **(targets or {}))
    levels = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.683, 0.8, 0.9, 0.95, 0.99])
    funcs = list(dict.fromkeys(test_predictions["functional"]))
    has_cal = "y_std_cal" in test_predictions and np.isfinite(test_predictions["y_std_cal"]).any()
    fig, axes = _panels(3, width=4.0)
    for i, f in enumerate(funcs):
        p = test_predictions[test_predictions["functional"] == f]
        lv, obs = calibration_curve(p["y_true"], p["y_pred"], p["y_std"], levels)
        axes[0].plot(lv, obs, "-o", ms=3, color=f"C{i}", label=f"{_label(f)} (test)")
        if cv_predictions is not None:
            c = cv_predictions[cv_predictions["functional"] == f]
            if len(c):
                lv, obs = calibration_curve(c["y_true"], c["y_pred"], c["y_std"], levels)
                axes[0].plot(lv, obs, "--", color=f"C{i}", lw=1, label=f"{_label(f)} (CV, training)")
        std = p["y_std_cal"] if has_cal else p["y_std"]
        if has_cal:
            lv, obs = calibration_curve(p["y_true"], p["y_pred"], std, levels)
            axes[1].plot(lv, obs, "-o", ms=3, color=f"C{i}", label=f"{_label(f)} (test)")
        z = (p["y_true"] - p["y_pred"]) / std
        axes[2].hist(z, bins=np.linspace(-5, 5, 41), histtype="step", density=True, color=f"C{i}",
                     label=_label(f))
    for ax, title in zip(axes[:2], ["before: the GP's own std", "after: std x s (s from CV)"]):
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        for nominal, key in ((0.683, "coverage_68"), (0.95, "coverage_95")):
            lo, hi = targets[key]
            ax.plot([nominal, nominal], [lo, hi], color="0.5", lw=5, alpha=0.5, solid_capstyle="butt")
        ax.set_xlabel("nominal coverage of the central interval")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("observed coverage")
    axes[0].legend(fontsize=6)
    if has_cal:
        axes[1].legend(fontsize=6)
    else:
        axes[1].text(0.5, 0.5, "no recalibrated std", ha="center", transform=axes[1].transAxes)
    x = np.linspace(-5, 5, 201)
    axes[2].plot(x, np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi), "k:", lw=1, label="N(0, 1)")
    axes[2].set_xlabel("standardised residual z (test, " + ("recalibrated)" if has_cal else "raw)"))
    axes[2].set_ylabel("density")
    axes[2].legend(fontsize=7)
    return fig


def plot_learning_curves(curves):
    """Held-out R^2 and RMSE vs the number of training simulations
    (mean and range over the random draws)."""
    funcs = list(dict.fromkeys(curves["functional"]))
    fig, axes = _panels(len(funcs))
    for ax, f in zip(axes, funcs):
        c = curves[curves["functional"] == f].groupby("n_sims")["r2"]
        mean, lo, hi = c.mean(), c.min(), c.max()
        ax.fill_between(mean.index, lo, hi, color="C0", alpha=0.25, lw=0)
        ax.plot(mean.index, mean, "-o", ms=4, color="C0")
        ax.set_xlabel("training simulations")
        ax.set_ylabel(r"held-out $R^2$")
        ax.set_title(_label(f), fontsize=9)
        ax.set_ylim(max(-0.5, float(np.nanmin(lo)) - 0.05), 1.02)
        ax.axhline(1, color="0.6", lw=0.6)
    return fig


def plot_extrapolation(extrap):
    """Predictive std and absolute error inside vs outside the training
    domain, per parameter and functional (values relative to the spread of
    the functional over the dataset rows shown)."""
    params = list(dict.fromkeys(extrap["parameter"]))
    funcs = list(dict.fromkeys(extrap["functional"]))
    fig, axes = plt.subplots(len(params), len(funcs), figsize=(3.8 * len(funcs), 3.2 * len(params)),
                             squeeze=False, constrained_layout=True)
    for i, par in enumerate(params):
        for j, f in enumerate(funcs):
            ax = axes[i, j]
            e = extrap[(extrap["parameter"] == par) & (extrap["functional"] == f)]
            scale = e["y_true"].std()
            for dom, col, off in [("inside", "C0", -0.004), ("outside", "C3", 0.004)]:
                d = e[e["domain"] == dom]
                ax.scatter(d["value"] + off, d["y_std"] / scale, s=8, color=col, label=f"std ({dom})")
                ax.scatter(d["value"] - off, (d["y_pred"] - d["y_true"]).abs() / scale, s=8,
                           facecolors="none", edgecolors=col, label=f"|error| ({dom})")
            ax.axvline(e["split"].iloc[0], color="k", ls="--", lw=0.8)
            ax.set_yscale("log")
            ax.set_xlabel(r"$\phi_0$" if par == "phi0" else r"quench $\chi/\chi_s$")
            ax.set_ylabel("relative to the spread")
            ax.set_title(_label(f), fontsize=9)
    axes[0, -1].legend(fontsize=6)
    return fig


def _heat(summary, value="r2"):
    s = summary[~summary["model"].eq("physics")]
    return s.pivot_table(index="model", columns=["functional", "features"], values=value)


def plot_model_comparison(summary):
    """Heat map of the cross-validated R^2: models (rows) x input and
    functional (columns)."""
    t = _heat(summary)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * t.shape[1], 1.0 + 0.45 * t.shape[0]), constrained_layout=True)
    im = ax.imshow(np.clip(t.to_numpy(), -0.5, 1), cmap="viridis", vmin=-0.5, vmax=1, aspect="auto")
    ax.set_yticks(range(t.shape[0]), t.index)
    ax.set_xticks(range(t.shape[1]), [f"{_label(a).split(' (')[0]}\n{b}" for a, b in t.columns],
                  rotation=60, ha="right", fontsize=7)
    for (r, c), v in np.ndenumerate(t.to_numpy()):
        if np.isfinite(v):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="w" if v < 0.5 else "k")
    fig.colorbar(im, ax=ax, label=r"cross-validated $R^2$ (clipped at -0.5)")
    return fig


def comparison_html(summary, selection, title="Model comparison"):
    """A self-contained HTML page of the comparison table (for the report):
    every (input, model, functional) with its cross-validated metrics; the
    selected model of each functional in bold."""
    cols = ["functional", "features", "model", "r2", "r2_fold_sd", "relative_rmse", "coverage_68",
            "coverage_95", "z_std", "nlpd", "fit_seconds"]
    s = summary[[c for c in cols if c in summary]].sort_values(["functional", "r2"], ascending=[True, False])
    chosen = {(r.functional, r.features, r.model) for r in selection.itertuples()}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in s.columns)
    body = []
    for r in s.itertuples(index=False):
        bold = (r.functional, r.features, r.model) in chosen
        cells = []
        for v in r:
            txt = f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))
            cells.append(f"<td>{'<b>' + txt + '</b>' if bold else txt}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}</style></head><body>"
            f"<h3>{html.escape(title)}</h3><p>Grouped cross-validation on the training simulations "
            "(pooled out-of-fold metrics); bold: the model chosen for each functional.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>")


def plot_paper_protocol(splits):
    """Jones & Clarke's protocol: relative RMSE over the random splits per
    kernel (box: quartiles; dot: best split, the number the paper
    reported), and the parity plot of the best split of each functional."""
    funcs = list(dict.fromkeys(splits["functional"]))
    kernels = list(dict.fromkeys(splits["kernel"]))
    fig, axes = plt.subplots(2, len(funcs), figsize=(4.0 * len(funcs), 7.0), squeeze=False,
                             constrained_layout=True)
    for j, f in enumerate(funcs):
        s = splits[splits["functional"] == f]
        data = [s[s["kernel"] == k]["relative_rmse"].to_numpy() for k in kernels]
        ax = axes[0, j]
        ax.boxplot(data, whis=(5, 95), showfliers=False)
        ax.scatter(range(1, len(kernels) + 1), [d.min() for d in data], color="C3", zorder=3, s=14,
                   label="best split")
        ax.set_xticks(range(1, len(kernels) + 1), [k.replace("_", "\n") for k in kernels], fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("relative RMSE (rmse / std of the series)")
        ax.set_title(_label(f), fontsize=9)
        best = s.loc[s["relative_rmse"].idxmin()]
        # space-separated lists (a single value may have been read as a number)
        yt, yp, ys = (np.array(str(best[c]).split(), float) for c in ("y_true", "y_pred", "y_std"))
        ax = axes[1, j]
        allv = s["y_true"].astype(str).str.split().explode().astype(float)
        ax.errorbar(yt, yp, yerr=1.96 * ys, fmt="o", ms=4, color="C3", elinewidth=0.8)
        lo, hi = allv.min(), allv.max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"true {_label(f)}")
        ax.set_ylabel("predicted")
        ax.set_title(f"best split: {best['kernel']}, {best['sim_id']}", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    return fig


def plot_robustness(metrics):
    """Held-out R^2 of the selected models on curves through an instrument
    (resolution, counting noise, background), trained on ideal curves (solid
    bars) and refitted on training curves smeared with the setting's
    resolution (hatched, where the metrics have ``training`` = smeared)."""
    if "training" not in metrics:
        metrics = metrics.assign(training="ideal")
    funcs = list(dict.fromkeys(metrics["functional"]))
    settings = metrics.drop_duplicates("setting").sort_values("setting")
    labels = ["ideal" if s.setting < 0 else
              f"{100 * s.resolution:g} %\n{'no noise' if not np.isfinite(s.counts) else format(s.counts, '.0e')}"
              f"\nbg {s.background:g}" for s in settings.itertuples()]
    fig, axes = _panels(2, width=max(4.6, 0.8 * len(settings)), height=4.2)
    x = np.arange(len(settings))
    trainings = [t for t in ("ideal", "smeared") if (metrics["training"] == t).any()]
    w = 0.8 / max(1, len(funcs) * len(trainings))
    for i, f in enumerate(funcs):
        for j, t in enumerate(trainings):
            m = metrics[(metrics["functional"] == f) & (metrics["training"] == t)].set_index("setting")
            m = m.reindex(settings["setting"])
            off = (i * len(trainings) + j) * w
            kw = {"hatch": "//", "alpha": 0.6} if t == "smeared" else {}
            axes[0].bar(x + off, m["r2"].clip(lower=-1), w, color=f"C{i}",
                        label=_label(f) + (" (trained on smeared)" if t == "smeared" else ""), **kw)
            axes[1].bar(x + off, m["coverage_95"], w, color=f"C{i}", **kw)
    for ax in axes:
        ax.set_xticks(x + w * (len(funcs) * len(trainings) - 1) / 2, labels, fontsize=7)
        ax.set_xlabel("test curves: dq/q, counts per unit intensity, background", fontsize=7)
    axes[0].set_ylabel(r"held-out $R^2$ (clipped at -1)")
    axes[1].set_ylabel("95% interval coverage")
    axes[1].axhline(0.95, color="k", ls=":", lw=0.8)
    axes[0].legend(fontsize=6, loc="lower left", ncols=2 if len(trainings) > 1 else 1)
    return fig

