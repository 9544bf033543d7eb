"""Ablation of the learning stage against the paper's plain Gaussian process (issue 15).

Builds its own data with the library (no study results needed):

* one 3D Cahn-Hilliard-Cook time series (phi0 0.25, quench 1.5, 37 snapshots
  log-spaced in time) -- the paper's protocol, random 30/7 splits;
* a few more 3D runs (other phi0 and seeds) for held-out-simulation
  (grouped) cross-validation and the calibration figures;
* one 2D time series (phi0 0.3) for the paper's protocol in 2D.

S(q) is binned on a linear q grid from 2 pi / box to pi / dx (like the issue's
127 linearly spaced bins) and the Minkowski densities are measured on the
field cut at its mean (``scattermorph.measure.snapshots.measure_simulation``, exactly the
study's measurement).

Compared, on the same splits:

(a) ``plain``: the paper's model, scikit-learn
    ``ConstantKernel * RBF + WhiteKernel`` on raw log10 S, ``normalize_y=True``,
    2 optimiser restarts (:func:`scattermorph.learn.estimators.make_paper_gp` when the
    library has it, else built here identically);
(b) ``train`` default (:func:`scattermorph.predict.fit.fit_models` with the CLI's
    defaults, predictions through ``predict_curves``);
(c) one change at a time away from the *old* train default (scale-free
    features, per-feature standardisation, squared exponential, restarts 1):
    no standardisation, noise floor, default bounds / starting values,
    restarts, no y normalisation, log_sq features, no division by the
    invariant.

Score: relative RMSE sqrt(mean(((true - pred)/true)^2)) per split, median and
inter-quartile range over the splits (Jones & Clarke, Soft Matter 17, 9689
(2021)); for grouped CV also R^2 and the 68 / 95 % coverage and std of z.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=workflow python benchmarks/bench_learning.py [--quick]

Writes ``benchmarks/results/bench_learning.md`` (and a cache of the simulated
data, ``benchmarks/results/bench_learning_data_*.npz``). Any failure raises:
nothing is skipped silently.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from scattermorph.errors import SimulationError
from scattermorph.functionals import FUNCTIONALS
from scattermorph.learn.estimators import make_gp, make_paper_gp
from scattermorph.learn.features import curve_moments, features_log_sq, from_scale_free, scale_free_targets
from scattermorph.learn.splits import grouped_labels, paper_splits
from scattermorph.measure.scattering import q_grid
from scattermorph.measure.snapshots import measure_simulation
from scattermorph.sim.run import run_simulation
from scattermorph.sim.spec import RunSpec

RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def record(shape, phi0, quench, t_max, n_snapshots, *, seed=7, index=0, accuracy=0.25):
    """A parameter record for :func:`scattermorph.sim.run.run_simulation`."""
    return dict(sim_id=f"bench_{len(shape)}d_p{phi0:.3f}_q{quench:.2f}_s{seed}_{index}", sim_index=index,
                seed=seed, replicate=0, model="flory_huggins", N=100.0, quench=float(quench),
                phi0=float(phi0), gradient="de_gennes", kappa=1.0, noise=1e-4, shape=tuple(shape), dx=2.0,
                scheme="semi_implicit", laplacian="spectral", stabilization=1.0, stabilizer="selective",
                init_amplitude=0.01,
                time_unit="tau", t_min=5.0, t_max=float(t_max), n_snapshots=int(n_snapshots), dt=0.02,
                accuracy=float(accuracy), dt_max=1.0)


def simulate_and_measure(rec, n_bins=127):
    """Run one simulation and measure it on a linear q grid.

    Returns
    -------
    table : pandas.DataFrame
        One row per snapshot (``sim_id``, densities, ``invariant``, ...).
    q : ndarray, shape (B,)
    s_q : ndarray, shape (T, B)
    """
    t0 = time.perf_counter()
    for accuracy in (rec["accuracy"], rec["accuracy"] / 2.5, rec["accuracy"] / 5):
        try:
            snaps, meta = run_simulation(RunSpec.from_row({**rec, "accuracy": accuracy}))
            break
        except SimulationError as exc:  # the solver is being reworked: say so, retry smaller steps
            print(f"  {rec['sim_id']}: accuracy {accuracy:g} blew up ({exc}); retrying with smaller steps",
                  flush=True)
    else:
        raise RuntimeError(f"{rec['sim_id']}: every accuracy blew up")
    if not np.all(np.isfinite(snaps)):
        raise RuntimeError(f"{rec['sim_id']}: the field is not finite")
    dx = rec["dx"]
    box = rec["shape"][0] * dx
    edges, centres = q_grid(2 * np.pi / box, np.pi / dx, n_bins, "linear")
    table, s_q, _ = measure_simulation(snaps, meta, q_edges=edges, q_centres=centres)
    print(f"  {rec['sim_id']}: {snaps.shape} in {time.perf_counter() - t0:.0f} s", flush=True)
    return table, centres, s_q


def dataset(name, records, *, n_bins=127, rebuild=False):
    """Simulated and measured data of ``records``, cached under benchmarks/results/."""
    path = RESULTS / f"bench_learning_data_{name}.npz"
    if path.exists() and not rebuild:
        z = np.load(path, allow_pickle=False)
        table = pd.DataFrame({k[4:]: z[k] for k in z.files if k.startswith("col_")})
        return table, z["q"], z["s_q"]
    tables, curves, q = [], [], None
    for rec in records:
        t, qc, s = simulate_and_measure(rec, n_bins)
        if q is not None and not np.allclose(q, qc):
            raise RuntimeError("all runs of one dataset must share the q grid (same box)")
        q = qc
        tables.append(t)
        curves.append(s)
    table = pd.concat(tables, ignore_index=True)
    keep = [c for c in table.columns if table[c].dtype.kind in "fiub" or c == "sim_id"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez(path, q=q, s_q=np.concatenate(curves), **{f"col_{c}": (table[c].to_numpy().astype(str) if c == "sim_id" else table[c].to_numpy()) for c in keep})
    return table[keep], q, np.concatenate(curves)


#: the datasets: name -> parameter records
def datasets(quick=False):
    """Parameter records of the benchmark's datasets (``quick``: smaller)."""
    # 40^3 cells of 2 b (an 80 b box holds ~3 domain sizes at 40 tau); quench 2 gives smaller domains
    # than 1.5 but needs smaller steps than the study's accuracy 0.25 with the current solver
    n3, n2 = (24, 64) if quick else (40, 128)
    series3 = [record((n3,) * 3, 0.25, 2.0, 40.0, 37, seed=7, accuracy=0.1)]
    groups3 = [record((32,) * 3, phi0, 2.0, 40.0, 10, seed=seed, index=i, accuracy=0.1)
               for i, (phi0, seed) in enumerate((p, s) for p in (0.25, 0.3, 0.35, 0.4) for s in (11, 12))]
    series2 = [record((n2,) * 2, 0.3, 2.0, 100.0, 37, seed=7, accuracy=0.1)]
    tag = "_quick" if quick else ""
    return {f"3d_series{tag}": series3, f"3d_groups{tag}": groups3, f"2d_series{tag}": series2}


