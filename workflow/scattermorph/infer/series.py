"""Joint posterior of one quench's (phi0, chi/chi_s) from a time series of curves.

One curve's shape leaves the quench depth chi/chi_s nearly unidentified (its
90 % interval spans most of the prior on the study's calibration runs: the
shape of a coarsening blend at one age is much the same for any quench). The
curves S(q, t_i) of one quench share phi0 and chi/chi_s and differ in age, so
their likelihoods multiply, each with the emulator of
:mod:`scattermorph.infer.posterior` (Kennedy & O'Hagan 2001; Higdon et al.
2008 for the emulator):

``p(phi0, chi | z_1..z_n) ~ prior(phi0, chi) prod_i L_i``

with the ages handled in one of two ways:

``free``
    every curve has its own age, uniform over the study's log t/tau range and
    integrated out: ``L_i = mean over log t_i of N(z_i; mu(phi0, chi, t_i), S(...))``.
    Needs no times.
``timed``
    the curves' times s_i are known (time stamps, from the quench) in any
    unit; their ratios fix the ages up to the unit, t_i / tau = s_i / tau_s,
    so ``log10 t_i/tau = c + log10(s_i / s_1)`` with one nuisance c, the log
    age of the first curve, uniform over the values that keep every curve in
    the study's range (tau, which depends on the mobility and the quench, is
    unknown to the experimenter). The first curve's age is reported as the
    third parameter.

The emulator is evaluated once on the grid (the ``timed`` mode on a finer
time axis, linearly interpolated between its nodes) and every curve's
likelihood comes from those tables, so a series costs little more than one
curve. Each curve's deviation from the emulator is taken as independent of the
others' (the product above); the snapshots of one simulation share part of it,
which the calibration of this posterior (``benchmarks/bench_infer_series.py``,
``docs/inference.md``) measures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from scattermorph.dynamics.measured import stamped_files, time_from_name
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.infer.apply import curve_background
from scattermorph.infer.grid import grid_axes
from scattermorph.infer.posterior import _gauss_loglike, study_features, summarise_posterior
from scattermorph.predict.apply import check_applicability
from scattermorph.predict.background import subtract_background
from scattermorph.sas.curves import positive_for_logs

__all__ = ["SERIES_MODES", "SeriesGrid", "series_posterior", "log_time_offsets", "training_runs",
           "residual_correlation", "correlation_matrices", "series_files", "infer_series"]

#: how the curves' ages enter (see the module docstring)
SERIES_MODES = ("free", "timed")

#: most curves per series whose intervals stayed calibrated on the default study's calibration runs
#: (benchmarks/bench_infer_series.py: phi0 coverage 0.85-0.88 with 3 free-age curves, 0.48-0.71 with 11)
CALIBRATED_CURVES = 3

#: nodes of the ``timed`` mode's time axis per grid cell (linear interpolation between them): on the
#: shipped emulator the interpolated means err by at most 0.007 of their predictive sd at 2 nodes per cell
#: of a 32-cell grid (0.03 at 1, 0.002 at 4)
TIME_REFINE = 2


def log_time_offsets(times) -> np.ndarray:
    """``log10(s_i / s_1)`` of time stamps s (any unit, measured from the quench), shape (n,).

    Raises
    ------
    ParameterError
        A time is not positive and finite (a series needs the time since the quench).
    """
    s = np.asarray(times, float).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        bad = s[~(np.isfinite(s) & (s > 0))]
        raise ParameterError(f"time stamps {bad.tolist()}: give each curve's time since the quench (> 0)")
    return np.log10(s / s[0])


class SeriesGrid:
    """The emulator's means and variances on the posterior's grid, computed once.

    Parameters
    ----------
    em : ScatteringEmulator
    n_grid : int
        Cells per parameter (phi0, chi/chi_s, log t).
    refine : int
        Time nodes per cell of the ``timed`` mode's axis.
    """

    def __init__(self, em, n_grid=32, refine=TIME_REFINE, *, correlated=True):
        self.em, self.n = em, int(n_grid)
        self.axes = grid_axes(em.lo, em.hi, self.n)
        self.mesh = np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1).reshape(-1, 3)
        self.mean, self.var = _predict_chunked(em, self.mesh)
        self.refine, self.fine_mean = int(refine), None
        self.correlation = residual_correlation(em) if correlated else None

    def _fine(self):
        """The emulator on the finer time axis of the ``timed`` mode (computed on first use)."""
        if self.fine_mean is None:
            nt = self.n * self.refine
            self.t_nodes = np.linspace(self.em.lo[2], self.em.hi[2], nt)
            fine = np.stack(np.meshgrid(self.axes[0], self.axes[1], self.t_nodes, indexing="ij"), axis=-1)
            m, v = _predict_chunked(self.em, fine.reshape(-1, 3))
            self.fine_mean = m.reshape(self.n, self.n, nt, -1)
            self.fine_var = v.reshape(self.n, self.n, nt, -1)

    def loglike(self, z) -> np.ndarray:
        """Log-likelihood of one curve's component scores on the grid, shape (n, n, n)."""
        ll = _gauss_loglike(np.asarray(z, float), self.mean, self.var, self.em.noise_cov)
        return ll.reshape(self.n, self.n, self.n)

    def whitened_at(self, z, log_t):
        """One curve's whitened residuals at ages ``log_t`` (shape (c,)): shapes (n, n, c, k) and (n, n, c)."""
        self._fine()
        u = np.interp(log_t, self.t_nodes, np.arange(self.t_nodes.size))
        i = np.clip(np.floor(u).astype(int), 0, self.t_nodes.size - 2)
        f = (u - i)[None, None, :, None]
        m = (1 - f) * self.fine_mean[:, :, i] + f * self.fine_mean[:, :, i + 1]
        v = (1 - f) * self.fine_var[:, :, i] + f * self.fine_var[:, :, i + 1]
        k = m.shape[-1]
        a, logdet = _whiten(z, m.reshape(-1, k), v.reshape(-1, k), self.em.noise_cov)
        return a.reshape(self.n, self.n, -1, k), logdet.reshape(self.n, self.n, -1)

    def inverse_correlation(self, log_t):
        """Per component the inverse of the curves' residual correlation and its log-determinant
        (identity and 0 when the grid was built with ``correlated=False``)."""
        k, n = self.em.k, len(log_t)
        if self.correlation is None:
            return np.broadcast_to(np.eye(n), (k, n, n)), np.zeros(k)
        R = correlation_matrices(log_t, self.correlation)
        return np.linalg.inv(R), np.linalg.slogdet(R)[1]


