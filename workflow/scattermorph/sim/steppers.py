"""Time steppers for the Cahn-Hilliard-Cook equation on periodic grids.

Two schemes, both for 2D and 3D periodic boxes:

* :class:`SemiImplicitSpectral`: linearly stabilised semi-implicit Fourier
  spectral scheme (Chen & Shen 1998; Zhu, Chen, Shen & Tikare 1999; Shen & Yang
  2010). One step is

  .. math::

      \\hat\\phi^{n+1} = \\hat\\phi^n - \\frac{\\Delta t\\, K^2}{1 + \\Delta t K^2
      (S + 2 \\kappa_s K^2)} \\hat\\mu^n + \\text{noise},

  where ``mu^n`` is the full chemical potential of the current state, ``K^2``
  the symbol of the Laplacian and ``S``, ``kappa_s`` stabilisation constants.
  For a frozen gradient coefficient (``kappa_s = kappa0``) this is the classic
  scheme with the fourth-order term implicit; the ``S`` term damps the stiff
  bulk part. Per step it needs one forward and one inverse real FFT
  (two of each for the de Gennes gradient term), plus two fused pointwise
  passes compiled with numba. ``selective=theta > 0`` weights the stabiliser
  of each mode by ``z / (z + theta)``, ``z = dt K^2 L``: whole at the stiff
  small scales, vanishing at the domain scale (the study's scheme, with
  :meth:`~scattermorph.sim.free_energy.FreeEnergy.bulk_stiffness` setting the
  step and :class:`~scattermorph.sim.control.StepController` taking back
  steps that leave :func:`~scattermorph.sim.control.admissible_range`).
* :class:`ExplicitEuler`: forward Euler in time, second-order central finite
  differences in space (5-point / 7-point Laplacian), the scheme of the original
  authors' code; kept as the validation reference and benchmark baseline.

With ``laplacian="fd"`` the spectral scheme uses the finite-difference symbol
``K^2 = sum_j (2 sin(k_j dx / 2) / dx)^2``, i.e. exactly the spatial
discretisation of :class:`ExplicitEuler`, so the two converge to the same
solution as ``dt -> 0``. The default ``laplacian="spectral"`` uses ``K^2 = k^2``.

Noise: the conserved Cook noise ``zeta = div xi`` with white ``xi`` of variance
``2 epsilon / (dt dx^d)`` per cell and component. In Fourier space this equals
``|K| w_hat`` with ``w`` scalar white noise of the same variance, drawn directly
in the half-complex layout with Hermitian symmetry (no extra FFT), inside the
update pass, by a counter-based generator (:mod:`scattermorph.sim.noise`:
ziggurat normals of a keyed SplitMix64 hash of the number's index) whose
128-bit key each step draws from the ``numpy.random.Generator`` it is given:
the seeding stays ``SeedSequence``-based and the numbers do not depend on the
thread count. The pointwise passes run on fixed chunks
(:mod:`scattermorph.sim.parallel`). The step control and the driver that
records snapshots are in :mod:`scattermorph.sim.control`. The explicit
scheme draws ``xi`` on cell faces and takes its finite-difference divergence,
whose spectrum is ``K^2_fd`` times the variance: the same statistics.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from scattermorph.errors import ParameterError, SimulationError
from scattermorph.fft import FFTPair, rfft_mode_weights, rfft_shape, rfft_wavevectors
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau
from scattermorph.sim.noise import fill_noise, lead_sides, noise_row
from scattermorph.sim.parallel import CHUNK, CHUNK_MODES, n_chunks, rows_per_chunk, run_chunks

__all__ = [
    "Grid",
    "SemiImplicitSpectral",
    "ExplicitEuler",
    "initial_condition",
    "free_energy",
    "explicit_dt_limit",
    "check_explicit_dt",
    "check_dt",
]



# --------------------------------------------------------------------------
# grid
# --------------------------------------------------------------------------
class Grid:
    """Periodic grid of ``shape`` cells of side ``dx`` (units of b).

    Parameters
    ----------
    shape : tuple of int
        ``(n, n)`` or ``(n, n, n)``-like; every side even and >= 8.
    dx : float
        Cell size, > 0.
    """

    def __init__(self, shape, dx: float):
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if len(shape) not in (2, 3):
            raise ParameterError(f"grid shape={shape}: only 2D and 3D grids are supported")
        for s in shape:
            if s < 8 or s % 2:
                raise ParameterError(
                    f"grid shape={shape}: every side must be an even number >= 8 "
                    "(even sides keep the Nyquist mode real)"
                )
        if not (np.isfinite(dx) and dx > 0):
            raise ParameterError(f"dx={dx!r} must be a positive number of segment lengths")
        self.shape = shape
        self.dx = float(dx)
        self.ndim = len(shape)
        self.size = int(np.prod(shape))
        self.cell_volume = self.dx**self.ndim

    def wavevectors(self):
        """Wavevector components broadcastable to the half-complex layout."""
        return rfft_wavevectors(self.shape, self.dx)

    def k2(self, laplacian: str = "spectral") -> np.ndarray:
        """Symbol of ``-Laplacian`` on the half-complex layout, units b^-2."""
        out = np.zeros(rfft_shape(self.shape))
        for k in self.wavevectors():
            if laplacian == "spectral":
                out = out + k**2
            elif laplacian == "fd":
                out = out + (2.0 * np.sin(k * self.dx / 2.0) / self.dx) ** 2
            else:
                raise ParameterError(f"laplacian={laplacian!r}: choose 'spectral' or 'fd'")
        return out


# --------------------------------------------------------------------------
# pointwise kernels (numba, nogil), run on fixed chunks (scattermorph.sim.parallel)
# --------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _k_mu_fh(phi, out, inv_n, chi, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * CHUNK, min(c1 * CHUNK, p.size)):
        x = p[i]
        o[i] = math.log(x / (1.0 - x)) * inv_n + chi * (1.0 - 2.0 * x)


@numba.njit(cache=True, nogil=True)
def _k_mu_landau(phi, out, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * CHUNK, min(c1 * CHUNK, p.size)):
        s = 2.0 * p[i] - 1.0
        o[i] = 0.5 * (s * s * s - s)


@numba.njit(cache=True, nogil=True)
def _k_psi(phi, out, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * CHUNK, min(c1 * CHUNK, p.size)):
        o[i] = math.asin(2.0 * p[i] - 1.0) / 6.0


@numba.njit(cache=True, nogil=True)
def _k_mu_fh_degennes(phi, lap_psi, out, inv_n, chi, c0, c1):  # pragma: no cover
    p = phi.reshape(-1)
    lp = lap_psi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * CHUNK, min(c1 * CHUNK, p.size)):
        x = p[i]
        y = 1.0 - x
        o[i] = (
            math.log(x / y) * inv_n
            + chi * (1.0 - 2.0 * x)
            - lp[i] / (3.0 * math.sqrt(x * y))
        )


@numba.njit(cache=True, nogil=True)
def _k_scale_mul(src, factor, out, c0, c1):  # pragma: no cover - compiled
    s = src.reshape(-1)
    f = factor.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * CHUNK, min(c1 * CHUNK, s.size)):
        o[i] = s[i] * f[i]


def _mu_fh(phi, out, inv_n, chi, threads=1):
    """out <- f'(phi) of the Flory-Huggins blend (in place allowed)."""
    run_chunks(_k_mu_fh, n_chunks(phi.size), threads, phi.size, phi, out, inv_n, chi)