# --------------------------------------------------------------------------
# features and models of the ablation
# --------------------------------------------------------------------------
def features(kind, q, s_q, ndim, values, names):
    """Inputs and model-space targets of one feature kind.

    Returns ``X``, ``Y`` (model space) and ``back(mu, sd, rows)``, which maps
    model-space predictions of ``rows`` back to densities.
    """
    from scattermorph.learn.features import _featurise, window_curve

    if kind in ("log_sq", "log_sq_interp32"):
        X, mask = features_log_sq(q, s_q)
        if kind == "log_sq_interp32":  # 32 log-spaced points over the same q range (grid ablation)
            qk = q[mask]
            grid = np.geomspace(qk[0], qk[-1], 32)
            X = np.array([np.interp(np.log10(grid), np.log10(qk), row) for row in X])
        return X, values, (lambda mu, sd, rows: (mu, sd))
    spec = {"kind": "scale_free", "ndim": ndim, "x_range": (0.3, 5.0), "n_points": 32}
    X, q1, _, _ = _featurise(spec, None, q, s_q)
    if kind == "scale_free_no_invariant":  # log10(S q1^d) instead of log10(S q1^d / Q)
        logQ = np.empty(len(X))
        for i, row in enumerate(s_q):
            qw, sw, _ = window_curve(q, row, ndim, (0.3, 5.0))
            logQ[i] = np.log10(curve_moments(qw, sw[None], ndim)[0][0])
        X = X + logQ[:, None]
    elif kind != "scale_free":
        raise ValueError(f"unknown feature kind {kind!r}")
    Y = np.column_stack([scale_free_targets(values[:, j], q1, n, ndim) for j, n in enumerate(names)])

    def back(mu, sd, rows):
        return (np.column_stack([from_scale_free(mu[:, j], q1[rows], n, ndim) for j, n in enumerate(names)]),
                np.column_stack([from_scale_free(sd[:, j], q1[rows], n, ndim) for j, n in enumerate(names)]))
    return X, Y, back