def _whiten(z, mean, var, noise):
    """Residuals whitened by each point's covariance, shape (m, k), and its log-determinant, shape (m,)."""
    S = noise[None] + var[:, :, None] * np.eye(var.shape[1])[None]
    L = np.linalg.cholesky(S)
    a = np.linalg.solve(L, (np.asarray(z, float)[None] - mean)[:, :, None])[:, :, 0]
    return a, 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)


def training_runs(theta) -> np.ndarray:
    """Simulation of each training row, from the rows' order: a run's snapshots are consecutive
    rows with the same (phi0, chi/chi_s) and increasing age (how the study's dataset is written)."""
    theta = np.asarray(theta, float)
    new = np.ones(theta.shape[0], bool)
    new[1:] = np.any(theta[1:, :2] != theta[:-1, :2], axis=1) | (np.diff(theta[:, 2]) <= 0)
    return np.cumsum(new) - 1


def _loro_standardised(gp, U, y, runs) -> np.ndarray:
    """Leave-one-run-out standardised residuals of a fitted GP, in closed form.

    For a block B of rows left out, the GP's prediction error (noise included)
    is ``[K^-1]_BB^-1 (K^-1 y)_B`` with covariance ``[K^-1]_BB^-1``, K the
    training covariance with its nugget (Rasmussen & Williams, *Gaussian
    Processes for Machine Learning*, MIT Press 2006, sec. 5.4.2, for a block);
    each residual is divided by its standard deviation. The normalisation of y
    is kept from the full fit (the left-out run moves its mean by ~1/48).
    """
    K = gp.kernel_(U) + np.diag(np.broadcast_to(gp.alpha, U.shape[:1]))
    Kinv = np.linalg.inv(K)
    yn = (y - gp._y_train_mean) / gp._y_train_std
    alpha = Kinv @ yn
    out = np.empty_like(yn)
    for run in np.unique(runs):
        b = np.flatnonzero(runs == run)
        cov = np.linalg.inv(Kinv[np.ix_(b, b)])
        out[b] = cov @ alpha[b] / np.sqrt(np.diag(cov))
    return out


