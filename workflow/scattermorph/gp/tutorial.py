"""Gaussian-process regression from first principles, on real rubber data.

The maths of the blog's tutorial (see ``shared/BACKGROUND.md``), written out so
that each step can be checked against scikit-learn:

* the squared-exponential (SE) kernel ``k(x, x') = sf2 exp(-(x - x')^2 / (2 l^2))``
  with length scale ``l`` and signal variance ``sf2``;
* the GP posterior (Rasmussen & Williams 2006, eqs. 2.22-2.24, 2.38-2.39 for a
  mean function) from any number of points, noise-free or noisy;
* the log marginal likelihood (R&W eq. 2.30);
* the closed-form leave-one-out (LOO) predictive mean, variance and log
  probability (R&W eqs. 5.10-5.12), and a *buggy* variant that scores each
  left-out point with the full-data fit (the pathology of the blog's first
  LOOCV map);
* maps of these scores over a (length scale, signal variance) grid, vectorised
  with one eigendecomposition per length scale;
* a neo-Hookean mean function ``sigma = G (lambda - lambda^-2)`` fitted by
  least squares.

The data are Treloar's uniaxial-tension measurements of vulcanised natural
rubber (``data/treloar1944.csv``): stretch ratio ``lambda`` (dimensionless)
and nominal stress in kgf/cm^2.

References
----------
.. [1] C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine
   Learning*, MIT Press (2006), chapters 2 and 5.
.. [2] L. R. G. Treloar, "Stress-strain data for vulcanised rubber under
   various types of deformation", Trans. Faraday Soc. 40, 59-70 (1944).
.. [3] L. R. G. Treloar, *The Physics of Rubber Elasticity*, 3rd ed., Oxford
   (1975), ch. 4: the neo-Hookean nominal stress ``G (lambda - lambda^-2)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError, ParameterError

__all__ = [
    "save_npz",
    "KGF_PER_CM2_IN_MPA",
    "load_treloar",
    "se_kernel",
    "gp_posterior",
    "log_marginal_likelihood",
    "loo_predictive",
    "loo_buggy",
    "loo_brute_force",
    "hyperparameter_maps",
    "neo_hookean",
    "fit_neo_hookean",
    "sklearn_se_gp",
    "scale_output",
]

#: 1 kgf/cm^2 in MPa (exact: standard gravity 9.80665 m/s^2).
KGF_PER_CM2_IN_MPA = 0.0980665


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def load_treloar(path) -> pd.DataFrame:
    """Treloar's (1944) uniaxial-tension data.

    Parameters
    ----------
    path : str or Path
        CSV with ``#`` comment lines and the columns ``stretch`` (lambda,
        dimensionless) and ``nominal_stress`` (kgf/cm^2).

    Returns
    -------
    pandas.DataFrame
        ``stretch``, ``nominal_stress`` (kgf/cm^2) and ``stress_mpa`` (MPa),
        sorted by stretch.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"Treloar data file {str(path)!r} does not exist")
    table = pd.read_csv(path, comment="#")
    missing = {"stretch", "nominal_stress"} - set(table.columns)
    if missing:
        raise InputFileError(
            f"{path}: missing column(s) {sorted(missing)}; expected 'stretch,nominal_stress'"
        )
    table = table[["stretch", "nominal_stress"]].astype(float)
    if not np.all(np.isfinite(table.to_numpy())) or (table["stretch"] <= 0).any():
        raise InputFileError(f"{path}: every stretch must be a positive number and no value NaN")
    table = table.sort_values("stretch", kind="stable").reset_index(drop=True)
    table["stress_mpa"] = table["nominal_stress"] * KGF_PER_CM2_IN_MPA
    return table


def scale_output(y, how: str):
    """Centre and scale the outputs before a zero-mean GP.

    Parameters
    ----------
    y : (n,) ndarray
    how : {"none", "standardise", "max"}
        ``none``: as given; ``standardise``: ``(y - mean) / std``; ``max``:
        ``y / max|y|``.

    Returns
    -------
    z : (n,) ndarray
    offset, scale : float
        ``y = offset + scale * z``.
    """
    y = np.asarray(y, dtype=float)
    if how == "none":
        return y.copy(), 0.0, 1.0
    if how == "standardise":
        return (y - y.mean()) / y.std(), float(y.mean()), float(y.std())
    if how == "max":
        s = float(np.max(np.abs(y)))
        return y / s, 0.0, s
    raise ParameterError(f"output scaling {how!r}: choose 'none', 'standardise' or 'max'")


