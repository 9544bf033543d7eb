"""Figures of the inference stage (:mod:`scattermorph.infer.stage`).

Every function only reads the tables and arrays the rule ``calibrate_inference``
wrote and returns a :class:`matplotlib.figure.Figure`; the rule scripts save it
with :func:`scattermorph.plots.save.save_job_figure`.
"""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scattermorph.infer.posterior import PARAM_LABELS, PARAMS

matplotlib.use("Agg")
import pandas as pd  # noqa: E402

__all__ = ["plot_calibration", "plot_identifiability", "plot_example"]


def _inferred(ident: pd.DataFrame) -> dict:
    return dict(zip(ident["parameter"], ident["inferred"].astype(str).eq("True")))


def _fixed_panel(ax, name):
    ax.text(0.5, 0.5, f"{PARAM_LABELS[name]}\nfixed: one value\nin the study", ha="center",
            va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_calibration(cal: pd.DataFrame, ident: pd.DataFrame):
    """SBC rank histograms and interval coverage of the held-out posteriors.

    Parameters
    ----------
    cal : DataFrame, one row per held-out snapshot
        ``calibration.csv``: ``<param>_quantile`` (posterior quantile of the truth).
    ident : DataFrame, one row per parameter
        ``identifiability.csv``: ``rank_counts`` (its bins), ``rank_band`` and
        ``rank_band_eff`` ("lo-hi" counts), ``coverage_hpd``, ``coverage_central``, ``level``,
        ``band_lo``/``band_hi`` (snapshots independent) and ``band_eff_lo``/``band_eff_hi``
        (Kish's effective sample size).

    Returns
    -------
    matplotlib Figure
        Top: one rank histogram per parameter (bars) with the 95 % range of a
        bin's count under uniformity for the effective sample size (light grey)
        and for independent snapshots (dark grey). Bottom: HPD and central
        coverage per parameter against the nominal level (dashed), with the
        binomial ranges for independent snapshots (dark) and the effective
        sample size (light).
    """
    inferred = _inferred(ident)
    rows = ident.set_index("parameter")
    fig = plt.figure(figsize=(11, 6.4), layout="constrained")
    gs = fig.add_gridspec(2, 3)
    for j, name in enumerate(PARAMS):
        ax = fig.add_subplot(gs[0, j])
        r = rows.loc[name]
        if not inferred[name]:
            _fixed_panel(ax, name)
            continue
        counts = np.array([int(c) for c in str(r["rank_counts"]).split()])
        edges = np.linspace(0, 1, counts.size + 1)
        lo, hi = (float(v) for v in str(r["rank_band_eff"]).split("-"))
        ax.axhspan(lo, hi, color="0.9", lw=0, label="95 % range if uniform (effective n)")
        lo, hi = (float(v) for v in str(r["rank_band"]).split("-"))
        ax.axhspan(lo, hi, color="0.75", lw=0, label="95 % range if uniform (snapshots independent)")
        # translucent bars with an outline: the bands stay visible behind them
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="C0", alpha=0.35, lw=0)
        ax.stairs(counts, edges, color="C0", lw=1.5, label="calibration snapshots")
        ax.axhline(counts.sum() / counts.size, color="0.3", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"posterior quantile of the true {PARAM_LABELS[name]}")
        if j == 0:
            ax.set_ylabel("snapshots")
            ax.legend(fontsize=7, loc="upper center")
    ax = fig.add_subplot(gs[1, :])
    names = [n for n in PARAMS if inferred[n]]
    x = np.arange(len(names))
    level = float(ident["level"].iloc[0])
    for i, name in enumerate(names):
        r = rows.loc[name]
        ax.fill_between([i - 0.35, i + 0.35], r["band_eff_lo"], r["band_eff_hi"], color="C0", alpha=0.12, lw=0,
                        label="95 % range, effective n" if i == 0 else None)
        ax.fill_between([i - 0.35, i + 0.35], r["band_lo"], r["band_hi"], color="C0", alpha=0.3, lw=0,
                        label="95 % range, snapshots independent" if i == 0 else None)
        ax.plot(i - 0.1, r["coverage_hpd"], "o", color="C3", ms=7, label="HPD interval" if i == 0 else None)
        ax.plot(i + 0.1, r["coverage_central"], "s", color="C2", ms=6, label="central interval" if i == 0 else None)
    ax.axhline(level, color="k", ls="--", lw=1, label=f"nominal {level:.0%}")
    ax.set_xticks(x, [PARAM_LABELS[n] for n in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    shown = [rows.loc[n, c] for n in names for c in ("coverage_hpd", "coverage_central", "band_eff_lo", "band_lo")]
    ax.set_ylim(min(0.5, np.nanmin(np.asarray(shown, float)) - 0.05), 1.02)
    ax.set_ylabel(f"coverage of the {level:.0%} intervals")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    fig.suptitle(f"Simulation-based calibration on {len(cal)} snapshots of runs drawn from the prior "
                 f"({int(ident['n_runs'].iloc[0])} runs)")
    return fig


def plot_identifiability(cal: pd.DataFrame, ident: pd.DataFrame):
    """The inverse problem's parity plot: posterior mean against the truth.

    Parameters
    ----------
    cal : DataFrame
        ``calibration.csv``: ``<param>_true``, ``_mean``, ``_central_lo``,
        ``_central_hi`` (the central credible interval), ``time_over_tau``.
    ident : DataFrame
        ``identifiability.csv``: ``prior_lo``, ``prior_hi``, ``width_ratio``,
        ``rms_error``, ``coverage_central``, ``level``.

    Returns
    -------
    matplotlib Figure
        One panel per parameter: posterior mean and central credible interval
        against the truth (colour: log10 t/tau), the identity (dashed) and the
        prior box (grey frame). Title: median interval width over the prior
        width, the RMS error of the mean and the central coverage.
    """
    inferred = _inferred(ident)
    rows = ident.set_index("parameter")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
    t = np.log10(cal["time_over_tau"].to_numpy(float))
    sc = None
    for ax, name in zip(axes, PARAMS):
        if not inferred[name]:
            _fixed_panel(ax, name)
            continue
        r = rows.loc[name]
        lo, hi = float(r["prior_lo"]), float(r["prior_hi"])
        truth = cal[f"{name}_true"].to_numpy(float)
        mean = cal[f"{name}_mean"].to_numpy(float)
        err = np.vstack([mean - cal[f"{name}_central_lo"].to_numpy(float),
                         cal[f"{name}_central_hi"].to_numpy(float) - mean])
        ax.errorbar(truth, mean, yerr=np.clip(err, 0, None), fmt="none", ecolor="0.6", elinewidth=0.6, alpha=0.5,
                    zorder=1)
        sc = ax.scatter(truth, mean, c=t, s=10, cmap="viridis", zorder=2)
        pad = 0.05 * (hi - lo)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.add_patch(plt.Rectangle((lo, lo), hi - lo, hi - lo, fill=False, ec="0.5", lw=0.8))
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel(f"true {PARAM_LABELS[name]}")
        ax.set_ylabel(f"posterior mean {PARAM_LABELS[name]}")
        ax.set_title(f"width ratio {r['width_ratio']:.2f}, RMS error {r['rms_error']:.3g}\n"
                     f"central coverage {r['coverage_central']:.2f}", fontsize=9)
    if sc is not None:
        fig.colorbar(sc, ax=list(axes), label="log10 t/tau", shrink=0.8)
    return fig


def plot_example(doc: dict, grid: dict):
    """Corner plot and posterior-predictive curve of the example, with the truth.

    Parameters
    ----------
    doc : dict
        ``example.json`` (:func:`scattermorph.infer.stage.example_posterior`).
    grid : dict
        ``example_posterior.npz``: ``axes``, ``weights``, ``lo``, ``hi``.

    Returns
    -------
    matplotlib Figure
        :func:`scattermorph.plots.inference.inference_figure` (pairwise and 1D
        marginals with the central interval; the curve's features over the
        posterior-predictive band) with the true parameters in red and the
        snapshot in the title. A fixed parameter's axis is a point: its panels
        are left empty.
    """
    fixed = set(doc.get("fixed", []))
    with warnings.catch_warnings():  # a fixed parameter's axis has zero width
        warnings.simplefilter("ignore", UserWarning)
        fig = inference_figure(grid, doc)
    truth = [doc["posterior"]["params"][p]["truth"] for p in PARAMS]
    corner = [(i, j) for i in range(3) for j in range(i + 1)]  # the order inference_figure adds them
    for ax, (i, j) in zip(fig.axes, corner):
        if PARAMS[i] in fixed or PARAMS[j] in fixed:
            ax.cla()
            ax.set_axis_off()
            continue
        if i == j:
            ax.axvline(truth[j], color="C3", lw=1.2)
        else:
            ax.plot(truth[j], truth[i], "+", color="C3", ms=10, mew=1.5)
    ids = doc["ids"]
    fig.suptitle(f"{ids['sim_id']}, snapshot {ids['snapshot']} (t/tau = {ids['time_over_tau']:.3g}): "
                 f"posterior on a {doc['n_grid']}^3 grid; red: the truth")
    return fig


def inference_figure(post, result):
    """Corner plot of a grid posterior and its posterior-predictive feature curve.

    Parameters
    ----------
    post : dict
        :func:`scattermorph.infer.posterior.grid_posterior` (``axes``, ``weights``, ``lo``, ``hi``).
    result : dict
        :meth:`scattermorph.infer.posterior.StudyCalibration.infer` (``posterior``, ``features``).

    Returns
    -------
    matplotlib Figure
        Lower triangle: pairwise marginal densities; diagonal: 1D marginals with
        the central credible interval; right: the curve's scale-free features
        log10(S q1^d / Q) against x = q/q1 over the posterior-predictive mean and
        5-95 % band.
    """

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