def residual_correlation(em, runs=None, *, max_lag=None) -> dict:
    """Correlation of one run's emulator residuals between its snapshots, against their age difference.

    Each training run is left out in turn (:func:`_loro_standardised`, the
    emulator's fitted hyper-parameters, as its leave-one-run-out variance scale
    is computed) and its snapshots' standardised residuals are correlated in
    pairs of the same run, per component, binned by snapshot lag; the mean
    age difference of each lag's pairs is its abscissa. A run's deviation from
    the emulator persists as it coarsens (lag 1, 0.1 decade: 0.86 for the
    first component on the default study) and fades over a decade.

    Parameters
    ----------
    em : ScatteringEmulator
    runs : array_like, shape (n,), optional
        Simulation of each training row (default: :func:`training_runs`).
    max_lag : int, optional
        Largest snapshot lag binned (default: as long as 10 pairs remain).

    Returns
    -------
    dict
        ``lags`` (decades of t/tau, 0 first), ``correlation`` (lags x
        components, 1 at lag 0), ``pairs`` (count per lag).
    """
    runs = training_runs(em.theta_train) if runs is None else np.asarray(runs)
    U, Z = em.box(em.theta_train), em.transform(em.X_train)
    r = np.column_stack([_loro_standardised(gp, U, Z[:, j], runs) for j, gp in enumerate(em.gps)])
    logt = em.theta_train[:, 2]
    dts, cors, counts = [0.0], [np.ones(Z.shape[1])], [len(runs)]
    lag = 1
    while max_lag is None or lag <= max_lag:
        a = np.flatnonzero(runs[:-lag] == runs[lag:]) if lag < len(runs) else np.array([], int)
        if a.size < 10:
            break
        b = a + lag
        dts.append(float(np.mean(logt[b] - logt[a])))
        cors.append(np.sum(r[a] * r[b], axis=0) / np.sqrt(np.sum(r[a] ** 2, axis=0) * np.sum(r[b] ** 2, axis=0)))
        counts.append(int(a.size))
        lag += 1
    return {"lags": np.array(dts), "correlation": np.array(cors), "pairs": np.array(counts)}


def correlation_matrices(log_t, corr: dict, *, floor=1e-3) -> np.ndarray:
    """Per component, the curves' residual correlation matrix, shape (k, n, n), at ages ``log_t``.

    The binned correlation of :func:`residual_correlation` interpolated linearly
    in the age difference (held at its last lag beyond it), made positive
    definite by raising its eigenvalues to ``floor`` (an empirical correlation
    function need not be one) and rescaled to a unit diagonal.
    """
    d = np.abs(np.subtract.outer(np.asarray(log_t, float), np.asarray(log_t, float)))
    lags, C = corr["lags"], corr["correlation"]
    out = []
    for j in range(C.shape[1]):
        R = np.interp(d, lags, C[:, j])
        w, V = np.linalg.eigh(R)
        R = (V * np.maximum(w, floor)) @ V.T
        s = np.sqrt(np.diag(R))
        out.append(R / np.outer(s, s))
    return np.array(out)