def _gp_variant(scaling="feature", restarts=1, bounds="library", noise_floor=None, normalize_y=True, seed=0):
    """``make_gp`` (squared exponential) with one setting changed."""
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    pipe = make_gp("squared_exponential", restarts=restarts, random_state=seed, scaling=scaling)
    gp = pipe.named_steps["gp"]
    if bounds == "sklearn":  # scikit-learn's defaults: start 1, bounds (1e-5, 1e5) everywhere
        gp.set_params(kernel=ConstantKernel() * RBF() + WhiteKernel())
    if noise_floor is not None:
        k = gp.kernel
        gp.set_params(kernel=k.k1 + WhiteKernel(max(1e-2, 10 * noise_floor), (noise_floor, 10.0)))
    gp.set_params(normalize_y=normalize_y)
    return pipe


#: the ablation: label -> (feature kind, model factory(seed)); "old default" is train's default before issue 15
VARIANTS = {
    "plain GP (paper): raw log10 S, no scaling, C*RBF+White, 2 restarts": ("log_sq", lambda s: make_paper_gp(2, s)),
    "old train default: scale_free, per-feature standardisation, restarts 1": ("scale_free", lambda s: _gp_variant(seed=s)),
    "  - global scaling instead of per-feature": ("scale_free", lambda s: _gp_variant("global", seed=s)),
    "  - no input scaling": ("scale_free", lambda s: _gp_variant("none", seed=s)),
    "  - noise floor 1e-4 (was 1e-8)": ("scale_free", lambda s: _gp_variant(noise_floor=1e-4, seed=s)),
    "  - scikit-learn default bounds / starts": ("scale_free", lambda s: _gp_variant(bounds="sklearn", seed=s)),
    "  - restarts 5 (was 1)": ("scale_free", lambda s: _gp_variant(restarts=5, seed=s)),
    "  - no y normalisation": ("scale_free", lambda s: _gp_variant(normalize_y=False, seed=s)),
    "  - features log_sq (raw log10 S)": ("log_sq", lambda s: _gp_variant(seed=s)),
    "  - features log_sq on 32 log-spaced q": ("log_sq_interp32", lambda s: _gp_variant(seed=s)),
    "  - no division by the invariant": ("scale_free_no_invariant", lambda s: _gp_variant(seed=s)),
    "log_sq + per-feature standardisation (= old --features log_sq)": ("log_sq", lambda s: _gp_variant(seed=s)),
    "log_sq + global scaling": ("log_sq", lambda s: _gp_variant("global", seed=s)),
    "log_sq + global scaling, restarts 2": ("log_sq", lambda s: _gp_variant("global", restarts=2, seed=s)),
}