# --------------------------------------------------------------------------
# kernel, posterior, marginal likelihood
# --------------------------------------------------------------------------
def _check_hyper(length_scale, signal_variance, noise_variance=0.0):
    if not (np.isfinite(length_scale) and length_scale > 0):
        raise ParameterError(f"length_scale={length_scale!r} must be a positive number")
    if not (np.isfinite(signal_variance) and signal_variance > 0):
        raise ParameterError(f"signal_variance={signal_variance!r} must be a positive number")
    if not (np.isfinite(noise_variance) and noise_variance >= 0):
        raise ParameterError(f"noise_variance={noise_variance!r} must be >= 0")


def se_kernel(x1, x2, length_scale: float, signal_variance: float = 1.0) -> np.ndarray:
    """Squared-exponential covariance ``sf2 exp(-(x1 - x2)^2 / (2 l^2))``.

    Parameters
    ----------
    x1 : (n,) ndarray
    x2 : (m,) ndarray
        Scalar inputs (same unit as ``length_scale``).
    length_scale : float
    signal_variance : float
        ``sf2``, in the squared unit of the output.

    Returns
    -------
    (n, m) ndarray
    """
    _check_hyper(length_scale, signal_variance)
    d = np.asarray(x1, dtype=float)[:, None] - np.asarray(x2, dtype=float)[None, :]
    return signal_variance * np.exp(-0.5 * (d / length_scale) ** 2)


def gp_posterior(x, y, x_star, *, length_scale, signal_variance, noise_variance=0.0,
                 mean=None, jitter=1e-10):
    """Posterior mean and variance of the latent function of a 1D SE GP.

    ``mean_* = m(x_*) + k_*^T K^-1 (y - m(x))`` and ``var_* = k(x_*, x_*) -
    k_*^T K^-1 k_*`` with ``K = k(x, x) + (noise_variance + jitter sf2) I``
    (R&W eqs. 2.25-2.26; eq. 2.38 for a fixed mean function). With no data
    the prior is returned.

    Parameters
    ----------
    x, y : (n,) ndarray
        Training inputs and outputs (n may be 0).
    x_star : (m,) ndarray
        Test inputs.
    length_scale, signal_variance, noise_variance : float
    mean : callable, optional
        Prior mean function ``m(x)`` (vectorised); zero if None.
    jitter : float
        Relative diagonal regularisation (times ``sf2``) so a noise-free K
        with nearly equal points stays positive definite in floating point;
        1e-10 moves the interpolated values by ~1e-10 relative.

    Returns
    -------
    mu : (m,) ndarray
    var : (m,) ndarray
        Variance of the latent function (add ``noise_variance`` for a new
        observation); clipped at 0 against round-off.
    """
    _check_hyper(length_scale, signal_variance, noise_variance)
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    xs = np.asarray(x_star, dtype=float).ravel()
    if x.shape != y.shape:
        raise ParameterError(f"x and y must have the same length, got {x.size} and {y.size}")
    m_star = np.zeros_like(xs) if mean is None else np.asarray(mean(xs), dtype=float)
    prior = np.full(xs.shape, float(signal_variance))
    if x.size == 0:
        return m_star, prior
    m_x = np.zeros_like(x) if mean is None else np.asarray(mean(x), dtype=float)
    K = se_kernel(x, x, length_scale, signal_variance)
    K[np.diag_indices_from(K)] += noise_variance + jitter * signal_variance
    Ks = se_kernel(x, xs, length_scale, signal_variance)
    c = cho_factor(K, lower=True)
    mu = m_star + Ks.T @ cho_solve(c, y - m_x)
    var = prior - np.einsum("ij,ij->j", Ks, cho_solve(c, Ks))
    return mu, np.maximum(var, 0.0)


def log_marginal_likelihood(K, y) -> float:
    """``log p(y | X) = -y^T K^-1 y / 2 - log|K| / 2 - n log(2 pi) / 2`` (R&W eq. 2.30).

    Parameters
    ----------
    K : (n, n) ndarray
        Covariance of the observations (kernel plus noise), positive definite.
    y : (n,) ndarray
        Observations minus the prior mean.
    """
    y = np.asarray(y, dtype=float)
    c, low = cho_factor(K, lower=True)
    alpha = cho_solve((c, low), y)
    return float(-0.5 * y @ alpha - np.log(np.diag(c)).sum() - 0.5 * y.size * np.log(2 * np.pi))