def _predict_chunked(em, theta, chunk=8192):
    """``em.predict`` in chunks of rows (the GP's cross-covariance is rows x training points)."""
    parts = [em.predict(theta[i:i + chunk]) for i in range(0, theta.shape[0], chunk)]
    return np.concatenate([m for m, _ in parts]), np.concatenate([v for _, v in parts])


def _post(logw, axes, lo, hi) -> dict:
    """A :func:`scattermorph.infer.posterior.grid_posterior`-shaped dict from log weights on ``axes``."""
    if not np.any(np.isfinite(logw)):
        raise ParameterError("the series' likelihood is not finite anywhere on the grid")
    w = np.exp(logw - np.nanmax(logw))
    w[~np.isfinite(w)] = 0.0
    w /= w.sum()
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return {"axes": axes, "weights": w, "theta": mesh, "lo": np.asarray(lo, float), "hi": np.asarray(hi, float)}


def _free(grid: SeriesGrid, Z) -> tuple[dict, list, float]:
    """Every curve's age integrated out under its own uniform prior; third axis: the first curve's age.

    The curves' residual correlation couples their unknown ages, so the product
    is tempered instead (the magnitude adjustment of a composite likelihood:
    Ribatet, Cooley & Davison, Statistica Sinica 22, 813 (2012)): each curve's
    log-likelihood times w = (1' R^-1 1) / n, the effective number of
    independent curves per curve for a shared mean, with R at the ages of the
    curves' own posteriors (averaged over components), at most 1.
    """
    lls = [grid.loglike(z) for z in Z]
    w = 1.0
    if grid.correlation is not None and len(lls) > 1:
        ages = []
        for ll in lls:
            m = np.exp(ll - ll.max()).sum(axis=(0, 1))
            ages.append(_interval(m, grid.axes[2], grid.em.lo[2], grid.em.hi[2], 0.9)["median"])
        Rinv, _ = grid.inverse_correlation(np.asarray(ages))
        # at most 1: negative correlations at long lags (estimated from few pairs) must not sharpen the product
        w = min(float(np.mean(Rinv.sum(axis=(1, 2)))) / len(lls), 1.0)
    lls = [w * ll for ll in lls]
    per = [logsumexp(ll, axis=2) for ll in lls]  # log of n x the age-averaged likelihood
    rest = sum(per[1:]) if len(per) > 1 else 0.0
    logw = lls[0] + np.asarray(rest)[..., None]
    post = _post(logw, grid.axes, grid.em.lo, grid.em.hi)
    pq = post["weights"].sum(axis=2)
    marg = []
    for ll, p in zip(lls, per):  # p(t_i | all) = sum over (phi0, chi) of p(phi0, chi | all) p(t_i | phi0, chi, z_i)
        cond = np.exp(ll - p[..., None])
        marg.append((pq[..., None] * cond).sum(axis=(0, 1)))
    return post, marg, w


def _timed(grid: SeriesGrid, Z, offsets) -> dict:
    """Ages fixed by the time stamps up to one shift c = the first curve's log age; the curves'
    whitened residuals correlated per component by :func:`correlation_matrices` (a Gaussian
    over all the series' components)."""
    lo_t, hi_t = grid.em.lo[2], grid.em.hi[2]
    d = np.asarray(offsets, float)
    span = d.max() - d.min()
    if span >= hi_t - lo_t:
        raise ParameterError(f"the series spans {span:.3g} decades of time, the study's ages "
                             f"{hi_t - lo_t:.3g} (t/tau {10 ** lo_t:.3g}-{10 ** hi_t:.3g}): give curves "
                             "within that range (drop the earliest or latest), or use the free ages")
    c_lo, c_hi = lo_t - d.min(), hi_t - d.max()
    c_axis = c_lo + (np.arange(grid.n) + 0.5) * (c_hi - c_lo) / grid.n
    parts = [grid.whitened_at(z, c_axis + di) for z, di in zip(Z, d)]
    A = np.stack([a for a, _ in parts])  # (curves, n, n, c, k)
    Rinv, logdet_R = grid.inverse_correlation(d)  # age differences are known: R is fixed
    quad = np.einsum("ixyzj,jil,lxyzj->xyz", A, Rinv, A)
    logw = -0.5 * (quad + sum(ld for _, ld in parts) + logdet_R.sum())
    lo, hi = np.array([grid.em.lo[0], grid.em.lo[1], c_lo]), np.array([grid.em.hi[0], grid.em.hi[1], c_hi])
    return _post(logw, [grid.axes[0], grid.axes[1], c_axis], lo, hi)


