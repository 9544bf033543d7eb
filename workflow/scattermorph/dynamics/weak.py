"""Weak-form SINDy for ``d_t phi`` on a periodic box.

The equation ``d_t phi = sum_j c_j Theta_j[phi]`` is tested against
``v(x, t) = exp(-i k.x) psi_w(t)`` with a smooth bump ``psi_w`` compactly
supported on a time window ``w`` (Messenger & Bortz, J. Comput. Phys. 443,
110525 (2021), who take products of compactly supported bumps in space and
time). Integrating by parts moves every derivative onto the test function:

.. math::

    -\\int \\psi_w'(t) \\hat\\phi_k(t) dt
        = \\sum_j c_j \\int \\psi_w(t) L_j(k) \\hat g_{j,k}(t) dt,

with ``L = -k^2`` for a ``lap g`` term and ``L = k^4`` (``g = phi``) for
``lap^2 phi``. No derivative of the data is taken, neither in time (it falls on
``psi_w'``) nor in space.

Why Fourier modes instead of compact bumps in space: on a periodic box there
are no boundary terms, the Fourier modes span the same test space as smooth
periodic bumps, and they diagonalise the derivatives, so the integration by
parts is exact (a spectral symbol, not a quadrature of a bump's derivatives)
and one FFT per term and snapshot tests every mode at once. Messenger & Bortz
choose the width of their bumps from the data's spectrum so that the test
functions see the scales where the signal rises above the noise; keeping the
modes ``|k| <= k_max`` is that choice made directly. The project's solver is
itself Fourier-spectral, so the projections are consistent with how the data
were made. The one exception is the de Gennes term, whose inner ``lap psi``
multiplies ``psi'(phi)`` and cannot be moved: it is taken spectrally from
the data.

Rows are divided by ``k^2``, so that every mode weighs as the residual of its
chemical potential (otherwise the ``k^4`` term would let the shortest
scales dominate). The time integrals are trapezoidal sums over the
snapshots; ``psi_w = (1 - s^2)^p`` vanishes with its first ``p - 1``
derivatives at the ends of its window, so the sum converges fast
(Euler-Maclaurin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft

from scattermorph.dynamics.regression import block_bootstrap, stlsq
from scattermorph.errors import ParameterError
from scattermorph.fft import rfft_wavevectors

__all__ = ["WeakSystem", "Fit", "weak_system", "fit_weak", "term_spectra", "check_series"]


@dataclass
class WeakSystem:
    """The linear system of a weak-form fit.

    Attributes
    ----------
    theta : (R, J) ndarray
        One column per term, one row per (window, mode, real/imaginary part).
    b : (R,) ndarray
        The tested time derivative.
    blocks : (R,) ndarray of int
        Time window of each row (the bootstrap's blocks).
    """

    theta: np.ndarray
    b: np.ndarray
    blocks: np.ndarray


@dataclass
class Fit:
    """A discovered equation ``d_t phi = sum_j coef_j terms_j``.

    Attributes
    ----------
    terms : tuple
        The library (:class:`~scattermorph.dynamics.library.Term` or strong-form names).
    coef : (J,) ndarray
        Coefficients (0 for dropped terms).
    boot : (B, J) ndarray
        Block-bootstrap refits (empty when not computed).
    method : str
        ``"weak"`` or ``"strong"``.
    """

    terms: tuple
    coef: np.ndarray
    boot: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    method: str = "weak"

    @property
    def names(self) -> list[str]:
        """Printed name of each term."""
        return [getattr(t, "name", t) for t in self.terms]

    @property
    def std(self) -> np.ndarray:
        """Bootstrap standard deviation of each coefficient (NaN without bootstrap)."""
        if self.boot.size == 0:
            return np.full(self.coef.shape, np.nan)
        return self.boot.std(axis=0, ddof=1)


def check_series(phi, times, dx):
    """Checked ``(phi, times, dx)``: a stack of >= 3 fields at increasing times."""
    phi = np.asarray(phi, dtype=float)
    times = np.asarray(times, dtype=float)
    if phi.ndim not in (3, 4):
        raise ParameterError(f"phi has shape {phi.shape}: need (T, M, N) or (T, M, N, P)")
    if times.shape != (phi.shape[0],) or phi.shape[0] < 3:
        raise ParameterError(
            f"times has shape {times.shape} for {phi.shape[0]} snapshots: need one time per "
            "snapshot and >= 3 snapshots"
        )
    if np.any(np.diff(times) <= 0):
        raise ParameterError("times must increase strictly")
    if not np.all(np.isfinite(phi)):
        raise ParameterError("phi holds NaN or inf")
    if not (np.isfinite(dx) and dx > 0):
        raise ParameterError(f"dx={dx!r} must be > 0")
    return phi, times, float(dx)


def _k2(shape, dx):
    return sum(k**2 for k in rfft_wavevectors(shape, dx))


def term_spectra(phi, dx, terms, modes):
    """``L_j(k) FFT(g_j)`` of every term at the selected modes.

    Parameters
    ----------
    phi : (T, M, N[, P]) ndarray
    dx : float
    terms : tuple of Term
    modes : ndarray of bool, half-complex shape
        The tested modes.

    Returns
    -------
    spectra : (T, K, J) complex ndarray
        The symbol times the transform of each term.
    phihat : (T, K) complex ndarray
        The field's transform at the modes.
    """
    axes = tuple(range(1, phi.ndim))
    k2 = _k2(phi.shape[1:], dx)
    phihat_full = sfft.rfftn(phi, axes=axes)
    out = np.empty((phi.shape[0], int(modes.sum()), len(terms)), dtype=complex)
    for j, t in enumerate(terms):
        if t.kind == "bilap":
            out[:, :, j] = (k2**2)[modes] * phihat_full[:, modes]
            continue
        if t.kind == "degennes":
            if phi.min() <= 0 or phi.max() >= 1:
                raise ParameterError("the de Gennes term needs 0 < phi < 1 in every cell")
            psi = np.arcsin(2 * phi - 1) / 6.0
            lap_psi = sfft.irfftn(-k2 * sfft.rfftn(psi, axes=axes), s=phi.shape[1:], axes=axes)
            g = lap_psi / (6.0 * np.sqrt(phi * (1 - phi)))
        else:
            if t.log and (phi.min() <= 0 or phi.max() >= 1):
                raise ParameterError(
                    f"the term {t.name} needs 0 < phi < 1 in every cell; the data span "
                    f"[{phi.min():.4g}, {phi.max():.4g}]: drop it (log=False)"
                )
            g = t.g(phi)
        out[:, :, j] = -k2[modes] * sfft.rfftn(g, axes=axes)[:, modes]
    return out, phihat_full[:, modes]


def _bumps(times, window: int, stride: int, power: int):
    """Test functions in time: ``(W, T)`` values of psi_w and psi_w' times the trapezoid weights."""
    T = times.size
    if window < 5 or window > T:
        raise ParameterError(f"window={window} snapshots must be >= 5 and <= the {T} snapshots")
    w_trap = np.zeros(T)
    dt = np.diff(times)
    w_trap[:-1] += dt / 2
    w_trap[1:] += dt / 2
    starts = range(0, T - window + 1, max(1, stride))
    psi, dpsi = [], []
    for a in starts:
        ta, tb = times[a], times[a + window - 1]
        c, h = (ta + tb) / 2, (tb - ta) / 2
        s = np.clip((times - c) / h, -1, 1)
        inside = (times >= ta) & (times <= tb)
        psi.append(np.where(inside, (1 - s**2) ** power, 0.0) * w_trap)
        dpsi.append(np.where(inside, -2 * power * s * (1 - s**2) ** (power - 1) / h, 0.0) * w_trap)
    return np.array(psi), np.array(dpsi)


def weak_system(phi, times, dx, terms, *, window: int = 21, stride: int | None = None,
                k_max: float = 0.5, power: int = 4) -> WeakSystem:
    """Assemble the weak-form system (module docstring).

    Parameters
    ----------
    phi : (T, M, N[, P]) ndarray
        Field at ``times`` on a periodic grid of cell ``dx``.
    times : (T,) ndarray
    dx : float
    terms : tuple of Term
        The library (:func:`~scattermorph.dynamics.library.conservative_library`).
    window : int
        Snapshots in the support of each time bump (>= 5).
    stride : int, optional
        Snapshots between the starts of successive windows (default
        ``window - 1``: windows touch at the ends, where the bumps vanish,
        so they share no information and are the bootstrap's blocks).
    k_max : float
        Largest tested ``|k|`` as a fraction of the Nyquist wavenumber ``pi / dx``.
    power : int
        ``p`` of the bump ``(1 - s^2)^p``, >= 2.

    Returns
    -------
    WeakSystem
    """
    phi, times, dx = check_series(phi, times, dx)
    if not 0 < k_max <= 1:
        raise ParameterError(f"k_max={k_max!r} must be in (0, 1] (a fraction of pi/dx)")
    if int(power) < 2:
        raise ParameterError(f"power={power!r} must be >= 2 (the bump's derivative must vanish)")
    k2 = _k2(phi.shape[1:], dx)
    modes = (k2 > 0) & (k2 <= (k_max * np.pi / dx) ** 2)
    spectra, phihat = term_spectra(phi, dx, terms, modes)
    psi, dpsi = _bumps(times, int(window), window - 1 if stride is None else int(stride), int(power))
    scale = 1.0 / k2[modes]
    lhs = -(dpsi @ phihat) * scale                          # (W, K)
    rhs = np.einsum("wt,tkj->wkj", psi, spectra) * scale[:, None]
    W, K = lhs.shape
    theta = np.concatenate([rhs.real, rhs.imag], axis=1).reshape(2 * W * K, len(terms))
    b = np.concatenate([lhs.real, lhs.imag], axis=1).reshape(-1)
    blocks = np.repeat(np.arange(W), 2 * K)
    return WeakSystem(theta, b, blocks)


def fit_weak(phi, times, dx, terms, *, threshold: float = 0.01, n_boot: int = 0,
             rng: np.random.Generator | None = None, **system) -> Fit:
    """Discover ``d_t phi`` in the conservative library by weak-form SINDy.

    Parameters
    ----------
    phi, times, dx, terms
        As :func:`weak_system`.
    threshold : float
        STLSQ threshold (:func:`~scattermorph.dynamics.regression.stlsq`).
    n_boot : int
        Block-bootstrap resamples over time windows (0: none).
    rng : numpy.random.Generator
        Needed when ``n_boot > 0``.
    **system
        ``window``, ``stride``, ``k_max``, ``power`` of :func:`weak_system`.

    Returns
    -------
    Fit
    """
    sys_ = weak_system(phi, times, dx, terms, **system)
    coef = stlsq(sys_.theta, sys_.b, threshold=threshold)
    boot = np.empty((0, 0))
    if n_boot:
        if rng is None:
            raise ParameterError("n_boot > 0 needs a numpy.random.Generator (rng=)")
        boot = block_bootstrap(sys_.theta, sys_.b, sys_.blocks, rng=rng, n_boot=n_boot,
                               threshold=threshold)
    return Fit(tuple(terms), coef, boot, "weak")