# --------------------------------------------------------------------------
# leave-one-out
# --------------------------------------------------------------------------
def loo_predictive(K, y):
    """Closed-form leave-one-out predictions (R&W eqs. 5.10-5.12).

    With ``K`` the covariance of the noisy observations and ``alpha = K^-1 y``,
    the prediction of ``y_i`` from the other ``n - 1`` points (same
    hyper-parameters) is Gaussian with

    * mean ``mu_i = y_i - alpha_i / [K^-1]_ii`` (eq. 5.12),
    * variance ``sigma_i^2 = 1 / [K^-1]_ii`` (eq. 5.12), which includes the
      noise of the left-out observation,
    * log probability ``log p_i = -log(sigma_i^2) / 2 - (y_i - mu_i)^2 /
      (2 sigma_i^2) - log(2 pi) / 2`` (eqs. 5.10-5.11).

    Parameters
    ----------
    K : (n, n) ndarray
    y : (n,) ndarray
        Observations minus the prior mean.

    Returns
    -------
    mu, var, log_prob : (n,) ndarray
    """
    y = np.asarray(y, dtype=float)
    c = cho_factor(K, lower=True)
    Kinv = cho_solve(c, np.eye(y.size))
    alpha = Kinv @ y
    d = np.diag(Kinv)
    var = 1.0 / d
    mu = y - alpha / d
    logp = -0.5 * np.log(var) - 0.5 * (y - mu) ** 2 / var - 0.5 * np.log(2 * np.pi)
    return mu, var, logp


def loo_buggy(K, Kf, y):
    """A plausible LOOCV bug: score each 'left-out' point with the full-data fit.

    The point is never removed: its prediction is the posterior of the GP
    trained on *all* the data, ``mu_i = [Kf K^-1 y]_i`` with predictive
    variance ``[Kf - Kf K^-1 Kf]_ii + noise``. The score then rewards
    flexibility (a short length scale reproduces the data it was given), so it
    has no interior optimum.

    Parameters
    ----------
    K : (n, n) ndarray
        Covariance of the observations (kernel plus noise).
    Kf : (n, n) ndarray
        Covariance of the latent function (kernel without noise).
    y : (n,) ndarray

    Returns
    -------
    mu, var, log_prob : (n,) ndarray
    """
    y = np.asarray(y, dtype=float)
    c = cho_factor(K, lower=True)
    noise = np.diag(K) - np.diag(Kf)
    mu = Kf @ cho_solve(c, y)
    var = np.diag(Kf) - np.einsum("ij,ji->i", Kf, cho_solve(c, Kf)) + noise
    var = np.maximum(var, 1e-300)
    logp = -0.5 * np.log(var) - 0.5 * (y - mu) ** 2 / var - 0.5 * np.log(2 * np.pi)
    return mu, var, logp


def loo_brute_force(x, y, *, length_scale, signal_variance, noise_variance):
    """Leave-one-out by refitting: the oracle of :func:`loo_predictive`.

    For each i, a scikit-learn ``GaussianProcessRegressor`` with the *fixed*
    kernel ``ConstantKernel(sf2) * RBF(l)`` and ``alpha = noise_variance`` is
    fitted to the other points and predicts ``y_i``; its predictive variance
    plus the noise variance is the variance of the observation.

    Returns
    -------
    mu, var, log_prob : (n,) ndarray
    """
    _check_hyper(length_scale, signal_variance, noise_variance)
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    kernel = ConstantKernel(signal_variance, "fixed") * RBF(length_scale, "fixed")
    mu = np.empty_like(y)
    var = np.empty_like(y)
    for i in range(y.size):
        keep = np.arange(y.size) != i
        gp = GaussianProcessRegressor(kernel, alpha=noise_variance, optimizer=None)
        gp.fit(x[keep, None], y[keep])
        m, s = gp.predict(x[[i], None], return_std=True)
        mu[i], var[i] = m[0], s[0] ** 2 + noise_variance
    logp = -0.5 * np.log(var) - 0.5 * (y - mu) ** 2 / var - 0.5 * np.log(2 * np.pi)
    return mu, var, logp