def series_posterior(grid: SeriesGrid, Z, *, times=None, level=0.90, truth=None) -> dict:
    """Joint posterior of a series' (phi0, chi/chi_s) and the first curve's age.

    Parameters
    ----------
    grid : SeriesGrid
    Z : array_like, shape (n, k)
        Component scores of the n curves (``em.transform`` of their features),
        the first curve first.
    times : array_like, shape (n,), optional
        Time stamps since the quench (any unit): the ``timed`` mode; None: ``free``.
    level : float
        Credible level of the intervals.
    truth : array_like, shape (3,), optional
        (phi0, chi/chi_s, log10 t/tau of the first curve): quantiles and coverage.

    Returns
    -------
    dict
        ``mode``, ``n_curves``, ``posterior`` (:func:`summarise_posterior`;
        ``log10_t`` is the first curve's age), ``ages`` (per curve: median and
        central interval of log10 t/tau), ``grid`` (the raw posterior, not JSON).
    """
    Z = np.atleast_2d(np.asarray(Z, float))
    if Z.shape[1] != grid.em.k:
        raise ParameterError(f"component scores of shape {Z.shape}: need (curves, {grid.em.k})")
    if times is None:
        post, marg, weight = _free(grid, Z)
        ages = [_interval(m, grid.axes[2], grid.em.lo[2], grid.em.hi[2], level) for m in marg]
        mode = "free"
    else:
        d = log_time_offsets(times)
        if d.size != Z.shape[0]:
            raise ParameterError(f"{d.size} time stamps for {Z.shape[0]} curves: give one per curve")
        post = _timed(grid, Z, d)
        s = summarise_posterior(post, level)["params"]["log10_t"]
        ages = [{"median": s["median"] + di, "central": [s["central"][0] + di, s["central"][1] + di]} for di in d]
        mode, weight = "timed", None
    return {"mode": mode, "n_curves": int(Z.shape[0]), "posterior": summarise_posterior(post, level, truth=truth),
            "ages": ages, "tempering": weight, "correlated": grid.correlation is not None, "grid": post}


def _interval(mass, axis, lo, hi, level) -> dict:
    """Median and central ``level`` interval of a marginal on the grid's cells."""
    cum = np.cumsum(mass) / mass.sum()
    h = (hi - lo) / mass.size
    edges = lo + np.arange(mass.size + 1) * h
    q = np.interp([0.5, (1 - level) / 2, (1 + level) / 2], np.concatenate([[0.0], cum]), edges)
    return {"median": float(q[0]), "central": [float(q[1]), float(q[2])]}


def series_files(paths, *, times=None) -> tuple[list, np.ndarray | None]:
    """The curve files of a series and their time stamps (None: no times).

    Parameters
    ----------
    paths : list of path
        One folder (its time-stamped curves, as ``scattermorph cahn`` reads
        them: :func:`scattermorph.dynamics.measured.stamped_files`) or several
        files; files whose names all state a time (``run_t12.5.dat``) are
        time-stamped and put in time order, else taken as given, without times.
    times : path, optional
        CSV table with columns ``file`` and ``time`` (the names in the folder).

    Returns
    -------
    files : list of Path
    stamps : ndarray, shape (n,), or None
    """
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and paths[0].is_dir():
        stamped = stamped_files(paths[0], times=times, minimum=2)
        return [p for _, p in stamped], np.array([t for t, _ in stamped])
    if times is not None:
        raise ParameterError("--times names the files of a folder: give the folder, or time-stamped file names")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputFileError(f"{missing[0]}: no such curve file")
    stamps = [time_from_name(p.name) for p in paths]
    if any(t is None for t in stamps):
        return paths, None
    order = np.argsort(stamps, kind="stable")
    stamps = np.asarray(stamps, float)[order]
    if np.any(np.diff(stamps) <= 0):
        raise InputFileError("two curves have the same time stamp: one curve per time")
    return [paths[i] for i in order], stamps