def _mu_landau(phi, out, threads=1):
    """out <- f'(phi) of the Landau model (in place allowed)."""
    run_chunks(_k_mu_landau, n_chunks(phi.size), threads, phi.size, phi, out)


def _psi(phi, out, threads=1):
    """out <- psi(phi) = asin(2 phi - 1) / 6."""
    run_chunks(_k_psi, n_chunks(phi.size), threads, phi.size, phi, out)


def _mu_fh_degennes(phi, lap_psi, out, inv_n, chi, threads=1):
    """mu = f'(phi) - 2 psi'(phi) lap(psi), psi' = 1/(6 sqrt(phi(1-phi)))."""
    run_chunks(_k_mu_fh_degennes, n_chunks(phi.size), threads, phi.size, phi, lap_psi, out,
         inv_n, chi)


def _scale_mul(src, factor, out, threads=1):
    """out <- src * factor (complex * real), used for lap(psi)."""
    run_chunks(_k_scale_mul, n_chunks(src.size), threads, src.size, src, factor, out)


@numba.njit(cache=True, nogil=True)
def _k_update(phihat, phihat_prev, muhat, muhat_prev, k2, kabs, weight, g2, dt, a0, a1, a2,
              om, S, kap_s, use_noise, k1, k2key, n0, n1, cnoise, inv_size, out_scaled,
              err_part, norm_part, theta, pp_out, mp_out, track, nu, nu_out, kc2, s_b, k_b,
              c0, c1):  # pragma: no cover - compiled
    m = phihat.shape[-1]
    ph = phihat.reshape(-1)
    pp = phihat_prev.reshape(-1)
    mh = muhat.reshape(-1)
    mp = muhat_prev.reshape(-1)
    ppo = pp_out.reshape(-1)  # the history's new values: pp / mp themselves (in place) or
    mpo = mp_out.reshape(-1)  # spare buffers, so that the step can be taken back
    kk = k2.reshape(-1)
    ka = kabs.reshape(-1)
    wv = weight.reshape(-1)
    os_ = out_scaled.reshape(-1)
    # with track: the noise content of the last two states, x_n = nu[0] and
    # x_{n-1} = nu[1] (written to nu_out: in place or to a spare, see pp_out)
    xn_i = nu[0].reshape(-1)
    xp_i = nu[1].reshape(-1)
    xn_o = nu_out[0].reshape(-1)
    xp_o = nu_out[1].reshape(-1)
    # and the last step's estimate per mode, r_{n-1} = nu[2]
    rp_i = nu[2].reshape(-1)
    rp_o = nu_out[2].reshape(-1)
    rows = ph.size // m
    rpc = max(1, CHUNK_MODES // m)
    e1 = 1.0 + om
    buf = np.zeros(m, dtype=np.complex128)
    for c in range(c0, c1):
        err2 = 0.0
        norm2 = 0.0
        for r in range(c * rpc, min((c + 1) * rpc, rows)):
            if use_noise:
                noise_row(k1, k2key, r, n0, n1, m, buf)
            base = r * m
            for j in range(m):
                i = base + j
                K2 = kk[i]
                # complex arithmetic written out in real parts: complex x real
                # products would otherwise be full complex multiplications
                p0r, p0i = ph[i].real, ph[i].imag
                qr, qi = pp[i].real, pp[i].imag
                gk = g2 * K2
                mur = mh[i].real + gk * p0r
                mui = mh[i].imag + gk * p0i
                lam = K2 * (S + 2.0 * kap_s * K2)
                if theta > 0.0:  # scale-selective: lam z / (z + theta), z = dt lam
                    lam = lam * (dt * lam) / (dt * lam + theta)
                psr = e1 * p0r - om * qr
                psi_ = e1 * p0i - om * qi
                msr = e1 * mur - om * mp[i].real
                msi = e1 * mui - om * mp[i].imag
                inv_den = 1.0 / (a0 + dt * lam)
                dk = dt * K2
                dl = dt * lam
                vr = a1 * p0r - a2 * qr - dk * msr + dl * psr
                vi = a1 * p0i - a2 * qi - dk * msi + dl * psi_
                nzr = 0.0
                nzi = 0.0
                if use_noise:
                    cn = cnoise * ka[i]
                    nzr = cn * buf[j].real
                    nzi = cn * buf[j].imag
                    vr += nzr
                    vi += nzi
                vr *= inv_den
                vi *= inv_den
                ppo[i] = complex(p0r, p0i)
                mpo[i] = complex(mur, mui)
                ph[i] = complex(vr, vi)
                os_[i] = complex(vr * inv_size, vi * inv_size)
                if 0.0 < K2 <= kc2:  # H^-1 norm: weight 1 / K^2 (see _update)
                    dr = vr - psr
                    di = vi - psi_
                    if track:  # take out the noise content x: see _update
                        xr, xi = xn_i[i].real, xn_i[i].imag
                        xqr, xqi = xp_i[i].real, xp_i[i].imag
                        xsr = e1 * xr - om * xqr
                        xsi = e1 * xi - om * xqi
                        lin = dk * (s_b + 2.0 * k_b * K2) - dl
                        x1r = (a1 * xr - a2 * xqr - lin * xsr + nzr) * inv_den
                        x1i = (a1 * xi - a2 * xqi - lin * xsi + nzi) * inv_den
                        dr -= x1r - xsr
                        di -= x1i - xsi
                        xp_o[i] = complex(xr, xi)
                        xn_o[i] = complex(x1r, x1i)
                        rr, ri = rp_i[i].real, rp_i[i].imag
                        rp_o[i] = complex(dr, di)
                        # lag-one product: what is left of the noise is
                        # independent from step to step and averages out
                        dr, di = dr * rr + di * ri, 0.0
                        wk = wv[i] / K2
                        err2 += wk * om * om * dr
                        norm2 += wk * (vr * vr + vi * vi)
                        continue
                    wk = wv[i] / K2
                    err2 += wk * (dr * dr + di * di)
                    norm2 += wk * (vr * vr + vi * vi)
        err_part[c] = err2
        norm_part[c] = norm2


#: the local-error estimate covers the modes |K| <= ERROR_CUTOFF k_m (k_m the
#: fastest-growing wavenumber of the linear theory): the domain scale, where
#: the study's observables live and the Cook noise is weakest (conserved
#: noise ~ |K|). Over the default sweep (2D 64^2 stand-in, tolerance 2.5e-4)
#: the noisy runs took about 11,000 steps at 0.7 against 16,000 at 1.0 and
#: far more with every mode; without noise 8,200 and 9,500 (docs/model.md)
ERROR_CUTOFF = 0.7

#: key word passed to the update kernel of a step without noise (unused there)
_NO_KEY = np.uint64(0)
#: noise record passed to the update kernel when it does not track the noise
_NO_TRACK = np.zeros((3, 1), dtype=np.complex128)


def _update(phihat, phihat_prev, muhat, muhat_prev, k2, kabs, weight, g2, dt, a0, a1, a2, om,
            S, kap_s, noise_key, cnoise, inv_size, out_scaled, threads=1, theta=0.0,
            phihat_prev_out=None, muhat_prev_out=None, noise_last=None, noise_last_out=None,
            kc2=math.inf, bulk=(0.0, 0.0)):
    """One IMEX step in Fourier space, first order (om = 0, a0 = a1 = 1,
    a2 = 0) or variable-step second order (BDF2 with extrapolation).

    a0 phi' - a1 phi + a2 phi_- = -dt K^2 [mu* + L (phi' - phi*)] + dt zeta,
    L = S + 2 kap_s K^2, * = extrapolation (1 + om) x - om x_-; mu is the full
    chemical potential, muhat + g2 K^2 phihat (g2 = 2 kappa0 when the gradient
    term is linear). With ``theta > 0`` the stabiliser is scale-selective:
    ``L -> L z / (z + theta)`` with ``z = dt K^2 L``, full where the explicit
    terms would be stiff (z >> theta), vanishing as z^2 / theta at the domain
    scale. ``dt zeta = cnoise |K| w`` with ``w`` the unit Hermitian
    white noise of the key ``noise_key`` (two uint64; empty: no noise), drawn
    here row by row (:func:`fill_noise` draws the same numbers into an
    array). Also shifts the history and writes phi' / size.

    Returns ``(sum |phi' - phi*|^2 / K^2, sum |phi'|^2 / K^2)`` over the
    modes 0 < K^2 <= ``kc2`` (full-spectrum weights), summed per chunk and
    the chunks in order: the predictor-corrector difference in the H^-1
    norm, whose relative size estimates the local error of the step. H^-1 is
    the metric of the Cahn-Hilliard gradient flow, and it weights the
    structure at the domain scale above the Cook noise (conserved noise ~ |K|
    w). With ``noise_last`` (shape ``(3,) + phihat.shape``: each mode's noise
    content x_n and x_{n-1}, and its last difference r_{n-1}; written anew to
    ``noise_last_out``, default in place) the noise is taken out: x follows
    the noise through the scheme's linear part at the coexisting phases
    (``bulk = (f''_b, kappa_b)``: the BDF2 history, the stabiliser and the
    linearised chemical potential), the difference is that of phi - x, and
    the first sum is then ``om^2 sum r_n r_{n-1} / K^2``, the lag-one product
    of successive differences, in which what is left of the noise averages
    out (it may be negative: no error above the noise). Without that the
    noise of the study's runs decides the steps (docs/model.md: 276,376
    steps over the 2D stand-in of the default sweep against 7,286 without
    noise).
    """
    m = phihat.shape[-1]
    rows = phihat.size // m
    nch = max(1, -(-rows // rows_per_chunk(m)))
    err_part = np.zeros(nch)
    norm_part = np.zeros(nch)
    n0, n1 = lead_sides(phihat.shape)
    use_noise = len(noise_key) == 2
    k1, k2key = (noise_key[0], noise_key[1]) if use_noise else (_NO_KEY, _NO_KEY)
    track = noise_last is not None
    if not track:
        noise_last = _NO_TRACK
    if noise_last_out is None:
        noise_last_out = noise_last
    run_chunks(_k_update, nch, threads, phihat.size, phihat, phihat_prev, muhat, muhat_prev, k2,
         kabs, weight, g2, dt, a0, a1, a2, om, S, kap_s, use_noise, k1, k2key, n0, n1,
         cnoise, inv_size, out_scaled, err_part, norm_part, float(theta),
         phihat_prev if phihat_prev_out is None else phihat_prev_out,
         muhat_prev if muhat_prev_out is None else muhat_prev_out, track, noise_last,
         noise_last_out, float(kc2), float(bulk[0]), float(bulk[1]))
    err2 = 0.0
    norm2 = 0.0
    for c in range(nch):  # fixed order: independent of the thread count
        err2 += float(err_part[c])
        norm2 += float(norm_part[c])
    return err2, norm2


@numba.njit(cache=True, nogil=True)
def _k_first_moment(phihat, kabs, weight, num_part, den_part, c0, c1):  # pragma: no cover
    ph = phihat.reshape(-1)
    ka = kabs.reshape(-1)
    w = weight.reshape(-1)
    for c in range(c0, c1):
        num = 0.0
        den = 0.0
        for i in range(max(1, c * CHUNK), min((c + 1) * CHUNK, ph.size)):
            p = ph[i].real * ph[i].real + ph[i].imag * ph[i].imag
            num += w[i] * ka[i] * p
            den += w[i] * p
        num_part[c] = num
        den_part[c] = den


@numba.njit(cache=True, nogil=True)
def _k_pc_error(phi, hist1, hist2, out, om, part, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    h1 = hist1.reshape(-1)
    h2 = hist2.reshape(-1)
    o = out.reshape(-1)
    e1 = 1.0 + om
    check = om >= 0.0
    for c in range(c0, c1):
        err = 0.0
        lo = np.inf
        hi = -np.inf
        bad = 0.0
        for i in range(c * CHUNK, min((c + 1) * CHUNK, p.size)):
            x = p[i]
            o[i] = x
            if x != x:  # NaN: the step failed
                bad = 1.0
            if x < lo:
                lo = x
            if x > hi:
                hi = x
            if check:
                d = abs(x - e1 * h1[i] + om * h2[i])
                if d > err:
                    err = d
        part[c, 0] = err
        part[c, 1] = lo
        part[c, 2] = hi
        part[c, 3] = bad


def _pc_error(phi, hist1, hist2, out, om, threads=1):
    """Real-space check of a second-order step: returns ``(max |phi' - phi*|,
    min phi', max phi')`` with ``phi* = (1 + om) hist1 - om hist2`` the linear
    extrapolation of the last two accepted states (om = dt / dt_prev; with
    ``om < 0`` only the extremes: no history yet), ``(inf, nan, nan)`` if the
    field holds NaN; copies ``phi`` into ``out`` on the way (the next history
    buffer). Extremes per chunk: the result does not depend on ``threads``."""
    nch = n_chunks(phi.size)
    part = np.empty((nch, 4))
    run_chunks(_k_pc_error, nch, threads, phi.size, phi, hist1, hist2, out, om, part)
    if part[:, 3].any():
        return math.inf, math.nan, math.nan
    return float(part[:, 0].max()), float(part[:, 1].min()), float(part[:, 2].max())


def _first_moment(phihat, kabs, weight, threads=1):
    """<k> = sum w k |phihat|^2 / sum w |phihat|^2 over k != 0 (sums per
    chunk, added in chunk order)."""
    nch = n_chunks(phihat.size)
    num_part = np.zeros(nch)
    den_part = np.zeros(nch)
    run_chunks(_k_first_moment, nch, threads, phihat.size, phihat, kabs, weight, num_part, den_part)
    num = 0.0
    den = 0.0
    for c in range(nch):
        num += float(num_part[c])
        den += float(den_part[c])
    if den <= 0.0:
        return 0.0
    return num / den


def _separated_norm2(model, grid: Grid) -> float:
    """``sum w |phihat|^2 / K^2`` of a phase-separated pattern at the fastest
    wavenumber ``k_m``: ``(size A / k_m)^2`` with ``A = (phi_+ - phi_-) sqrt(x
    (1 - x))`` the RMS deviation of a field of the binodal phases in volume
    fractions ``x``, ``1 - x`` (Parseval). The floor of the norm that
    :attr:`SemiImplicitSpectral.last_error` divides by (an absolute tolerance):
    before the pattern has formed the field is small and mostly noise, and a
    purely relative error would make the steps of the linear regime follow the
    noise (measured: 15,300 steps to 5 tau instead of ~90)."""
    lo, hi = model.coexistence()
    if not hi > lo:
        return 0.0
    x = min(max((model.phi0 - lo) / (hi - lo), 0.0), 1.0)
    k_m = model.k_critical / math.sqrt(2.0)
    return (grid.size * (hi - lo) * math.sqrt(x * (1.0 - x)) / k_m) ** 2


def _error_cutoff2(model) -> float:
    """``(ERROR_CUTOFF k_m)^2``, the largest ``K^2`` of the local-error estimate;
    every mode (inf) for a mixture that is not inside its spinodal (no k_m)."""
    if not model.f2(model.phi0) < 0.0:
        return math.inf
    return (ERROR_CUTOFF * model.k_critical / math.sqrt(2.0)) ** 2


# --------------------------------------------------------------------------
# helpers shared by both schemes
# --------------------------------------------------------------------------
def _check_noise(noise: float) -> float:
    if not (np.isfinite(noise) and noise >= 0):
        raise ParameterError(
            f"noise={noise!r} must be >= 0 (1 = the fluctuation-dissipation amplitude, "
            "0 = deterministic)"
        )
    return float(noise)


def _check_threads(threads) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ParameterError(f"threads={threads!r} must be an integer >= 1")
    return int(threads)


#: the free energies whose f'(phi) the spectral stepper has a compiled kernel for
COMPILED_MODELS = (FloryHugginsDeGennes, Landau)


def _check_compiled_model(model):
    """The model itself, if the spectral stepper computes its chemical potential exactly.

    Its kernels hard-code the blend's and the phi^4 model's f'(phi) (and the
    de Gennes term), so another free energy, a subclass included, would be
    integrated with a chemical potential that is not its own.
    """
    if type(model) not in COMPILED_MODELS:
        names = ", ".join(c.__name__ for c in COMPILED_MODELS)
        raise ParameterError(
            f"model {type(model).__name__}: SemiImplicitSpectral computes the chemical potential of "
            f"{names} only (compiled kernels); use one of them, or ExplicitEuler, which calls the "
            "model's own mu_bulk"
        )
    return model


def check_dt(dt: float) -> float:
    """``dt`` as a float; :class:`ParameterError` unless it is a finite step > 0."""
    if not (np.isfinite(dt) and dt > 0):
        raise ParameterError(f"dt={dt!r} must be a positive time step")
    return float(dt)


def explicit_dt_limit(model, grid: Grid) -> float:
    """Largest stable forward-Euler step for the finite-difference scheme.

    The linearised operator ``-lap(f'' - 2 kappa lap)`` has eigenvalues
    ``lambda (f'' + 2 kappa lambda)`` with ``lambda`` up to ``4 d / dx^2`` (the
    largest eigenvalue of the discrete ``-Laplacian``); forward Euler is stable
    for ``dt < 2 / max(eigenvalue)``. ``f''`` and ``kappa`` are bounded over
    the composition range of the run (:meth:`stiffness_bounds`).
    """
    f2max, kmax = model.stiffness_bounds()
    lam = 4.0 * grid.ndim / grid.dx**2
    return 2.0 / (lam * (2.0 * kmax * lam + f2max))


def check_explicit_dt(model, grid: Grid, dt: float, *, unit_time: float = 1.0, name: str = "dt",
                      unit: str = "") -> None:
    """Refuse a forward-Euler step at or above :func:`explicit_dt_limit`.

    The one stability check of the explicit scheme: :class:`ExplicitEuler`
    makes it on every step it is given (absolute units), and a run's record
    (:class:`scattermorph.sim.spec.RunSpec`) before the run, in the units of
    its configuration.

    Parameters
    ----------
    model : FreeEnergy
    grid : Grid
    dt : float
        The step, in units of ``unit_time``.
    unit_time : float
        One unit of ``dt`` in absolute time units (the run's tau, or 1).
    name, unit : str
        What the message calls the step and its unit (e.g. ``"simulation.time.dt"``, ``" tau"``).

    Raises
    ------
    ParameterError
        Naming the step, the limit in the same unit, the grid and the fix.
    """
    lim = explicit_dt_limit(model, grid)
    if dt * unit_time >= lim:
        raise ParameterError(
            f"{name}={dt:g}{unit} is unstable for the explicit scheme on this grid "
            f"(dx={grid.dx:g}, {grid.ndim}D): need dt < {lim / unit_time:.4g}{unit}; "
            "lower dt or use the semi-implicit scheme"
        )


def free_energy(model, phi: np.ndarray, dx: float, laplacian: str = "spectral") -> float:
    """Total free energy ``F[phi]`` (units of k_B T) on the periodic grid.

    Gradient energy is evaluated consistently with the chosen Laplacian: with
    ``"fd"`` by forward differences (whose sum of squares is ``-phi . lap_fd phi``),
    with ``"spectral"`` through the Fourier symbol ``k^2``.
    """
    grid = Grid(phi.shape, dx)
    bulk = float(np.sum(model.f(phi)))
    field = model.psi(phi) if model.gradient == "de_gennes" else phi
    coef = 1.0 if model.gradient == "de_gennes" else model.kappa0
    fh = np.fft.rfftn(field)
    k2 = grid.k2(laplacian)
    # Parseval on the half-complex layout: interior last-axis modes count twice
    w = rfft_mode_weights(phi.shape)
    grad2 = float(np.sum(w * k2 * np.abs(fh) ** 2)) / grid.size
    return (bulk + coef * grad2) * grid.cell_volume


def initial_condition(model, grid: Grid, rng: np.random.Generator, amplitude: float = 0.01):
    """Homogeneous state ``phi0`` plus uniform noise of half-width ``amplitude``.

    The perturbation has zero mean exactly, so ``mean(phi) = phi0`` to round-off.
    """
    if not (0 < amplitude < min(model.phi0, 1 - model.phi0)):
        raise ParameterError(
            f"initial amplitude={amplitude!r} must be > 0 and below "
            f"min(phi0, 1 - phi0) = {min(model.phi0, 1 - model.phi0)}"
        )
    d = rng.uniform(-amplitude, amplitude, size=grid.shape)
    d -= d.mean()
    return model.phi0 + d


# --------------------------------------------------------------------------
# semi-implicit spectral scheme
# --------------------------------------------------------------------------
class SemiImplicitSpectral:
    """Stabilised semi-implicit Fourier-spectral Cahn-Hilliard-Cook stepper.

    Parameters
    ----------
    model : FloryHugginsDeGennes or Landau
        The free energy.
    grid : Grid
    dt : float
        Time step (units of ``b^2 / (M k_B T)``).
    noise : float, optional
        Cook noise amplitude ``epsilon`` (1 = thermal, 0 = none).
    laplacian : {"spectral", "fd"}
        Symbol of the Laplacian, see module docstring.
    stabilization : float, optional
        Multiplier of the stabilisation constants ``S = max(f'', 0) / 2`` and
        (de Gennes gradient) ``kappa_s = max kappa / 2``. In the default
        ``"adaptive"`` mode the maxima are taken over the compositions the
        field currently spans, widened by a margin (see
        :meth:`required_stabilization`). Only the convex part of the bulk free
        energy needs stabilising (Eyre's convex splitting; Shen & Yang 2010
        give ``S >= L / 2`` for unconditional energy stability): inside the
        spinodal ``f'' < 0`` and ``S = 0``, so the early linear growth is not
        damped; as the phases approach the binodal, where ``f'' > 0``, ``S``
        rises. The constants are re-evaluated every ``restab_every`` steps and
        never decrease, so they are a deterministic function of the run. 0
        switches stabilisation off (plain semi-implicit scheme).
    fft : {"auto", "fftw", "scipy"}
    restab_every : int
        Steps between re-evaluations of the stabilisation constants.
    order : {1, 2}
        1: IMEX Euler (the scheme written in the module docstring). 2
        (default): variable-step BDF2 with extrapolated explicit terms (SBDF2;
        Ascher, Ruuth & Wetton 1995; the stabilisation term then acts on
        ``phi' - phi*`` and is O(dt^2)). The first step after
        :meth:`set_state` is first order. Same cost per step.
    stabilization_mode : {"adaptive", "static"}
        ``"static"`` takes ``S = max|f''| / 2`` and ``kappa_s = max kappa / 2``
        over the run's whole composition range once (energy stable for any
        step, but it damps the early linear growth by a factor
        ``1 + dt K^2 S``); ``"adaptive"`` (default) resolves the early growth
        and is energy stable for the steps the study allows (tests check
        dt up to 0.1 tau).
    threads : int
        Threads of the FFTs and the pointwise passes (default 1). The fields
        are bit-identical whatever the count: the passes work on fixed
        chunks, sums are added in chunk order, the noise is a counter-based
        stream, and FFTW's threaded FFTW_ESTIMATE plans gave bit-identical
        transforms for every shape tested (tests/sim/test_steppers.py,
        tests/test_fft.py).
    fft_plan : {"estimate", "measure"}
        FFTW plans (:class:`~scattermorph.fft.FFTPair`): ``"estimate"``
        (default) gives the same bits on any machine with the same FFTW build;
        ``"measure"`` is faster at large grids and gives the same bits for
        every run that reads the same wisdom cache, whatever the thread count,
        but may differ in the last bits from the estimated plans and between
        two cache files.
    fft_wisdom : str or Path, optional
        Wisdom cache of ``fft_plan="measure"`` (:func:`scattermorph.fft.wisdom_path`).
    """

    def __init__(
        self,
        model,
        grid: Grid,
        dt: float,
        *,
        noise: float = 0.0,
        laplacian: str = "spectral",
        stabilization: float = 1.0,
        fft: str = "auto",
        restab_every: int = 10,
        stabilization_mode: str = "adaptive",
        order: int = 2,
        threads: int = 1,
        selective: float = 0.0,
        fft_plan: str = "estimate",
        fft_wisdom=None,
    ):
        self.model = _check_compiled_model(model)
        self.threads = _check_threads(threads)
        if not (np.isfinite(selective) and selective >= 0):
            raise ParameterError(
                f"selective={selective!r} must be >= 0 (0 = stabilise every scale; "
                "1 = the scale-selective stabiliser of the study's scheme)"
            )
        self.selective = float(selective)
        self._bulk_stiffness = model.bulk_stiffness()
        if order not in (1, 2):
            raise ParameterError(f"order={order!r}: choose 1 or 2")
        self.order = int(order)
        if stabilization_mode not in ("adaptive", "static"):
            raise ParameterError(
                f"stabilization_mode={stabilization_mode!r}: choose 'adaptive' or 'static'"
            )
        self.stabilization_mode = stabilization_mode
        self.grid = grid
        self.noise = _check_noise(noise)
        if not (np.isfinite(stabilization) and stabilization >= 0):
            raise ParameterError(f"stabilization={stabilization!r} must be >= 0")
        self.stabilization = float(stabilization)
        self.laplacian = laplacian
        self.k2 = grid.k2(laplacian)
        self.fft = FFTPair(grid.shape, fft, threads=self.threads, plan=fft_plan,
                           wisdom=fft_wisdom)
        self.degennes = model.gradient == "de_gennes"
        if self.degennes:
            self.fft2 = FFTPair(grid.shape, self.fft.backend, threads=self.threads,
                                plan=fft_plan, wisdom=fft_wisdom)
            self.lap_symbol = -self.k2 / grid.size  # lap(psi) = ifft(-k2 psihat)
        self.restab_every = max(1, int(restab_every))
        self.S = 0.0
        self.kappa_s = model.kappa0 if not self.degennes else 0.0
        cshape = rfft_shape(grid.shape)
        self.phihat = np.empty(cshape, dtype=complex)
        self._phihat_prev = np.zeros(cshape, dtype=complex)
        self._muhat_prev = np.zeros(cshape, dtype=complex)
        self._noise = None  # drawn by _update itself; _draw_noise fills this on demand
        self._nokey = np.empty(0, dtype=np.uint64)
        self._kabs = np.sqrt(self.k2)
        self._weight = np.ascontiguousarray(
            np.broadcast_to(rfft_mode_weights(grid.shape), cshape)
        )
        # the linear gradient term of a frozen coefficient enters mu in Fourier space
        self._g2 = 0.0 if self.degennes else 2.0 * model.kappa0
        self.base_dt = check_dt(dt)
        self.dt = self.base_dt
        self._prev_dt = None  # no history yet: the next step is first order
        self._err_max = 0.0
        #: predictor-corrector difference of the last step, ``||phi' - phi*|| /
        #: max(||phi' - <phi>||, floor)`` in the H^-1 norm (see :func:`_update`,
        #: :func:`_separated_norm2`; NaN for a first-order step): the local-error
        #: estimate of :class:`~scattermorph.sim.control.StepController`'s ``tolerance``
        self.last_error = math.nan
        self._norm_floor2 = _separated_norm2(model, grid)
        #: the error estimate's modes: |K| <= ERROR_CUTOFF k_m (see ERROR_CUTOFF)
        self.error_kc2 = _error_cutoff2(model)
        # real-space history of the safeguarded steps (try_step / accept /
        # undo): the last two accepted fields and a buffer for the next one;
        # spare Fourier history buffers, so that nothing is copied to take a
        # step back (allocated on the first try_step)
        self._hist = None
        self._nhist = 0
        self._spare = None
        self._history_out = (None, None)  # step(): update the history in place
        # the noise each mode received in the last step and its spare (try_step), kept
        # only once track_noise() asked for it
        self._nu = None
        self._nu_out = None
        self._nu_spare = None
        self.phi = None
        self.time = 0.0
        self.steps = 0

    def set_dt(self, dt: float) -> None:
        """Set the step. Any positive step may follow any other (the
        second-order coefficients depend on the ratio of successive steps)."""
        self.dt = check_dt(dt)

    def track_noise(self) -> None:
        """Keep each mode's noise content, so that :attr:`last_error` is the
        local error of the deterministic dynamics (see :func:`_update`): three
        more complex fields of work space (six with :meth:`try_step`); the
        fields are unchanged."""
        if self._nu is None:
            self._nu = np.zeros((3,) + self.phihat.shape, dtype=complex)

    def restart_noise_record(self) -> None:
        """Forget the noise content and the last estimate (they restart from
        zero; the fields are unchanged). The record follows the scheme's
        linear part, which a step beyond the scheme's stability at the domain
        scale amplifies like the field itself: after such a step the record
        is no longer the noise's, and the step control restarts it."""
        if self._nu is not None:
            self._nu[...] = 0.0

    def local_error(self) -> float | None:
        """Largest :attr:`last_error` of the second-order steps since the last
        call (None if there was none); resets the record. ``phi*``
        extrapolates the last two states, so this is ``dt^2 d^2 phi / dt^2``
        to leading order, the classical local-error estimate of an
        extrapolated BDF2 step.
        """
        err = self._err_max if self._err_max > 0 else None
        self._err_max = 0.0
        return err

    def splitting_rate(self) -> float:
        """``k1^2 (S + 2 kappa_s k1^2)`` at the first-moment wavenumber ``k1``.

        The rate (1/time) of the stiff terms the scheme treats implicitly, at
        the scale of the domains. With extrapolated (second-order) explicit
        terms the step must keep ``dt * rate`` of order one: the stiff limit of
        a mode whose implicit part exceeds its true stiffness (spinodal
        region, ``f'' < 0``) amplifies spuriously, and runs blow up for
        ``dt * rate`` around 2 (measured). ``dt * rate <= 0.5`` also keeps the
        domain size within 1 % of the converged solution
        (benchmarks/bench_simulation.py).
        """
        k1 = _first_moment(self.phihat, self._kabs, self._weight, self.threads)
        if self.selective > 0:
            S, kappa = self._bulk_stiffness
            return k1 * k1 * (S + 2.0 * kappa * k1 * k1)
        return k1 * k1 * (self.S + 2.0 * self.kappa_s * k1 * k1)

    def suggest_dt(self, accuracy: float, dt_max: float, growth: float = 1.25) -> float:
        """Step ``accuracy / splitting_rate``, at most ``dt_max`` and at most
        ``growth`` times the current step."""
        rate = self.splitting_rate()
        target = accuracy / rate if rate > 0 else dt_max
        return float(min(target, dt_max, growth * self.dt))

    def set_state(self, phi: np.ndarray, time: float = 0.0) -> None:
        """Start from ``phi``; resets the stabilisation constants to its range."""
        phi = np.asarray(phi, dtype=float)
        if phi.shape != self.grid.shape:
            raise ParameterError(f"state shape {phi.shape} != grid shape {self.grid.shape}")
        self.fft.real[...] = phi
        self.phihat[...] = self.fft.forward()
        self.phi = self.fft.real  # view on the FFT buffer, updated in place
        self.time = float(time)
        self.steps = 0
        self.S = 0.0
        self.kappa_s = self.model.kappa0 if not self.degennes else 0.0
        self._prev_dt = None
        self._err_max = 0.0
        self.last_error = math.nan
        if self._nu is not None:
            self._nu[...] = 0.0
        if self._hist is None:
            self._hist = tuple(np.empty(self.grid.shape) for _ in range(3))
        self._hist[0][...] = self.phi
        self._nhist = 1
        self._restabilise(force=True)

    def required_stabilization(self, lo: float, hi: float) -> tuple[float, float]:
        """``(S, kappa_s)`` for a field spanning ``[lo, hi]``.

        ``"static"`` mode: the bounds over the run's whole composition range
        (:meth:`stiffness_bounds`, the binodal widened towards the pure
        phases), which makes the scheme energy stable for any step.
        ``"adaptive"`` mode: the maxima over ``[lo, hi]`` widened by a margin
        ``m = spread / 4 + 0.01`` (for the blend at most 20 % of the way from
        the extreme values to a pure phase, where ``f''`` and ``kappa``
        diverge).
        """
        m = self.model
        # First order is stable with half the stiffness implicit (Shen & Yang
        # 2010). For the extrapolated second-order scheme a stiff mode with a
        # fraction r = (c - c_s) / c_s left explicit has the characteristic
        # equation lambda^2 + 2 r lambda - r = 0 in the stiff limit, stable for
        # r <= 1/3, so the full stiffness is made implicit (r <= 0).
        base = (0.5 if self.order == 1 else 1.0) * self.stabilization
        if self.stabilization_mode == "static":
            f2max, kmax = m.stiffness_bounds()
            S = base * f2max
            kappa_s = base * kmax if self.degennes else m.kappa0
            return S, kappa_s
        margin = 0.25 * (hi - lo) + 0.01
        a, b = lo - margin, hi + margin
        if m.bounded:  # f'' diverges at the pure phases: stop 20 % of the way there
            a = max(a, 0.8 * lo)
            b = min(b, 1.0 - 0.8 * (1.0 - hi))
        grid = np.linspace(a, b, 257)
        S = base * max(0.0, float(np.max(m.f2(grid))))
        if self.degennes:
            kappa_s = base * float(np.max(m.kappa(grid)))
        else:
            kappa_s = m.kappa0
        return S, kappa_s

    def _restabilise(self, force: bool = False) -> None:
        lo, hi = float(self.phi.min()), float(self.phi.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return  # the blow-up check reports it
        S, kappa_s = self.required_stabilization(lo, hi)
        if force or S > self.S or kappa_s > self.kappa_s:
            self.S = max(S, self.S)
            self.kappa_s = max(kappa_s, self.kappa_s)

    def _noise_key(self, rng: np.random.Generator) -> np.ndarray:
        """The key of one step's noise: two 64-bit words from ``rng``."""
        return rng.integers(0, 2**64, size=2, dtype=np.uint64)

    def _draw_noise(self, rng: np.random.Generator) -> np.ndarray:
        """Unit Hermitian white noise of the half-complex layout, the numbers
        a step with the same ``rng`` state adds (see :func:`noise_row`)."""
        if self._noise is None:
            self._noise = np.empty(self.phihat.shape, dtype=complex)
        return fill_noise(self._noise_key(rng), self._noise, self.threads)

    def try_step(self, rng: np.random.Generator | None = None) -> tuple[float, float, float]:
        """One step of size ``dt`` that :meth:`undo` can take back.

        Returns ``(err, lo, hi)``: ``err = max |phi' - phi*|`` over the grid,
        the largest difference between the new field and the linear
        extrapolation ``phi* = (1 + w) phi_n - w phi_{n-1}`` (w = dt /
        dt_prev) of the last two accepted fields, i.e. ``dt (dt + dt_prev) / 2
        |d^2 phi / dt^2|`` to leading order (``inf`` if the step produced
        NaN, ``nan`` before two fields are known), and the extremes of the new
        field. The maximum norm in real space sees a local fast event (a
        droplet that evaporates, an interface that pinches off) that a norm
        over the whole field averages away.
        """
        if self.phi is None:
            raise SimulationError("call set_state() before try_step()")
        if self._spare is None:
            self._spare = (np.empty_like(self._phihat_prev), np.empty_like(self._muhat_prev))
        self._saved = (self._prev_dt, self.time, self.steps, self.S, self.kappa_s, self._err_max)
        om = self.dt / self._prev_dt if (self._prev_dt is not None and self._nhist >= 2) else -1.0
        self._history_out = self._spare
        if self._nu is not None:
            if self._nu_spare is None:
                self._nu_spare = np.zeros_like(self._nu)
            self._nu_out = self._nu_spare
        try:
            self.step(1, rng)
        except SimulationError:  # NaN before the update: phihat is untouched
            self._updated = False
            return math.inf, math.nan, math.nan
        finally:
            self._history_out = (None, None)
            self._nu_out = None
        self._updated = True
        h1, h2, h3 = self._hist
        err, lo, hi = _pc_error(self.phi, h1, h2, h3, om, self.threads)
        return (err if om >= 0 else math.nan), lo, hi

    def accept(self) -> None:
        """Keep the step made by :meth:`try_step`: the spare buffers that
        received the history become the history (no copies)."""
        (self._phihat_prev, self._muhat_prev), self._spare = self._spare, (
            self._phihat_prev, self._muhat_prev)
        h1, h2, h3 = self._hist
        self._hist = (h3, h1, h2)  # h3 holds the new field (written by _pc_error)
        if self._nu is not None:
            self._nu, self._nu_spare = self._nu_spare, self._nu
        self._nhist = min(self._nhist + 1, 2)

    def undo(self) -> None:
        """Take back the step made by :meth:`try_step`: the state, its
        history and the stabilisation constants are as before it."""
        if self._updated:  # the old phihat went to the spare history buffer
            pp_spare, mp_spare = self._spare
            self.phihat, self._spare = pp_spare, (self.phihat, mp_spare)
        (self._prev_dt, self.time, self.steps, self.S, self.kappa_s, self._err_max) = self._saved
        np.multiply(self.phihat, 1.0 / self.grid.size, out=self.fft.spec)
        self.fft.inverse()
        self.phi = self.fft.real

    def step(self, nsteps: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Advance ``nsteps`` steps; returns the real-space field (a view)."""
        if self.phi is None:
            raise SimulationError("call set_state() before step()")
        if self.noise > 0 and rng is None:
            raise ParameterError("noise > 0 needs a numpy.random.Generator")
        m = self.model
        fft, real, spec = self.fft, self.fft.real, self.fft.spec
        inv_size = 1.0 / self.grid.size
        flory = isinstance(m, FloryHugginsDeGennes)  # its own compiled f' kernel
        nt = self.threads
        for _ in range(nsteps):
            if self.steps % self.restab_every == 0 and self.steps > 0:
                self._restabilise()
            # --- chemical potential in real space ---------------------------
            if self.degennes:
                f2 = self.fft2
                _psi(real, f2.real, nt)
                psihat = f2.forward()
                _scale_mul(psihat, self.lap_symbol, f2.spec, nt)
                lap_psi = f2.inverse()
                _mu_fh_degennes(real, lap_psi, f2.real, 1.0 / m.N, m.chi, nt)
                muhat = f2.forward()
            else:
                # phi lives in fft.real; compute mu in place is not allowed
                # (phihat is kept separately), so reuse the buffer after use
                if flory:
                    _mu_fh(real, real, 1.0 / m.N, m.chi, nt)
                else:
                    _mu_landau(real, real, nt)
                muhat = fft.forward()
            if not np.isfinite(muhat.flat[0]):
                self.phi = None
                raise SimulationError(
                    f"the field blew up (NaN/inf) at t={self.time:.6g} after "
                    f"{self.steps} steps with dt={self.dt:g}: reduce dt or raise "
                    "the stabilization"
                )
            noise_key = self._noise_key(rng) if self.noise > 0 else self._nokey
            dt = self.dt
            if self.order == 2 and self._prev_dt is not None:
                om = dt / self._prev_dt
                a0, a1, a2 = (1 + 2 * om) / (1 + om), 1 + om, om * om / (1 + om)
            else:
                om, a0, a1, a2 = 0.0, 1.0, 1.0, 0.0
            # noise: the unnormalised FFT of unit white noise has Re, Im ~
            # N(0, size/2); the flux variance per cell is 2 eps / (dt dx^d)
            cnoise = math.sqrt(self.noise * dt / self.grid.cell_volume * self.grid.size)
            err2, norm2 = _update(
                self.phihat, self._phihat_prev, muhat, self._muhat_prev, self.k2,
                self._kabs, self._weight, self._g2, dt, a0, a1, a2, om, self.S,
                self.kappa_s, noise_key, cnoise, inv_size, spec, nt, self.selective,
                *self._history_out, self._nu, self._nu_out, self.error_kc2,
                self._bulk_stiffness,
            )
            self.last_error = (math.sqrt(max(err2, 0.0) / max(norm2, self._norm_floor2))
                               if om > 0 and norm2 > 0 else math.nan)
            if om > 0 and norm2 > 0:
                self._err_max = max(self._err_max, self.last_error)
            self._prev_dt = dt
            fft.inverse()
            self.time += self.dt
            self.steps += 1
        return real


# --------------------------------------------------------------------------
# explicit Euler finite-difference reference
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _lap2(a, out, inv_dx2):  # pragma: no cover - compiled
    nx, ny = a.shape
    for i in range(nx):
        im = i - 1 if i > 0 else nx - 1
        ip = i + 1 if i < nx - 1 else 0
        for j in range(ny):
            jm = j - 1 if j > 0 else ny - 1
            jp = j + 1 if j < ny - 1 else 0
            out[i, j] = (a[im, j] + a[ip, j] + a[i, jm] + a[i, jp] - 4.0 * a[i, j]) * inv_dx2


@numba.njit(cache=True)
def _lap3(a, out, inv_dx2):  # pragma: no cover - compiled
    nx, ny, nz = a.shape
    for i in range(nx):
        im = i - 1 if i > 0 else nx - 1
        ip = i + 1 if i < nx - 1 else 0
        for j in range(ny):
            jm = j - 1 if j > 0 else ny - 1
            jp = j + 1 if j < ny - 1 else 0
            for k in range(nz):
                km = k - 1 if k > 0 else nz - 1
                kp = k + 1 if k < nz - 1 else 0
                out[i, j, k] = (
                    a[im, j, k] + a[ip, j, k] + a[i, jm, k] + a[i, jp, k]
                    + a[i, j, km] + a[i, j, kp] - 6.0 * a[i, j, k]
                ) * inv_dx2


class ExplicitEuler:
    """Forward-Euler, central finite-difference Cahn-Hilliard-Cook stepper.

    ``phi <- phi + dt (lap_h mu + div_h xi)`` with ``mu = f'(phi) - 2 kappa0
    lap_h phi`` (frozen gradient) or ``f'(phi) - 2 psi'(phi) lap_h psi`` (de
    Gennes); ``xi`` lives on cell faces, so ``div_h xi`` is conserved exactly.
    Refuses ``dt`` above :func:`explicit_dt_limit`.
    """

    def __init__(self, model, grid: Grid, dt: float, *, noise: float = 0.0):
        self.model = model
        self.grid = grid
        self.noise = _check_noise(noise)
        self.degennes = model.gradient == "de_gennes"
        self.set_dt(dt)
        self.base_dt = self.dt
        self._lap = _lap2 if grid.ndim == 2 else _lap3
        self._t1 = np.empty(grid.shape)
        self._t2 = np.empty(grid.shape)
        self.phi = None
        self.time = 0.0
        self.steps = 0

    def set_dt(self, dt: float) -> None:
        """Set the step; refused at or above the stability limit (:func:`check_explicit_dt`)."""
        dt = check_dt(dt)
        check_explicit_dt(self.model, self.grid, dt)
        self.dt = dt

    def set_state(self, phi: np.ndarray, time: float = 0.0) -> None:
        phi = np.asarray(phi, dtype=float)
        if phi.shape != self.grid.shape:
            raise ParameterError(f"state shape {phi.shape} != grid shape {self.grid.shape}")
        self.phi = phi.copy()
        self.time = float(time)
        self.steps = 0

    def chemical_potential(self, phi: np.ndarray, out: np.ndarray) -> np.ndarray:
        m, inv_dx2 = self.model, 1.0 / self.grid.dx**2
        if self.degennes:
            psi = m.psi(phi)
            self._lap(psi, out, inv_dx2)
            out *= -2.0 * m.dpsi(phi)
            out += m.mu_bulk(phi)
        else:
            self._lap(phi, out, inv_dx2)
            out *= -2.0 * m.kappa0
            out += m.mu_bulk(phi)
        return out

    def step(self, nsteps: int, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.phi is None:
            raise SimulationError("call set_state() before step()")
        if self.noise > 0 and rng is None:
            raise ParameterError("noise > 0 needs a numpy.random.Generator")
        inv_dx2 = 1.0 / self.grid.dx**2
        sigma = math.sqrt(2.0 * self.noise / (self.dt * self.grid.cell_volume))
        for _ in range(nsteps):
            mu = self.chemical_potential(self.phi, self._t1)
            self._lap(mu, self._t2, inv_dx2)
            self.phi += self.dt * self._t2
            if self.noise > 0:
                for ax in range(self.grid.ndim):
                    xi = rng.standard_normal(self.grid.shape) * sigma
                    # backward difference of face-centred flux: conserved exactly
                    self.phi += self.dt * (xi - np.roll(xi, 1, axis=ax)) / self.grid.dx
            self.time += self.dt
            self.steps += 1
            if not np.isfinite(self.phi.flat[0]) or not np.isfinite(mu.flat[0]):
                self.phi = None
                raise SimulationError(
                    f"the field blew up (NaN/inf) at t={self.time:.6g}: reduce dt"
                )
        return self.phi