def fit_predict(factory, X, Y, train, test, seed):
    """One GP per target column; returns mean and std (model space) on ``test``."""
    mu = np.empty((test.size, Y.shape[1]))
    sd = np.empty_like(mu)
    for j in range(Y.shape[1]):
        m = factory(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes of the optimiser; the scores judge the fit
            m.fit(X[train], Y[train, j])
        mu[:, j], sd[:, j] = m.predict(X[test], return_std=True)
    return mu, np.maximum(sd, 1e-300)


def relative_rmse(true, pred, series=None):
    """The paper's score: sqrt(mean(((true - pred) / true)^2)) per column.

    A column whose true values change sign (the 3D Euler density of a series
    that crosses from droplets to a network) has no meaningful relative error
    (it diverges at the zero crossing): such a column is scored by RMSE / std
    of the true values instead, and :func:`markdown` marks it with "(RMSE/sd)".
    """
    out = np.sqrt(np.mean(((true - pred) / np.where(true == 0, np.nan, true)) ** 2, axis=0))
    signs = _crosses_zero(true)
    if signs.any():
        rmse = np.sqrt(np.mean((true - pred) ** 2, axis=0))
        out[signs] = rmse[signs] / np.std(true, axis=0)[signs]
    return out


def _crosses_zero(values):
    return np.any(values <= 0, axis=0) & np.any(values >= 0, axis=0)


def train_default_factory():
    """Predictions of ``scattermorph train`` with its current defaults (fit_models + predict_curves)."""
    from scattermorph.predict.fit import fit_models

    def run(q, s_q, table, ndim, names, train, test, groups=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit_models(q, s_q[train], table.iloc[train].reset_index(drop=True), ndim, names,
                               restarts=1, groups=None if groups is None else groups[train])
        pred = model.predict_curves(q, s_q[test])
        return pred[names].to_numpy(), pred[[f"{n}_std" for n in names]].to_numpy()
    return run


def paper_protocol(table, q, s_q, ndim, *, n_repeats, variants, include_train=True, seed=0):
    """Median and IQR over random 30/7 splits of each variant's relative RMSE (one series)."""
    names = FUNCTIONALS[ndim]
    values = table[names].to_numpy(dtype=float)
    splits = [(tr, te) for _, tr, te in paper_splits(table, n_repeats, 30, 7, rng=seed)]
    rows = {}
    cache = {}
    for label, (kind, factory) in variants.items():
        if kind not in cache:
            cache[kind] = features(kind, q, s_q, ndim, values, names)
        X, Y, back = cache[kind]
        t0 = time.perf_counter()
        scores, z = [], []
        for tr, te in splits:
            mu, sd = fit_predict(factory, X, Y, tr, te, seed)
            mu, sd = back(mu, sd, te)
            scores.append(relative_rmse(values[te], mu, values))
            z.append((values[te] - mu) / sd)
        rows[label] = _summary(np.array(scores), np.concatenate(z), names, time.perf_counter() - t0)
        print(f"  {label}: {_fmt_row(rows[label], names)}", flush=True)
    if include_train:
        run = train_default_factory()
        t0 = time.perf_counter()
        scores, z = [], []
        for tr, te in splits:
            mu, sd = run(q, s_q, table, ndim, names, tr, te)
            scores.append(relative_rmse(values[te], mu, values))
            z.append((values[te] - mu) / sd)
        label = "scattermorph train, current default"
        rows[label] = _summary(np.array(scores), np.concatenate(z), names, time.perf_counter() - t0)
        print(f"  {label}: {_fmt_row(rows[label], names)}", flush=True)
    return rows, names


def grouped_cv(table, q, s_q, ndim, *, variants, n_splits=4, seed=0):
    """Held-out-simulation cross-validation: R^2, relative RMSE and calibration per variant."""
    names = FUNCTIONALS[ndim]
    values = table[names].to_numpy(dtype=float)
    groups = table["sim_id"].to_numpy()
    labels = grouped_labels(groups, seed)
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(n_splits).split(values, values, labels))
    rows, cache = {}, {}
    run = train_default_factory()
    for label, spec in {**variants, "scattermorph train, current default": None}.items():
        mu_all, sd_all = np.empty_like(values), np.empty_like(values)
        t0 = time.perf_counter()
        for tr, te in folds:
            if spec is None:
                mu, sd = run(q, s_q, table, ndim, names, tr, te, groups=groups)
            else:
                kind, factory = spec
                if kind not in cache:
                    cache[kind] = features(kind, q, s_q, ndim, values, names)
                X, Y, back = cache[kind]
                mu, sd = back(*fit_predict(factory, X, Y, tr, te, seed), te)
            mu_all[te], sd_all[te] = mu, sd
        r2 = 1 - ((values - mu_all) ** 2).sum(0) / ((values - values.mean(0)) ** 2).sum(0)
        z = (values - mu_all) / sd_all
        rows[label] = {**_summary(relative_rmse(values, mu_all)[None], z, names, time.perf_counter() - t0),
                       **{f"r2_{n}": r2[j] for j, n in enumerate(names)}}
        print(f"  {label}: {_fmt_row(rows[label], names)} R2 " + " ".join(f"{v:.3f}" for v in r2), flush=True)
    return rows, names


#: held-out ablation (issue 15, part 2): label -> options of modelio.train_model (calibrate=False unless said)
HELDOUT = {
    "plain GP (paper): raw log10 S, C*RBF+White, 2 restarts": dict(kernel="paper", feature_kind="log_sq"),
    "scale_free (shape only), one length scale (the default before)": dict(feature_kind="scale_free"),
    "scale_free_invariant, one shared length scale": dict(feature_kind="scale_free_invariant", scale_length="shared"),
    "scale_free_invariant, own length scale for log Q": dict(feature_kind="scale_free_invariant"),
    "scale_free_absolute (+ log Q, log q1), one shared length scale": dict(feature_kind="scale_free_absolute",
                                                                         scale_length="shared"),
    "scale_free_absolute, own length scale for (log Q, log q1)": dict(feature_kind="scale_free_absolute"),
    "log_sq, global scaling": dict(feature_kind="log_sq"),
    "plain GP + sigma scaling (nested)": dict(kernel="paper", feature_kind="log_sq", calibrate=True),
    "train default: --features auto + sigma scaling (nested)": dict(feature_kind="auto", calibrate=True),
}


def heldout_ablation(table, q, s_q, ndim, *, n_splits=4, seed=0, variants=None):
    """Held-out simulations: outer grouped K-fold; every row is ``modelio.train_model`` on the outer
    training simulations only (selection and recalibration by an inner grouped CV of those), scored on
    the outer test simulations. Returns rows of pooled R^2, per-fold R^2 range, and coverage / std z of
    the raw GP std and (rows with calibrate) of the recalibrated std."""
    from sklearn.model_selection import GroupKFold

    from scattermorph.predict.fit import train_model

    names = FUNCTIONALS[ndim]
    values = table[names].to_numpy(dtype=float)
    groups = table["sim_id"].to_numpy()
    folds = list(GroupKFold(n_splits).split(values, values, grouped_labels(groups, seed)))
    frame = table[names].reset_index(drop=True)
    rows = {}
    for label, opts in (variants or HELDOUT).items():
        opts = dict(opts)
        calibrate = opts.pop("calibrate", False)
        scale_length = opts.pop("scale_length", "own")
        mu_all, sd_all, raw_all = (np.empty_like(values) for _ in range(3))
        chosen = []
        t0 = time.perf_counter()
        for tr, te in folds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if scale_length == "own":
                    model, _ = train_model(q, s_q[tr], frame.iloc[tr].reset_index(drop=True), ndim, names,
                                           groups=groups[tr], calibrate=calibrate, cv_repeats=0, restarts=1,
                                           **opts)
                else:  # the shared-length-scale ablation: fit_models directly
                    from scattermorph.predict.fit import fit_models
                    model = fit_models(q, s_q[tr], frame.iloc[tr].reset_index(drop=True), ndim, names,
                                       groups=groups[tr], restarts=1, scale_length=scale_length, **opts)
            chosen.append(model.kind)
            pred = model.predict_curves(q, s_q[te])
            mu_all[te] = pred[names].to_numpy()
            sd_all[te] = pred[[f"{n}_std" for n in names]].to_numpy()
            raw_all[te] = sd_all[te] / model.calibration_factors
        r2 = 1 - ((values - mu_all) ** 2).sum(0) / ((values - values.mean(0)) ** 2).sum(0)
        fold_r2 = np.array([1 - ((values[te] - mu_all[te]) ** 2).sum(0) / ((values[te] - values[te].mean(0)) ** 2).sum(0)
                            for _, te in folds])
        z_raw, z_cal = (values - mu_all) / raw_all, (values - mu_all) / sd_all
        rows[label] = {"r2": r2, "fold_lo": fold_r2.min(0), "fold_hi": fold_r2.max(0),
                       "raw": _cal(z_raw), "cal": _cal(z_cal) if calibrate else None,
                       "chosen": sorted(set(chosen)), "seconds": time.perf_counter() - t0}
        print(f"  {label}: R2 " + " ".join(f"{v:.3f}" for v in r2) + f" chosen {rows[label]['chosen']} "
              f"raw {rows[label]['raw']} cal {rows[label]['cal']}", flush=True)
    return rows, names


def _cal(z):
    return {"cov95": np.mean(np.abs(z) <= 1.96, 0), "cov68": np.mean(np.abs(z) <= 1, 0), "zstd": np.std(z, 0)}


def heldout_markdown(title, rows, names):
    head = ["model"] + [f"R2 {n} (fold range)" for n in names] + ["cov95", "cov68", "std z",
                                                                  "cov95 recal.", "cov68 recal.", "std z recal.",
                                                                  "features chosen", "s"]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, r in rows.items():
        cells = [label] + [f"{r['r2'][j]:.3f} ({r['fold_lo'][j]:.2f}-{r['fold_hi'][j]:.2f})" for j in range(len(names))]
        for part in ("raw", "cal"):
            c = r[part]
            cells += (["/".join(f"{v:.2f}" for v in c[k]) for k in ("cov95", "cov68", "zstd")] if c
                      else ["", "", ""])
        cells += [", ".join(r["chosen"]), f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _summary(scores, z, names, seconds):
    out = {"seconds": seconds}
    for j, n in enumerate(names):
        s = scores[:, j]
        out[f"med_{n}"] = float(np.median(s))
        out[f"iqr_{n}"] = float(np.subtract(*np.percentile(s, [75, 25])))
        zj = z[:, j]
        out[f"cov68_{n}"] = float(np.mean(np.abs(zj) <= 1))
        out[f"cov95_{n}"] = float(np.mean(np.abs(zj) <= 1.96))
        out[f"zstd_{n}"] = float(np.std(zj))
    return out


def _fmt_row(r, names):
    return " | ".join(f"{100 * r[f'med_{n}']:.3g} % (IQR {100 * r[f'iqr_{n}']:.2g})" for n in names)


def markdown(title, rows, names, *, grouped=False, crossing=()):
    """A Markdown table of one experiment (``crossing``: columns scored by RMSE/sd)."""
    head = (["model"] + [f"{n} {'RMSE/sd' if n in crossing else 'rel. RMSE'}" for n in names]
            + ["cov95", "cov68", "std z", "s"])
    if grouped:
        head[1 + len(names):1 + len(names)] = [f"R2 {n}" for n in names]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, r in rows.items():
        cells = [label.strip().lstrip("- ") if not label.startswith("  - ") else "− " + label.strip()[2:]]
        cells += [f"{100 * r[f'med_{n}']:.3g} % ± {100 * r[f'iqr_{n}'] / 2:.2g}" if not grouped
                  else f"{100 * r[f'med_{n}']:.3g} %" for n in names]
        if grouped:
            cells += [f"{r[f'r2_{n}']:.4f}" for n in names]
        cells += ["/".join(f"{r[f'{k}_{n}']:.2f}" for n in names) for k in ("cov95", "cov68", "zstd")]
        cells.append(f"{r['seconds']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids and 5 splits (a smoke test)")
    parser.add_argument("--repeats", type=int, default=10, help="random 30/7 splits (default 10)")
    parser.add_argument("--rebuild", action="store_true", help="re-simulate instead of using the cache")
    parser.add_argument("--heldout-only", action="store_true",
                        help="only the held-out ablation of 3d_groups (writes bench_learning_heldout.md)")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    if args.heldout_only:
        name = "3d_groups" + ("_quick" if args.quick else "")
        table, q, s_q = dataset(name, datasets(args.quick)[name], rebuild=args.rebuild)
        rows, names = heldout_ablation(table, q, s_q, 3)
        text = heldout_markdown(f"{name}: held-out ablation, 4-fold grouped CV (rows trained by "
                                "modelio.train_model on the outer training simulations only; 'nested': "
                                "features chosen and std recalibrated by an inner grouped CV of those)", rows, names)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_learning_heldout.md").write_text(f"# bench_learning held-out ablation: "
                                                           f"{time.strftime('%Y-%m-%d %H:%M')}\n\n" + text)
        print(text)
        return 0
    data = {name: dataset(name, recs, rebuild=args.rebuild) for name, recs in datasets(args.quick).items()}
    out = [f"# bench_learning (issue 15): {time.strftime('%Y-%m-%d %H:%M')}", "",
           "Relative RMSE sqrt(mean(((true - pred)/true)^2)): median over the splits ± half the IQR; "
           "cov95 / cov68 / std z per functional (pooled test points). Rows indented with '-' change one "
           "setting of the old train default.", ""]
    for name, (table, q, s_q) in data.items():
        ndim = 3 if name.startswith("3d") else 2
        print(f"{name}: {len(table)} snapshots, {q.size} q bins, {ndim}D", flush=True)
        if "series" in name:
            rows, names = paper_protocol(table, q, s_q, ndim, n_repeats=repeats, variants=VARIANTS)
            cross = [n for n, c in zip(names, _crosses_zero(table[names].to_numpy(float))) if c]
            out.append(markdown(f"{name}: paper protocol, {repeats} random 30/7 splits", rows, names,
                                crossing=cross))
        else:
            keep = {k: v for k, v in VARIANTS.items() if not k.startswith("  - ") or "scaling" in k}
            rows, names = grouped_cv(table, q, s_q, ndim, variants=keep)
            cross = [n for n, c in zip(names, _crosses_zero(table[names].to_numpy(float))) if c]
            out.append(markdown(f"{name}: held-out simulations, 4-fold grouped CV", rows, names, grouped=True,
                                crossing=cross))
            rows, names = heldout_ablation(table, q, s_q, ndim)
            out.append(heldout_markdown(
                f"{name}: held-out ablation, 4-fold grouped CV (every row trained by modelio.train_model on "
                "the outer training simulations only; 'nested': features chosen and std recalibrated by an "
                "inner grouped CV of those; pooled R^2 with the range over the 4 folds; cov95/cov68/std z "
                "of the GP's own std, then of the recalibrated std; per functional)", rows, names))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("bench_learning_quick.md" if args.quick else "bench_learning.md")
    path.write_text("\n".join(out))
    print("\n".join(out))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