def infer_series(cal, curves, *, times=None, n_grid=32, background=None, level=0.90, model=None) -> dict:
    """Joint posterior of measured curves of one quench, with each curve's checks.

    Parameters
    ----------
    cal : StudyCalibration
    curves : list of Curve
        As read, in time order when ``times`` is given.
    times : array_like, shape (n,), optional
        Their time stamps since the quench (the ``timed`` mode); None: ``free``.
    n_grid : int
        Cells per parameter.
    background : float, optional
        One flat background for every curve; None: fitted per curve
        (:func:`scattermorph.infer.apply.curve_background`).
    level : float
    model : FunctionalModel, optional
        For the applicability check and the background fit (default: shipped).

    Returns
    -------
    dict
        :func:`series_posterior`'s result (``grid`` included) plus ``curves``:
        per curve its source, background fit, applicability, age and the fit
        checks of its own posterior (posterior predictive p, edges);
        ``warnings`` (each curve's, prefixed by its name); ``fits`` (every curve passes).
    """
    if len(curves) < 2:
        raise ParameterError(f"{len(curves)} curve: a series needs at least 2 (one curve: scattermorph infer CURVE)")
    em, Z, per = cal.emulator, [], []
    for c in curves:
        applicable = check_applicability(c, cal.ndim, task="infer")
        ok = positive_for_logs(c)
        bg = curve_background(ok, background, model)
        signal = subtract_background(np.asarray(ok.intensity, float), bg["value"])
        X, q1 = study_features(ok.q, signal[None], cal.ndim, **cal.features)
        Z.append(em.transform(X)[0])
        per.append({"curve": str(c.source), "background_fit": bg, "applicability": applicable.to_dict(),
                    "q1": float(q1[0]), "length_2pi_over_q1": float(2 * np.pi / q1[0])})
    grid = SeriesGrid(em, n_grid)
    res = series_posterior(grid, np.array(Z), times=times, level=level)
    warnings = []
    for rec, z, age in zip(per, Z, res["ages"]):
        own = _post(grid.loglike(z), grid.axes, em.lo, em.hi)
        rec["age_log10_t"] = age
        rec["checks"] = cal.fit_checks(z, own)
        if rec["applicability"]["verdict"] == "flagged":
            rec["checks"]["warnings"].insert(0, "MAY NOT BE A PHASE-SEPARATED BLEND")
        warnings += [f"{Path(rec['curve']).name}: {w}" for w in rec["checks"]["warnings"]]
    if len(curves) > CALIBRATED_CURVES:
        warnings.insert(0, f"{len(curves)} curves: on the study's calibration runs the intervals of a series of more "
                           f"than {CALIBRATED_CURVES} curves are too narrow (the curves' deviations from the emulator "
                           f"are not independent; docs/inference.md): give {CALIBRATED_CURVES} spread over the series")
    quenches = np.unique(em.theta_train[:, 1])
    if quenches.size < 3:
        warnings.insert(0, f"the emulator knows {quenches.size} quench depths (chi/chi_s {quenches.tolist()}): between "
                           "them its dependence on chi/chi_s is interpolated, and on the study's calibration runs a "
                           "series' chi/chi_s intervals are too narrow (docs/inference.md); read chi/chi_s from early "
                           "curves with scattermorph cahn --joint")
    res.update(curves=per, warnings=warnings, fits=all(r["checks"]["fits"] for r in per))
    return res
