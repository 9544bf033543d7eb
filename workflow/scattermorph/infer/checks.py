"""Does the emulator describe the curve at all, and is the answer cut by the prior?

Two checks on every posterior of ``scattermorph infer``
(:meth:`scattermorph.infer.posterior.StudyCalibration.infer`):

Posterior predictive check
--------------------------
The discrepancy is the chi^2 of the curve's standardised residuals in the
emulator's component space,
``D(z, theta) = (z - mu(theta))^T (diag v(theta) + N)^-1 (z - mu(theta))``
(the likelihood's own Gaussian: the emulator's predictive variance v and the
replicate-run scatter N, the data's noise model). A replicate z_rep drawn
from the model at theta has ``D(z_rep, theta) ~ chi^2_k`` exactly, so the
posterior predictive p-value of Gelman, Meng & Stern (Statistica Sinica 6,
733 (1996), the discrepancy method),
``p_GMS = Pr(D(z_rep, theta) >= D(z, theta) | z)``, is an exact sum over the
grid posterior: ``sum_theta w(theta) chi2_k.sf(D(z, theta))``.

The data are used twice (to fit theta, then to judge the fit), so p_GMS is
not uniform when the model is right: it piles up near 0.5 and rarely falls
below 0.05. It is therefore *calibrated* (Hjort, Dahl & Steinbakk, J. Am. Stat.
Assoc. 101, 1157 (2006)): the reported p-value is the fraction of curves
drawn from the emulator's prior predictive (theta uniform over the box, z
from the emulator's Gaussian at theta) whose p_GMS is as small or smaller,
``(1 + #{p_ref <= p_GMS}) / (M + 1)`` over M reference draws
(:func:`ppc_reference`, stored with the emulator). It is uniform for curves
the emulator describes, and its smallest value is 1 / (M + 1).

Edge of the prior box
---------------------
The prior is uniform over the training box. A parameter whose marginal
posterior holds more than :data:`EDGE_MASS` of its mass in the outer
:data:`EDGE_BAND` of its range has a posterior median inside that band: the
likelihood rises toward the wall, so the best-fitting simulations are at or
beyond the edge of what was simulated and the interval is set by the prior,
not by the data (a posterior that learned nothing puts 5 % there; a narrow
one around an interior truth, none).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from scattermorph import seeds
from scattermorph.errors import ParameterError
from scattermorph.infer.grid import PARAM_LABELS, PARAMS, cell_cdf, grid_axes

__all__ = [
    "PPC_GRID",
    "PPC_DRAWS",
    "PPC_THRESHOLD",
    "EDGE_BAND",
    "EDGE_MASS",
    "GridGaussian",
    "ppc_reference",
    "posterior_predictive_check",
    "edge_masses",
    "edge_warnings",
    "reference_seed",
]

#: cells per parameter of the check's own grid posterior (fixed, so that the
#: reference distribution does not depend on ``infer --grid``)
PPC_GRID = 24
#: prior-predictive draws of the reference distribution (a p-value near 0.01
#: then carries a Monte Carlo error of 0.003)
PPC_DRAWS = 1000
#: a curve fails the check below this p-value: the false-alarm rate on curves the
#: emulator describes; on the study's held-out runs about 1 % of the snapshots
#: fall below it, and every non-blend real file tried (docs/inference.md)
PPC_THRESHOLD = 0.01
#: the outer fraction of a parameter's prior range that is its "edge"
EDGE_BAND = 0.05
#: warn when more than this fraction of a parameter's posterior mass lies in one edge band
EDGE_MASS = 0.5
#: sub-stream key of the check's reference draws (under seeds.CALIBRATION)
PPC_STREAM = 101


def reference_seed(study_seed: int = 0) -> int:
    """Seed of the reference draws: ``SeedSequence([study_seed, CALIBRATION, 101])``."""
    ss = seeds.sequence(int(study_seed), seeds.CALIBRATION, PPC_STREAM)
    return int(ss.generate_state(1)[0] % 2**31)


class GridGaussian:
    """The emulator's Gaussian likelihood on a grid of cell centres, factorised once.

    Parameters
    ----------
    em : scattermorph.infer.posterior.ScatteringEmulator
    n_grid : int
        Cells per parameter over the emulator's box (the prior).
    extra_cov : ndarray, shape (k, k), optional
        Added to the feature noise: the scores of a curve covering part of
        the feature window (:meth:`scattermorph.infer.posterior.ScatteringEmulator.covered_scores`).

    Attributes
    ----------
    theta : ndarray, shape (m, 3)
        The cell centres, m = n_grid^3.
    mean : ndarray, shape (m, k)
        Emulated component means.
    inv_chol : ndarray, shape (m, k, k)
        Inverse Cholesky factor of ``diag v + N`` in each cell.
    logdet : ndarray, shape (m,)
    """

    def __init__(self, em, n_grid=PPC_GRID, extra_cov=None):
        axes = grid_axes(em.lo, em.hi, n_grid)
        self.theta = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        self.mean, var = em.predict(self.theta)
        k = self.mean.shape[1]
        noise = np.asarray(em.noise_cov, float) + (0.0 if extra_cov is None else np.asarray(extra_cov, float))
        L = np.linalg.cholesky(noise[None] + var[:, :, None] * np.eye(k)[None])
        self.inv_chol = np.linalg.inv(L)
        self.logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        self.k = k

    def discrepancy(self, z) -> np.ndarray:
        """chi^2 of the standardised residuals of component scores in every cell.

        Parameters
        ----------
        z : array_like, shape (k,) or (r, k)

        Returns
        -------
        ndarray, shape (m,) or (r, m)
        """
        z = np.asarray(z, float)
        r = z[..., None, :] - self.mean  # (..., m, k)
        a = np.einsum("mij,...mj->...mi", self.inv_chol, r)
        return np.sum(a ** 2, axis=-1)

    def gms_p_value(self, z):
        """Posterior predictive p-value of Gelman, Meng & Stern (1996), exact on the grid.

        Returns
        -------
        p : float or ndarray, shape () or (r,)
            ``sum_cells w chi2_k.sf(D)`` with w the grid posterior of z.
        d_mode : float or ndarray
            The discrepancy at the posterior mode (the best fit's chi^2).
        """
        D = self.discrepancy(z)
        ll = -0.5 * (D + self.logdet)
        w = np.exp(ll - ll.max(axis=-1, keepdims=True))
        w /= w.sum(axis=-1, keepdims=True)
        p = np.sum(w * chi2.sf(D, self.k), axis=-1)
        d_mode = np.take_along_axis(D, np.argmax(ll, axis=-1)[..., None], axis=-1)[..., 0]
        return p, d_mode


def ppc_reference(em, *, n_draws=PPC_DRAWS, n_grid=PPC_GRID, seed=0, chunk=25) -> np.ndarray:
    """Reference distribution of the GMS p-value under the emulator's prior predictive.

    theta uniform over the box, z ~ N(mu(theta), diag v(theta) + N): the
    curves the emulator says a simulation of the study gives.

    Parameters
    ----------
    em : scattermorph.infer.posterior.ScatteringEmulator
    n_draws : int
    n_grid : int
        Cells per parameter of the check's grid (:data:`PPC_GRID`).
    seed : int
        Seed of the draws (:func:`reference_seed`).

    Returns
    -------
    ndarray, shape (n_draws,)
        The p_GMS of every draw, sorted.
    """
    if int(n_draws) < 20:
        raise ParameterError(f"{n_draws} reference draws: give at least 20 (1000 by default)")
    rng = np.random.default_rng(seed)
    theta = em.lo + rng.random((int(n_draws), 3)) * (em.hi - em.lo)
    mean, var = em.predict(theta)
    k = mean.shape[1]
    L = np.linalg.cholesky(np.asarray(em.noise_cov, float)[None] + var[:, :, None] * np.eye(k)[None])
    z = mean + np.einsum("dij,dj->di", L, rng.standard_normal(mean.shape))
    grid = GridGaussian(em, n_grid)
    p = np.concatenate([grid.gms_p_value(z[i:i + chunk])[0] for i in range(0, z.shape[0], chunk)])
    return np.sort(p)


def posterior_predictive_check(grid: GridGaussian, z, reference, *, threshold=PPC_THRESHOLD) -> dict:
    """The calibrated posterior predictive check of one curve's component scores.

    Parameters
    ----------
    grid : GridGaussian
    z : array_like, shape (k,)
    reference : array_like, shape (M,)
        :func:`ppc_reference` of the same emulator and grid.
    threshold : float
        The curve fails below this calibrated p-value.

    Returns
    -------
    dict (JSON-able)
        ``p_value`` (calibrated), ``p_gms`` (uncalibrated), ``chi2_mode`` and
        ``dof`` (the best fit's chi^2 over k components), ``n_reference``,
        ``threshold``, ``passed``, ``method``.
    """
    ref = np.sort(np.asarray(reference, float))
    if ref.ndim != 1 or ref.size < 20:
        raise ParameterError("the check's reference distribution needs at least 20 draws")
    p_gms, d_mode = grid.gms_p_value(np.asarray(z, float))
    p = (1 + np.searchsorted(ref, p_gms, side="right")) / (ref.size + 1)
    return {"p_value": float(min(p, 1.0)), "p_gms": float(p_gms), "chi2_mode": float(d_mode), "dof": int(grid.k),
            "n_reference": int(ref.size), "threshold": float(threshold), "passed": bool(p >= threshold),
            "method": "posterior predictive p-value (Gelman, Meng & Stern 1996) of the components' chi^2, "
                      "calibrated on the emulator's prior predictive (Hjort, Dahl & Steinbakk 2006)"}


def edge_masses(post, band=EDGE_BAND) -> dict:
    """Posterior mass in the lower and upper ``band`` of each parameter's prior range.

    Parameters
    ----------
    post : dict
        :func:`scattermorph.infer.posterior.grid_posterior`.
    band : float
        Fraction of the range, in (0, 0.5).

    Returns
    -------
    dict
        ``{param: {"lower": mass, "upper": mass}}`` (piecewise-constant
        density within a cell); a parameter with one value in the box
        (fixed) is left out.
    """
    if not 0 < band < 0.5:
        raise ParameterError(f"edge band {band!r}: give a fraction of the prior range in (0, 0.5), e.g. 0.05")
    w = post["weights"]
    out = {}
    for j, name in enumerate(PARAMS):
        lo, hi = float(post["lo"][j]), float(post["hi"][j])
        if hi <= lo:
            continue
        mass = w.sum(axis=tuple(i for i in range(3) if i != j))
        out[name] = {"lower": cell_cdf(mass, lo, hi, lo + band * (hi - lo)),
                     "upper": 1.0 - cell_cdf(mass, lo, hi, hi - band * (hi - lo))}
    return out


def edge_warnings(post, *, band=EDGE_BAND, threshold=EDGE_MASS) -> tuple[dict, list[str]]:
    """The parameters whose posterior piles up at an edge of the prior box.

    Returns
    -------
    masses : dict
        :func:`edge_masses`, each with ``warned`` (the edge named, or None).
    warnings : list of str
        One line per warned parameter, naming it, the edge and the mass.
    """
    masses = edge_masses(post, band)
    lines = []
    for j, name in enumerate(PARAMS):
        if name not in masses:
            continue
        m = masses[name]
        side = max(("lower", "upper"), key=lambda s: m[s])
        m["warned"] = side if m[side] > threshold else None
        if m["warned"]:
            edge = float(post["lo"][j] if side == "lower" else post["hi"][j])
            lines.append(f"{PARAM_LABELS[name]}: {100 * m[side]:.0f} % of the posterior lies in the {side} "
                         f"{100 * band:.0f} % of the prior range (edge {edge:.4g}): the best-fitting simulations "
                         "are at or beyond the edge of the study's box, so the interval is set by the prior, "
                         "not by the data")
    return masses, lines