def hyperparameter_maps(x, y, length_scales, signal_variances, noise_variance):
    """LOOCV scores and log marginal likelihood over a hyper-parameter grid.

    Vectorised: for each length scale the correlation matrix ``R`` is
    diagonalised once, ``R = Q diag(lam) Q^T``; then for every signal variance
    ``K = Q diag(sf2 lam + sn2) Q^T``, so ``K^-1``'s diagonal, ``K^-1 y`` and
    ``log|K|`` for all ``sf2`` are matrix products. The same formulas as
    :func:`loo_predictive`, :func:`loo_buggy` and
    :func:`log_marginal_likelihood` (tests check they agree).

    Parameters
    ----------
    x, y : (n,) ndarray
        Inputs and (scaled) outputs; zero prior mean.
    length_scales : (A,) ndarray
    signal_variances : (B,) ndarray
    noise_variance : float
        Fixed observation-noise variance ``sn2 > 0`` (needed: with ``sn2 = 0``
        ``K`` is numerically singular at long length scales).

    Returns
    -------
    dict of str -> (A, B) ndarray
        ``lml`` (log marginal likelihood), ``loo_log_prob`` (mean LOO
        predictive log probability per point), ``loo_sq_error`` (mean LOO
        squared error), ``buggy_log_prob``, ``buggy_sq_error`` (the full-data
        scoring of :func:`loo_buggy`).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    ls = np.asarray(length_scales, dtype=float)
    sf2 = np.asarray(signal_variances, dtype=float)
    if not (np.isfinite(noise_variance) and noise_variance > 0):
        raise ParameterError(
            f"noise_variance={noise_variance!r} must be > 0 for the hyper-parameter maps "
            "(a noise-free K is singular at long length scales)"
        )
    if np.any(ls <= 0) or np.any(sf2 <= 0):
        raise ParameterError("length scales and signal variances of the grid must be > 0")
    n = y.size
    out = {k: np.empty((ls.size, sf2.size)) for k in
           ("lml", "loo_log_prob", "loo_sq_error", "buggy_log_prob", "buggy_sq_error")}
    log2pi = np.log(2 * np.pi)
    for a, length in enumerate(ls):
        lam, Q = np.linalg.eigh(se_kernel(x, x, length, 1.0))
        lam = np.maximum(lam, 0.0)  # round-off can leave -1e-16
        Qy = Q.T @ y  # (n,)
        Q2 = Q**2  # (n, n)
        ev = sf2[None, :] * lam[:, None] + noise_variance  # (n, B) eigenvalues of K
        inv = 1.0 / ev
        alpha = Q @ (Qy[:, None] * inv)  # (n, B) = K^-1 y
        kdiag = Q2 @ inv  # (n, B) = diag K^-1
        out["lml"][a] = -0.5 * np.einsum("i,ib->b", Qy, Qy[:, None] * inv) \
            - 0.5 * np.log(ev).sum(axis=0) - 0.5 * n * log2pi
        var = 1.0 / kdiag
        err2 = (alpha / kdiag) ** 2  # (y - mu)^2 (eq. 5.12)
        out["loo_sq_error"][a] = err2.mean(axis=0)
        out["loo_log_prob"][a] = (-0.5 * np.log(var) - 0.5 * err2 / var - 0.5 * log2pi).mean(axis=0)
        # full-data fit at the training points: mean Kf K^-1 y, variance
        # sf2 - diag(Kf K^-1 Kf) + sn2 (all in the eigenbasis)
        s_lam = sf2[None, :] * lam[:, None]
        mu_full = Q @ (Qy[:, None] * s_lam * inv)
        var_full = sf2[None, :] - Q2 @ (s_lam**2 * inv) + noise_variance
        var_full = np.maximum(var_full, 1e-300)
        e2 = (y[:, None] - mu_full) ** 2
        out["buggy_sq_error"][a] = e2.mean(axis=0)
        out["buggy_log_prob"][a] = (-0.5 * np.log(var_full) - 0.5 * e2 / var_full
                                    - 0.5 * log2pi).mean(axis=0)
    return out


# --------------------------------------------------------------------------
# mean function
# --------------------------------------------------------------------------
def neo_hookean(stretch, shear_modulus: float):
    """Neo-Hookean nominal stress in uniaxial tension, ``G (lambda - lambda^-2)``.

    Parameters
    ----------
    stretch : ndarray
        Stretch ratio lambda (> 0).
    shear_modulus : float
        G, in the unit of the returned stress.
    """
    lam = np.asarray(stretch, dtype=float)
    return shear_modulus * (lam - lam**-2.0)


def fit_neo_hookean(stretch, stress):
    """Least-squares shear modulus of the neo-Hookean law.

    ``G = sum(g_i s_i) / sum(g_i^2)`` with ``g = lambda - lambda^-2`` (a
    one-parameter linear least-squares fit through the origin).

    Returns
    -------
    G : float
        In the unit of ``stress``.
    G_se : float
        Its standard error from the residual variance (n - 1 dof).
    """
    g = neo_hookean(stretch, 1.0)
    s = np.asarray(stress, dtype=float)
    if g.size < 2:
        raise ParameterError("the neo-Hookean fit needs at least 2 points")
    G = float(g @ s / (g @ g))
    resid = s - G * g
    se = float(np.sqrt(resid @ resid / (g.size - 1) / (g @ g)))
    return G, se


# --------------------------------------------------------------------------
# scikit-learn's gradient-based optimum
# --------------------------------------------------------------------------
def sklearn_se_gp(x, y, *, noise_variance=None, restarts=10, random_state=0,
                  length_bounds=(1e-2, 1e3), variance_bounds=(1e-4, 1e6), noise_bounds=(1e-10, 1e3)):
    """Fit ``ConstantKernel(sf2) * RBF(l) + WhiteKernel(sn2)`` by maximum marginal likelihood.

    L-BFGS-B on the log hyper-parameters with ``restarts`` extra starts drawn
    log-uniformly inside the bounds (scikit-learn's ``n_restarts_optimizer``).
    Zero prior mean, ``normalize_y=False``: scale the outputs beforehand.

    Parameters
    ----------
    x, y : (n,) ndarray
    noise_variance : float, optional
        Fixed noise variance; fitted when None.
    restarts : int
    random_state : int

    Returns
    -------
    sklearn.gaussian_process.GaussianProcessRegressor
        Fitted; ``kernel_.k1.k1.constant_value`` is sf2,
        ``kernel_.k1.k2.length_scale`` is l, ``kernel_.k2.noise_level`` sn2.
    """
    if noise_variance is None:
        white = WhiteKernel(1e-2 * np.var(y), noise_bounds)
    else:
        white = WhiteKernel(float(noise_variance), "fixed")
    kernel = ConstantKernel(np.var(y), variance_bounds) * RBF(1.0, length_bounds) + white
    gp = GaussianProcessRegressor(kernel, alpha=0.0, normalize_y=False,
                                  n_restarts_optimizer=int(restarts), random_state=int(random_state))
    return gp.fit(np.asarray(x, dtype=float).reshape(-1, 1), np.asarray(y, dtype=float))


def lml_local_maxima(x, y, *, length_starts=(0.3, 1.0, 2.0, 5.0),
                     variance_starts=(0.1, 1.0, 10.0), noise_starts=(1e-4, 1e-2),
                     length_bounds=(1e-2, 1e3), variance_bounds=(1e-4, 1e6),
                     noise_bounds=(1e-10, 1e3)) -> pd.DataFrame:
    """Distinct local maxima of the log marginal likelihood (noise fitted).

    One L-BFGS-B search (no restarts) from every combination of the starts
    (noise starts relative to ``var(y)``); optima at a bound (within 1 % on
    the log scale) are dropped (degenerate all-noise fits), the rest merged
    when their log hyper-parameters agree to 0.01.

    Returns
    -------
    DataFrame
        ``length_scale``, ``signal_variance``, ``noise_variance``, ``lml``,
        best first.
    """
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    y = np.asarray(y, dtype=float)
    bounds = np.log([length_bounds, variance_bounds, noise_bounds])
    found = []
    for l0 in length_starts:
        for s0 in variance_starts:
            for n0 in noise_starts:
                k = ConstantKernel(s0, variance_bounds) * RBF(l0, length_bounds) \
                    + WhiteKernel(n0 * np.var(y), noise_bounds)
                gp = GaussianProcessRegressor(k, alpha=0.0, normalize_y=False).fit(x, y)
                h = _sk_hyper(gp)
                th = np.log([h["length_scale"], h["signal_variance"], h["noise_variance"]])
                span = bounds[:, 1] - bounds[:, 0]
                if np.any(np.minimum(th - bounds[:, 0], bounds[:, 1] - th) < 0.01 * span):
                    continue
                if not any(np.all(np.abs(th - f[0]) < 0.01) for f in found):
                    found.append((th, h))
    rows = [{"length_scale": h["length_scale"], "signal_variance": h["signal_variance"],
             "noise_variance": h["noise_variance"], "lml": h["lml"]} for _, h in found]
    return pd.DataFrame(rows, columns=["length_scale", "signal_variance", "noise_variance",
                                       "lml"]).sort_values("lml", ascending=False,
                                                           ignore_index=True)


# --------------------------------------------------------------------------
# the stage's computations (called by the foundations rules)
# --------------------------------------------------------------------------
#: Optima reported by the blog (N. Clarke, "AI in Science", 2019) on the same
#: kind of stress-extension data; its output normalisation and noise level are
#: not stated, so these are compared, not asserted.
BLOG_OPTIMA = (
    {"method": "blog_loocv", "length_scale": 2.0, "signal_variance": 2.4},
    {"method": "blog_log_marginal_likelihood", "length_scale": 1.8, "signal_variance": 2.7},
)


def _sk_hyper(gp) -> dict:
    k = gp.kernel_
    return {
        "length_scale": float(k.k1.k2.length_scale),
        "signal_variance": float(k.k1.k1.constant_value),
        "noise_variance": float(k.k2.noise_level),
        "lml": float(gp.log_marginal_likelihood_value_),
    }


def tutorial_predictions(data: pd.DataFrame, *, points, length_scales, signal_variance,
                         output_scaling, noise, x_grid, x_wide, restarts, random_state):
    """Arrays of the tutorial figures (noise-free few-point GPs, posterior, mean functions).

    Parameters
    ----------
    data : DataFrame
        From :func:`load_treloar`.
    points : sequence of float
        Stretches of the tutorial's training points, in order: panels use the
        first 1, 2 and 3 (each must be a stretch of the data).
    length_scales : sequence of float
        Length scales (units of lambda) of the few-point panels.
    signal_variance : float
        sf2 of the few-point panels (units of the scaled output squared).
    output_scaling : {"none", "standardise", "max"}
        See :func:`scale_output`; the GP works on the scaled nominal stress.
    noise : "fit" or float
        Observation noise standard deviation in kgf/cm^2, or fitted by
        maximum marginal likelihood.
    x_grid : (m,) ndarray
        Prediction stretches over the data range.
    x_wide : (w,) ndarray
        Prediction stretches of the mean-function comparison (extrapolation).
    restarts, random_state : int
        Of scikit-learn's optimiser.

    Returns
    -------
    dict of str -> ndarray or float
        ``few_*`` arrays (panel means/variances, shape (3, L, m)), the
        posterior on all data (``post_mean``, ``post_var`` in MPa, MPa^2),
        the zero- and neo-Hookean-mean posteriors on ``x_wide``, the
        hyper-parameters and ``G_mpa``/``G_se_mpa``.
    """
    x = data["stretch"].to_numpy()
    y_kgf = data["nominal_stress"].to_numpy()
    z, off, scale = scale_output(y_kgf, output_scaling)
    to_mpa = KGF_PER_CM2_IN_MPA * scale  # scaled unit -> MPa
    idx = _point_indices(x, points)
    fit = {"restarts": restarts, "random_state": random_state}
    # the keys in the order of the saved .npz
    out = {"x": x, "y_mpa": y_kgf * KGF_PER_CM2_IN_MPA, "x_grid": np.asarray(x_grid, float),
           "x_wide": np.asarray(x_wide, float), "points": x[idx],
           "length_scales": np.asarray(length_scales, float), "offset_mpa": off * KGF_PER_CM2_IN_MPA,
           "scale_mpa": to_mpa}
    out.update(_few_point_panels(x, z, idx, length_scales, signal_variance, x_grid, off, to_mpa))
    out["few_train_y"] = y_kgf[idx] * KGF_PER_CM2_IN_MPA
    out.update(_all_data_posterior(x, z, x_grid, noise=noise, scale=scale, off=off, to_mpa=to_mpa, **fit))
    out.update(_mean_function_posteriors(x, out["y_mpa"], x_wide, noise=noise, to_mpa=to_mpa, **fit))
    return out


def _point_indices(x, points) -> list[int]:
    """Index in the data of each of the tutorial's training stretches."""
    idx = []
    for p in points:
        hit = np.flatnonzero(np.isclose(x, p))
        if hit.size == 0:
            raise ParameterError(
                f"foundations.tutorial_points: stretch {p} is not in the data; choose among "
                f"{x.tolist()}"
            )
        idx.append(int(hit[0]))
    return idx


def _few_point_panels(x, z, idx, length_scales, signal_variance, x_grid, off, to_mpa) -> dict:
    """Noise-free posteriors (MPa) from the first 1, 2, 3 training points at
    each length scale: ``few_mean``, ``few_var``, shape (3, L, m)."""
    few_mu = np.empty((len(idx), len(length_scales), len(x_grid)))
    few_var = np.empty_like(few_mu)
    for a in range(len(idx)):
        sel = idx[: a + 1]
        for b, ell in enumerate(length_scales):
            few_mu[a, b], few_var[a, b] = gp_posterior(
                x[sel], z[sel], x_grid, length_scale=ell, signal_variance=signal_variance)
    return {"few_mean": off * KGF_PER_CM2_IN_MPA + to_mpa * few_mu, "few_var": to_mpa**2 * few_var}


def _all_data_posterior(x, z, x_grid, *, noise, scale, off, to_mpa, restarts, random_state) -> dict:
    """Posterior on all the data (MPa), hyper-parameters by maximum marginal
    likelihood: ``post_mean``, ``post_var``, ``post_noise_var``, ``post_hyper``."""
    sn2 = None if noise == "fit" else (float(noise) / scale) ** 2
    h = _sk_hyper(sklearn_se_gp(x, z, noise_variance=sn2, restarts=restarts,
                                random_state=random_state))
    mu, var = gp_posterior(x, z, x_grid, length_scale=h["length_scale"],
                           signal_variance=h["signal_variance"], noise_variance=h["noise_variance"])
    return {"post_mean": off * KGF_PER_CM2_IN_MPA + to_mpa * mu, "post_var": to_mpa**2 * var,
            "post_noise_var": to_mpa**2 * h["noise_variance"],
            "post_hyper": np.array([h["length_scale"], h["signal_variance"], h["noise_variance"]])}


def _mean_function_posteriors(x, y_mpa, x_wide, *, noise, to_mpa, restarts, random_state) -> dict:
    """Zero mean against the neo-Hookean mean on ``x_wide``, both in MPa
    scaled by the same factor: ``G_mpa``, ``G_se_mpa`` and per mean
    ``<tag>_mean``, ``_var``, ``_prior_mean``, ``_hyper`` (tags zero, neo)."""
    x_wide_arr = np.asarray(x_wide, float)
    G, G_se = fit_neo_hookean(x, y_mpa)
    out = {"G_mpa": G, "G_se_mpa": G_se}
    for tag, mfun in (("zero", None), ("neo", lambda s: neo_hookean(s, G))):
        m_x = 0.0 if mfun is None else mfun(x)
        r = (y_mpa - m_x) / to_mpa
        sn2_r = None if noise == "fit" else (float(noise) * KGF_PER_CM2_IN_MPA / to_mpa) ** 2
        hh = _sk_hyper(sklearn_se_gp(x, r, noise_variance=sn2_r, restarts=restarts,
                                     random_state=random_state))
        mu, var = gp_posterior(x, r, x_wide, length_scale=hh["length_scale"],
                               signal_variance=hh["signal_variance"],
                               noise_variance=hh["noise_variance"])
        m_w = 0.0 if mfun is None else mfun(x_wide_arr)
        out[f"{tag}_mean"] = m_w + to_mpa * mu
        out[f"{tag}_var"] = to_mpa**2 * var
        out[f"{tag}_prior_mean"] = np.zeros_like(x_wide_arr) + m_w
        out[f"{tag}_hyper"] = np.array([hh["length_scale"], hh["signal_variance"] * to_mpa**2,
                                        hh["noise_variance"] * to_mpa**2])
    return out


def hyperparameter_study(data: pd.DataFrame, *, output_scaling, noise, length_range,
                         variance_range, n_length, n_variance, restarts, random_state):
    """Grid maps, their optima, scikit-learn's optimum and the LOO check.

    The outputs (nominal stress) are scaled by ``output_scaling``; the noise
    variance is fixed on the grid, at the maximum-marginal-likelihood value
    when ``noise == "fit"`` (so the grid's likelihood optimum must agree with
    scikit-learn's) or at ``(noise / scale)^2`` for a noise standard deviation
    in kgf/cm^2.

    Returns
    -------
    maps : dict of str -> ndarray
        ``length_scales`` (A,), ``signal_variances`` (B,) and the (A, B) maps
        of :func:`hyperparameter_maps`.
    optima : DataFrame
        One row per method: ``method``, ``source`` (grid / sklearn_lbfgs /
        sklearn_lbfgs_starts for every local likelihood maximum / blog),
        ``output_scaling``, ``length_scale``, ``signal_variance``,
        ``noise_variance``, ``value``, ``on_grid_edge``.
    check : DataFrame
        Closed-form vs brute-force LOO at the likelihood optimum: largest
        absolute differences of mean, variance and log probability.
    """
    x = data["stretch"].to_numpy()
    y = data["nominal_stress"].to_numpy()
    z, _, scale = scale_output(y, output_scaling)
    sn2 = None if noise == "fit" else (float(noise) / scale) ** 2
    h = _sk_hyper(sklearn_se_gp(x, z, noise_variance=sn2, restarts=restarts,
                                random_state=random_state))
    sn2 = h["noise_variance"]
    ls = np.geomspace(*length_range, int(n_length))
    sv = np.geomspace(*variance_range, int(n_variance))
    maps = hyperparameter_maps(x, z, ls, sv, sn2)
    rows = _grid_optima(maps, ls, sv, sn2, output_scaling)
    rows.append({"method": "lml", "source": "sklearn_lbfgs", "output_scaling": output_scaling,
                 "length_scale": h["length_scale"], "signal_variance": h["signal_variance"],
                 "noise_variance": sn2, "value": h["lml"], "on_grid_edge": False})
    # every local maximum of the likelihood (noise fitted): the global one and
    # lower ones where a single optimiser start can stop
    if noise == "fit":
        for _, m in lml_local_maxima(x, z).iterrows():
            rows.append({"method": "lml_local_maximum", "source": "sklearn_lbfgs_starts",
                         "output_scaling": output_scaling, "length_scale": m["length_scale"],
                         "signal_variance": m["signal_variance"],
                         "noise_variance": m["noise_variance"], "value": m["lml"],
                         "on_grid_edge": False})
    rows += _other_scaling_optima(x, y, output_scaling, noise, restarts, random_state)
    for b in BLOG_OPTIMA:
        rows.append({**b, "source": "blog", "output_scaling": "unknown",
                     "noise_variance": np.nan, "value": np.nan, "on_grid_edge": False})
    optima = pd.DataFrame(rows)
    check = _loo_check(x, z, h, sn2)
    maps = {"length_scales": ls, "signal_variances": sv, "noise_variance": np.array(sn2), **maps}
    return maps, optima, check


def _grid_optima(maps, ls, sv, sn2, output_scaling) -> list[dict]:
    """The optimum of each map on the grid (one row each), flagged when it
    lies on the grid's edge."""
    rows = []
    for key, best in (("loo_log_prob", np.argmax), ("loo_sq_error", np.argmin), ("lml", np.argmax),
                      ("buggy_log_prob", np.argmax), ("buggy_sq_error", np.argmin)):
        a, b = np.unravel_index(best(maps[key]), maps[key].shape)
        rows.append({"method": key, "source": "grid", "output_scaling": output_scaling,
                     "length_scale": ls[a], "signal_variance": sv[b], "noise_variance": sn2,
                     "value": maps[key][a, b],
                     "on_grid_edge": bool(a in (0, ls.size - 1) or b in (0, sv.size - 1))})
    return rows


def _other_scaling_optima(x, y, output_scaling, noise, restarts, random_state) -> list[dict]:
    """scikit-learn's optimum under the other output normalisations (the blog's is not stated)."""
    rows = []
    for how in ("none", "standardise", "max"):
        if how == output_scaling:
            continue
        zz, _, sc = scale_output(y, how)
        hh = _sk_hyper(sklearn_se_gp(x, zz, noise_variance=None if noise == "fit"
                                     else (float(noise) / sc) ** 2,
                                     restarts=restarts, random_state=random_state))
        rows.append({"method": "lml", "source": "sklearn_lbfgs", "output_scaling": how,
                     "length_scale": hh["length_scale"], "signal_variance": hh["signal_variance"],
                     "noise_variance": hh["noise_variance"], "value": hh["lml"],
                     "on_grid_edge": False})
    return rows


def _loo_check(x, z, h, sn2) -> pd.DataFrame:
    """Closed-form against brute-force leave-one-out at the likelihood optimum ``h``."""
    K = se_kernel(x, x, h["length_scale"], h["signal_variance"])
    K[np.diag_indices_from(K)] += sn2
    cf = loo_predictive(K, z)
    bf = loo_brute_force(x, z, length_scale=h["length_scale"],
                         signal_variance=h["signal_variance"], noise_variance=sn2)
    return pd.DataFrame([{"quantity": q, "max_abs_difference": float(np.max(np.abs(c - f))),
                          "max_abs_value": float(np.max(np.abs(f)))}
                         for q, c, f in zip(("mean", "variance", "log_prob"), cf, bf)])


def save_npz(path, arrays: dict) -> None:
    """Write ``arrays`` to an uncompressed ``.npz`` at ``path`` atomically."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)
