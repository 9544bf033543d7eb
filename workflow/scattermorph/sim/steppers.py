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
  :func:`bulk_stiffness` setting the step and :class:`StepController` taking
  back steps that leave :func:`admissible_range`).
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
update pass, by a counter-based generator (ziggurat normals of a keyed
SplitMix64 hash of the number's index) whose 128-bit key each step draws from
the ``numpy.random.Generator`` it is given: the seeding stays
``SeedSequence``-based and the numbers do not depend on the thread count. The explicit
scheme draws ``xi`` on cell faces and takes its finite-difference divergence,
whose spectrum is ``K^2_fd`` times the variance: the same statistics.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time as _time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from scattermorph.errors import ParameterError, SimulationError
from scattermorph.fft import FFTPair, rfft_mode_weights, rfft_shape, rfft_wavevectors

__all__ = [
    "Grid",
    "StepController",
    "admissible_range",
    "bulk_stiffness",
    "SemiImplicitSpectral",
    "ExplicitEuler",
    "initial_condition",
    "integrate",
    "free_energy",
    "explicit_dt_limit",
    "step_schedule",
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
# pointwise kernels (numba, nogil) run on fixed chunks by a thread pool
# --------------------------------------------------------------------------
# Every pass is split into chunks that depend on the array shape only (runs of
# _CHUNK cells, or of whole rows of about _CHUNK_MODES Fourier modes); a pass
# with ``threads`` > 1 hands groups of chunks to a pool of Python threads
# that run the compiled kernels without the GIL. Pointwise results do not
# depend on who computes them, and every sum is taken per chunk and the
# partial sums added in chunk order, so a step gives bit-identical fields
# whatever the thread count (tests/sim/test_steppers.py). A pool of blocking
# threads rather than numba's prange: on the OpenMP layer prange threads
# spin-wait, and on a machine whose cores are busy with other jobs a parallel
# call then takes 5-10x longer than one thread (measured for the Minkowski
# histograms, scattermorph.measure.minkowski); groups of chunks are handed out one at
# a time, so a thread that gets no core does not hold the others up.
_CHUNK = 1 << 15  # real cells per chunk
_CHUNK_MODES = 1 << 14  # Fourier modes per chunk (whole rows of the last axis)
_PARALLEL_MIN = 1 << 16  # smaller passes run on the calling thread
_GROUPS_PER_THREAD = 4

_POOLS: dict = {}
_POOLS_LOCK = threading.Lock()


def _reset_pools_after_fork():  # pragma: no cover - runs in forked children
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pools_after_fork)


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per worker count, so a pass never runs on more threads than asked."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix=f"scattermorph-solver{workers}"
            )
        return pool


def _run(kernel, nchunks: int, threads: int, cells: int, *args) -> None:
    """``kernel(*args, c0, c1)`` over the chunks ``[0, nchunks)``.

    With ``threads`` > 1 the calling thread and ``threads - 1`` pool threads
    take groups of chunks from a shared counter until none is left (the
    calling thread works too instead of waiting, and a thread that gets no
    core holds nobody up)."""
    if threads <= 1 or nchunks < 2 or cells < _PARALLEL_MIN:
        kernel(*args, 0, nchunks)
        return
    groups = min(nchunks, _GROUPS_PER_THREAD * threads)
    bounds = [g * nchunks // groups for g in range(groups + 1)]
    counter = itertools.count()  # next() is atomic under the GIL

    def work():
        while (g := next(counter)) < groups:
            kernel(*args, bounds[g], bounds[g + 1])

    futures = [_pool(threads - 1).submit(work) for _ in range(threads - 1)]
    work()
    for f in futures:
        f.result()


def _nchunks(n: int) -> int:
    return max(1, -(-n // _CHUNK))


def _rows_per_chunk(m: int) -> int:
    return max(1, _CHUNK_MODES // m)


@numba.njit(cache=True, nogil=True)
def _k_mu_fh(phi, out, inv_n, chi, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, p.size)):
        x = p[i]
        o[i] = math.log(x / (1.0 - x)) * inv_n + chi * (1.0 - 2.0 * x)


@numba.njit(cache=True, nogil=True)
def _k_mu_landau(phi, out, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, p.size)):
        s = 2.0 * p[i] - 1.0
        o[i] = 0.5 * (s * s * s - s)


@numba.njit(cache=True, nogil=True)
def _k_psi(phi, out, c0, c1):  # pragma: no cover - compiled
    p = phi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, p.size)):
        o[i] = math.asin(2.0 * p[i] - 1.0) / 6.0


@numba.njit(cache=True, nogil=True)
def _k_mu_fh_degennes(phi, lap_psi, out, inv_n, chi, c0, c1):  # pragma: no cover
    p = phi.reshape(-1)
    lp = lap_psi.reshape(-1)
    o = out.reshape(-1)
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, p.size)):
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
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, s.size)):
        o[i] = s[i] * f[i]


def _mu_fh(phi, out, inv_n, chi, threads=1):
    """out <- f'(phi) of the Flory-Huggins blend (in place allowed)."""
    _run(_k_mu_fh, _nchunks(phi.size), threads, phi.size, phi, out, inv_n, chi)


def _mu_landau(phi, out, threads=1):
    """out <- f'(phi) of the Landau model (in place allowed)."""
    _run(_k_mu_landau, _nchunks(phi.size), threads, phi.size, phi, out)


def _psi(phi, out, threads=1):
    """out <- psi(phi) = asin(2 phi - 1) / 6."""
    _run(_k_psi, _nchunks(phi.size), threads, phi.size, phi, out)


def _mu_fh_degennes(phi, lap_psi, out, inv_n, chi, threads=1):
    """mu = f'(phi) - 2 psi'(phi) lap(psi), psi' = 1/(6 sqrt(phi(1-phi)))."""
    _run(_k_mu_fh_degennes, _nchunks(phi.size), threads, phi.size, phi, lap_psi, out,
         inv_n, chi)


def _scale_mul(src, factor, out, threads=1):
    """out <- src * factor (complex * real), used for lap(psi)."""
    _run(_k_scale_mul, _nchunks(src.size), threads, src.size, src, factor, out)


# --- seeded Gaussian noise: a counter-based generator --------------------
# The noise of a step is a pure function of a 128-bit key (two 64-bit words
# drawn from the step's numpy Generator) and of the index of each number, so
# any chunk can be drawn by any thread: the fields do not depend on the thread
# count. Bits: two rounds of the SplitMix64 finaliser (Stafford's mix 13, the
# output function of SplitMix64, which passes BigCrush applied to a counter),
# the first keyed by adding k1 to the scaled counter, the second by xor with
# k2; each round is a bijection of 64-bit words, so distinct counters give
# distinct words within a step. Normals: the 256-layer ziggurat of Marsaglia &
# Tsang (2000) in the form numpy uses (8 bits layer, 1 bit sign, 52 bits
# abscissa; Marsaglia's tail algorithm beyond r = 3.654), so about 99 % of the
# numbers cost one hash and one table look-up. A rejected candidate takes the
# next word of its own sub-stream (counter | j << 40, j = 1, 2, ...).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_U0 = np.uint64(0)
_U1 = np.uint64(1)
_ZIG_R = 3.6541528853610088  # start of the tail of the 256-layer ziggurat
_ZIG_V = 0.00492867323399  # area of each layer


def _ziggurat_tables():
    """(ki, wi, fi) of Marsaglia & Tsang's zigset for 256 layers and 52-bit abscissae."""
    m = 2.0**52
    dn = tn = _ZIG_R
    q = _ZIG_V / math.exp(-0.5 * dn * dn)
    ki = np.zeros(256, dtype=np.int64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    ki[0] = int((dn / q) * m)
    ki[1] = 0
    wi[0] = q / m
    wi[255] = dn / m
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_ZIG_V / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = int((dn / tn) * m)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m
    return ki, wi, fi


_ZKI, _ZWI, _ZFI = _ziggurat_tables()


@numba.njit(cache=True, nogil=True, inline="always")
def _mix64(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def _bits(k1, k2, ctr):  # pragma: no cover - compiled
    """64 random bits for counter ``ctr`` under the key ``(k1, k2)``."""
    return _mix64(_mix64(ctr * _GOLDEN + k1) ^ k2)


@numba.njit(cache=True, nogil=True, inline="always")
def _uniform(bits):  # pragma: no cover - compiled
    """Uniform in [0, 1) from the top 53 bits."""
    return np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _normal_slow(k1, k2, ctr, r, j):  # pragma: no cover - compiled
    """The rare rest of :func:`_normal`: wedge or tail test of the rejected
    candidate ``r`` (its first 64 bits), then new candidates from sub-stream
    word ``j`` on."""
    while True:
        idx = np.intp(r & np.uint64(0xFF))
        neg = ((r >> np.uint64(8)) & _U1) != _U0
        rabs = np.int64((r >> np.uint64(9)) & np.uint64(0x000FFFFFFFFFFFFF))
        x = np.float64(rabs) * _ZWI[idx]
        if neg:
            x = -x
        if rabs < _ZKI[idx]:
            return x
        if idx == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                u1 = _uniform(_bits(k1, k2, ctr | (j << np.uint64(40))))
                u2 = _uniform(_bits(k1, k2, ctr | ((j + _U1) << np.uint64(40))))
                j += np.uint64(2)
                xx = -math.log1p(-u1) / _ZIG_R
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if neg else _ZIG_R + xx
        # the wedge of layer idx
        u = _uniform(_bits(k1, k2, ctr | (j << np.uint64(40))))
        j += _U1
        if (_ZFI[idx - 1] - _ZFI[idx]) * u + _ZFI[idx] < math.exp(-0.5 * x * x):
            return x
        r = _bits(k1, k2, ctr | (j << np.uint64(40)))
        j += _U1


@numba.njit(cache=True, nogil=True, inline="always")
def _normal(k1, k2, ctr):  # pragma: no cover - compiled
    """Standard normal number ``ctr`` of the stream keyed by ``(k1, k2)``."""
    r = _bits(k1, k2, ctr)
    idx = np.intp(r & np.uint64(0xFF))
    rabs = np.int64((r >> np.uint64(9)) & np.uint64(0x000FFFFFFFFFFFFF))
    if rabs < _ZKI[idx]:
        # branch-free sign: a random branch would be mispredicted half the time
        sign = 1.0 - 2.0 * np.float64((r >> np.uint64(8)) & _U1)
        return sign * (np.float64(rabs) * _ZWI[idx])
    return _normal_slow(k1, k2, ctr, r, _U1)


@numba.njit(cache=True, nogil=True)
def _k_normals(k1, k2, out, c0, c1):  # pragma: no cover - compiled
    """out[i] <- normal number i of the stream (i over the chunks c0..c1)."""
    o = out.reshape(-1)
    for i in range(c0 * _CHUNK, min(c1 * _CHUNK, o.size)):
        o[i] = _normal(k1, k2, np.uint64(i))


@numba.njit(cache=True, nogil=True)
def _noise_row(k1, k2, r, n0, n1, m, buf):  # pragma: no cover - compiled
    """Unit complex white noise of row ``r`` of the half-complex layout.

    Mode ``i`` (flat index) takes normals ``2 i`` (real part) and ``2 i + 1``
    (imaginary part). In the planes k_last = 0 and k_last = Nyquist the modes
    must be the complex conjugates of their mirror images: there ``w <- (w +
    conj(w_mirror)) / sqrt(2)``, the mirror of row (a, b) being (-a, -b) mod
    the sides (a self-mirrored mode becomes sqrt(2) Re w, real).
    """
    base = r * m
    for j in range(m):
        c = np.uint64(2 * (base + j))
        buf[j] = complex(_normal(k1, k2, c), _normal(k1, k2, c + _U1))
    a = r // n1
    b = r - a * n1
    pr = ((n0 - a) % n0) * n1 + (n1 - b) % n1
    for j in (0, m - 1):
        c = np.uint64(2 * (pr * m + j))
        zp = complex(_normal(k1, k2, c), -_normal(k1, k2, c + _U1))
        buf[j] = (buf[j] + zp) * 0.7071067811865476


@numba.njit(cache=True, nogil=True)
def _k_fill_noise(k1, k2, n0, n1, out, c0, c1):  # pragma: no cover - compiled
    m = out.shape[-1]
    o = out.reshape(-1)
    rows = o.size // m
    rpc = max(1, _CHUNK_MODES // m)
    buf = np.empty(m, dtype=np.complex128)
    for r in range(c0 * rpc, min(c1 * rpc, rows)):
        _noise_row(k1, k2, r, n0, n1, m, buf)
        for j in range(m):
            o[r * m + j] = buf[j]


def _lead_sides(cshape):
    """(n0, n1): the sides of the leading axes of a half-complex layout (n1 = 1 in 2D)."""
    return (int(cshape[0]), int(cshape[1]) if len(cshape) == 3 else 1)


def _fill_noise(key, out, threads=1):
    """out <- unit Hermitian white noise of the half-complex layout ``out.shape``."""
    n0, n1 = _lead_sides(out.shape)
    m = out.shape[-1]
    nch = max(1, -(-(out.size // m) // _rows_per_chunk(m)))
    _run(_k_fill_noise, nch, threads, out.size, key[0], key[1], n0, n1, out)
    return out


def _standard_normals(key, out, threads=1):
    """out (float64, any shape) <- normals 0, 1, ... of the stream ``key``."""
    _run(_k_normals, _nchunks(out.size), threads, out.size, key[0], key[1], out)
    return out


@numba.njit(cache=True, nogil=True)
def _k_update(phihat, phihat_prev, muhat, muhat_prev, k2, kabs, weight, g2, dt, a0, a1, a2,
              om, S, kap_s, use_noise, k1, k2key, n0, n1, cnoise, inv_size, out_scaled,
              err_part, norm_part, theta, pp_out, mp_out, c0, c1):  # pragma: no cover - compiled
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
    rows = ph.size // m
    rpc = max(1, _CHUNK_MODES // m)
    e1 = 1.0 + om
    buf = np.zeros(m, dtype=np.complex128)
    for c in range(c0, c1):
        err2 = 0.0
        norm2 = 0.0
        for r in range(c * rpc, min((c + 1) * rpc, rows)):
            if use_noise:
                _noise_row(k1, k2key, r, n0, n1, m, buf)
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
                if use_noise:
                    cn = cnoise * ka[i]
                    vr += cn * buf[j].real
                    vi += cn * buf[j].imag
                vr *= inv_den
                vi *= inv_den
                ppo[i] = complex(p0r, p0i)
                mpo[i] = complex(mur, mui)
                ph[i] = complex(vr, vi)
                os_[i] = complex(vr * inv_size, vi * inv_size)
                if i > 0:
                    dr = vr - psr
                    di = vi - psi_
                    err2 += wv[i] * (dr * dr + di * di)
                    norm2 += wv[i] * (vr * vr + vi * vi)
        err_part[c] = err2
        norm_part[c] = norm2


def _update(phihat, phihat_prev, muhat, muhat_prev, k2, kabs, weight, g2, dt, a0, a1, a2, om,
            S, kap_s, noise_key, cnoise, inv_size, out_scaled, threads=1, theta=0.0,
            phihat_prev_out=None, muhat_prev_out=None):
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
    here row by row (:func:`_fill_noise` draws the same numbers into an
    array). Also shifts the history and writes phi' / size.

    Returns ``(sum |phi' - phi*|^2, sum |phi'|^2)`` over the modes k != 0
    (full-spectrum weights), summed per chunk and the chunks in order: the
    predictor-corrector difference, whose relative size estimates the local
    error of the second-order step.
    """
    m = phihat.shape[-1]
    rows = phihat.size // m
    nch = max(1, -(-rows // _rows_per_chunk(m)))
    err_part = np.zeros(nch)
    norm_part = np.zeros(nch)
    n0, n1 = _lead_sides(phihat.shape)
    use_noise = len(noise_key) == 2
    k1, k2key = (noise_key[0], noise_key[1]) if use_noise else (_U0, _U0)
    _run(_k_update, nch, threads, phihat.size, phihat, phihat_prev, muhat, muhat_prev, k2,
         kabs, weight, g2, dt, a0, a1, a2, om, S, kap_s, use_noise, k1, k2key, n0, n1,
         cnoise, inv_size, out_scaled, err_part, norm_part, float(theta),
         phihat_prev if phihat_prev_out is None else phihat_prev_out,
         muhat_prev if muhat_prev_out is None else muhat_prev_out)
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
        for i in range(max(1, c * _CHUNK), min((c + 1) * _CHUNK, ph.size)):
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
        for i in range(c * _CHUNK, min((c + 1) * _CHUNK, p.size)):
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
    nch = _nchunks(phi.size)
    part = np.empty((nch, 4))
    _run(_k_pc_error, nch, threads, phi.size, phi, hist1, hist2, out, om, part)
    if part[:, 3].any():
        return math.inf, math.nan, math.nan
    return float(part[:, 0].max()), float(part[:, 1].min()), float(part[:, 2].max())


def _first_moment(phihat, kabs, weight, threads=1):
    """<k> = sum w k |phihat|^2 / sum w |phihat|^2 over k != 0 (sums per
    chunk, added in chunk order)."""
    nch = _nchunks(phihat.size)
    num_part = np.zeros(nch)
    den_part = np.zeros(nch)
    _run(_k_first_moment, nch, threads, phihat.size, phihat, kabs, weight, num_part, den_part)
    num = 0.0
    den = 0.0
    for c in range(nch):
        num += float(num_part[c])
        den += float(den_part[c])
    if den <= 0.0:
        return 0.0
    return num / den


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


def _check_dt(dt: float) -> float:
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


def free_energy(model, phi: np.ndarray, dx: float, laplacian: str = "spectral") -> float:
    """Total free energy ``F[phi]`` (units of k_B T) on the periodic grid.

    Gradient energy is evaluated consistently with the chosen Laplacian: with
    ``"fd"`` by forward differences (whose sum of squares is ``-phi . lap_fd phi``),
    with ``"spectral"`` through the Fourier symbol ``k^2``.
    """
    grid = Grid(phi.shape, dx)
    bulk = float(np.sum(model.f(phi)))
    field = model.psi(phi) if getattr(model, "gradient", "constant") == "de_gennes" else phi
    coef = 1.0 if getattr(model, "gradient", "constant") == "de_gennes" else model.kappa0
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
    ):
        self.model = model
        self.threads = _check_threads(threads)
        if not (np.isfinite(selective) and selective >= 0):
            raise ParameterError(
                f"selective={selective!r} must be >= 0 (0 = stabilise every scale; "
                "1 = the scale-selective stabiliser of the study's scheme)"
            )
        self.selective = float(selective)
        self._bulk_stiffness = bulk_stiffness(model)
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
        self.fft = FFTPair(grid.shape, fft, threads=self.threads)
        self.degennes = getattr(model, "gradient", "constant") == "de_gennes"
        if self.degennes:
            self.fft2 = FFTPair(grid.shape, self.fft.backend, threads=self.threads)
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
        self.base_dt = _check_dt(dt)
        self.dt = self.base_dt
        self._prev_dt = None  # no history yet: the next step is first order
        self._err_max = 0.0
        # real-space history of the safeguarded steps (try_step / accept /
        # undo): the last two accepted fields and a buffer for the next one;
        # spare Fourier history buffers, so that nothing is copied to take a
        # step back (allocated on the first try_step)
        self._hist = None
        self._nhist = 0
        self._spare = None
        self._history_out = (None, None)  # step(): update the history in place
        self.phi = None
        self.time = 0.0
        self.steps = 0

    def set_dt(self, dt: float) -> None:
        """Set the step. Any positive step may follow any other (the
        second-order coefficients depend on the ratio of successive steps)."""
        self.dt = _check_dt(dt)

    def local_error(self) -> float | None:
        """Largest relative predictor-corrector difference ``||phi' - phi*|| /
        ||phi'||`` of the second-order steps since the last call (None if
        there was none); resets the record. ``phi*`` extrapolates the last two
        states, so this is ``dt^2 d^2 phi / dt^2`` to leading order, the
        classical local-error estimate of an extrapolated BDF2 step (logged by
        :func:`integrate` as a diagnostic).
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
        if m.name == "flory_huggins":
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
        a step with the same ``rng`` state adds (see :func:`_noise_row`)."""
        if self._noise is None:
            self._noise = np.empty(self.phihat.shape, dtype=complex)
        return _fill_noise(self._noise_key(rng), self._noise, self.threads)

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
        try:
            self.step(1, rng)
        except SimulationError:  # NaN before the update: phihat is untouched
            self._updated = False
            return math.inf, math.nan, math.nan
        finally:
            self._history_out = (None, None)
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
        flory = m.name == "flory_huggins"
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
                *self._history_out,
            )
            if om > 0 and norm2 > 0:
                self._err_max = max(self._err_max, math.sqrt(err2 / norm2))
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
        self.degennes = getattr(model, "gradient", "constant") == "de_gennes"
        self.set_dt(dt)
        self.base_dt = self.dt
        self._lap = _lap2 if grid.ndim == 2 else _lap3
        self._t1 = np.empty(grid.shape)
        self._t2 = np.empty(grid.shape)
        self.phi = None
        self.time = 0.0
        self.steps = 0

    def set_dt(self, dt: float) -> None:
        dt = _check_dt(dt)
        lim = explicit_dt_limit(self.model, self.grid)
        if dt >= lim:
            raise ParameterError(
                f"dt={dt:g} is unstable for the explicit scheme on this grid "
                f"(dx={self.grid.dx:g}, {self.grid.ndim}D): need dt < {lim:.4g}; "
                "lower dt or use the semi-implicit scheme"
            )
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


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------
def step_schedule(times, dt, *, dt_growth=0.0, dt_max=None):
    """Split ``[0, times[-1]]`` into steps that land exactly on every snapshot.

    Within the interval that ends at snapshot ``i`` the step is uniform,
    ``(t_i - t_{i-1}) / n_i``, with ``n_i`` the fewest steps not longer than
    ``clip(dt_growth * t_{i-1}, dt, dt_max)``. With ``dt_growth = 0`` the step is
    ``dt`` throughout (up to the rounding needed to hit each time). Letting the
    step grow in proportion to the elapsed time follows the slowing-down of
    coarsening (domain size ~ t^(1/3)) and costs about
    ``ln(t_end / t_start) / dt_growth`` steps. The cap ``dt_max`` matters: the
    scheme's error at the domain scale grows with the step, and uncapped
    growth biases late coarsening (measured exponent 0.25-0.31 instead of
    1/3 for dt_growth 0.02-0.002, Landau 2D); ``dt_max <= tau`` keeps it at
    0.34 (tests/sim/test_steppers.py), and the study configs use that cap.

    Returns
    -------
    (T,) ndarray of int
        Number of steps in each interval.
    (T,) ndarray of float
        Step used in each interval.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or np.any(times < 0) or np.any(np.diff(times) <= 0):
        raise ParameterError(
            f"snapshot times {np.atleast_1d(times).tolist()} must be a non-empty, "
            "strictly increasing list of times >= 0"
        )
    dt = _check_dt(dt)
    dt_max = dt if dt_max is None else float(dt_max)
    if dt_max < dt:
        raise ParameterError(f"dt_max={dt_max:g} must be >= dt={dt:g}")
    if not (np.isfinite(dt_growth) and dt_growth >= 0):
        raise ParameterError(f"dt_growth={dt_growth!r} must be >= 0")
    starts = np.concatenate([[0.0], times[:-1]])
    spans = times - starts
    target = np.clip(dt_growth * starts, dt, dt_max)
    n = np.ceil(spans / target * (1 - 1e-12)).astype(np.int64)
    n[spans == 0] = 0
    h = np.where(n > 0, spans / np.maximum(n, 1), dt)
    return n, h


def bulk_stiffness(model) -> tuple[float, float]:
    """``(max(f'', 0), kappa)`` in the coexisting phases (the binodal).

    ``k^2 (f'' + 2 kappa k^2)`` is the rate at which a composition
    fluctuation of wavenumber ``k`` relaxes inside a phase: at the domain
    wavenumber, the fastest physical process of the coarsening structure. For
    the symmetric blend both phases give the same values.
    """
    if getattr(model, "name", "") != "flory_huggins":  # phi^4: phases at phi = 0, 1
        return max(0.0, float(model.f2(0.0))), float(model.kappa0)
    lo, _ = model.coexistence()
    return max(0.0, float(model.f2(lo))), float(model.kappa(lo))


def admissible_range(model) -> tuple[float, float]:
    """Compositions a safeguarded step may produce: ``(lo, hi)``.

    For the Flory-Huggins blend a quarter of the way from each binodal
    composition to the pure phase (``f'`` diverges at 0 and 1, so a step that
    overshoots further is rejected and retried shorter, before a cell can
    leave (0, 1)); unbounded for the phi^4 model.
    """
    if getattr(model, "name", "") != "flory_huggins":
        return -math.inf, math.inf
    lo = min(model.coexistence()[0], model.phi0, 1.0 - model.phi0)
    return 0.25 * lo, 1.0 - 0.25 * lo


class StepController:
    """Safeguarded adaptive step of the semi-implicit scheme.

    The step follows the structure, ``dt = accuracy / rate`` with ``rate``
    the stepper's :meth:`SemiImplicitSpectral.splitting_rate` (re-evaluated
    every ``every`` steps), at most ``growth`` times the last accepted step
    and at most ``dt_max``; the last steps before each snapshot are shortened
    evenly to land on it. Safeguard: every step is tried
    (:meth:`SemiImplicitSpectral.try_step`) and taken back (``undo``) if the
    field leaves :func:`admissible_range` or is not finite, then retried
    ``shrink`` times shorter; the step then grows back by ``growth`` per
    step. A rare local fast event (a droplet that evaporates, an interface
    that pinches off) thus costs a few short steps instead of a blown-up run
    or a step kept small everywhere for its sake. A run whose retried step
    falls below 1 % of the initial step, or that is rejected ``max_rejects``
    times in a row, stops with :class:`SimulationError`.

    ``growth <= 1.5`` keeps the variable-step BDF2 zero-stable (step ratios
    below 1 + sqrt 2; Grigorieff 1983).
    """

    def __init__(self, stepper, accuracy: float, dt_max: float, *, growth: float = 1.25,
                 shrink: float = 0.5, every: int = 10, max_rejects: int = 40):
        if not (np.isfinite(accuracy) and accuracy > 0):
            raise ParameterError(f"accuracy={accuracy!r} must be > 0")
        self.stepper, self.accuracy, self.dt_max = stepper, float(accuracy), float(dt_max)
        self.growth, self.shrink, self.every = growth, shrink, int(every)
        self.max_rejects = max_rejects
        self.bounds = admissible_range(stepper.model)
        self.dt = stepper.base_dt  # last accepted (or retried) step
        # a run that needs steps 100x below its initial step is failing
        self.dt_min = 1e-2 * stepper.base_dt
        self._target = stepper.base_dt
        self.accepted = 0
        self.rejected = 0

    def _next_dt(self) -> float:
        st = self.stepper
        if self.accepted and self.accepted % self.every == 0:
            rate = st.splitting_rate()
            self._target = self.accuracy / rate if rate > 0 else self.dt_max
        if not self.accepted:
            return st.base_dt
        return min(self._target, self.dt_max, self.growth * self.dt)

    def advance_to(self, t_end: float, rng=None) -> int:
        """Step from the stepper's time to ``t_end`` exactly; returns the
        number of accepted steps."""
        st, n0, rejects = self.stepper, self.accepted, 0
        while t_end - st.time > 1e-12 * max(1.0, abs(t_end)):
            remaining = t_end - st.time
            dt = self._next_dt() if not rejects else self.dt
            n = math.ceil(remaining / dt * (1 - 1e-12))
            h = remaining / n  # land on t_end with even steps
            st.set_dt(h)
            _, lo, hi = st.try_step(rng)
            if self.bounds[0] < lo and hi < self.bounds[1]:  # False for NaN
                st.accept()
                self.accepted += 1
                rejects = 0
                self.dt = dt  # the proposal, not a step shortened to land on t_end
                if n == 1:
                    st.time = float(t_end)
                continue
            st.undo()
            self.rejected += 1
            rejects += 1
            self.dt = h * self.shrink
            if rejects > self.max_rejects or self.dt < self.dt_min:
                raise SimulationError(
                    f"the step control failed at t={st.time:.6g}: {rejects} steps in a "
                    f"row left the admissible range {self.bounds} or blew up (NaN/inf) "
                    f"(last field range [{lo:.4g}, {hi:.4g}], step {h:.3g}, at least "
                    f"{self.dt_min:.3g} allowed); lower the accuracy, the initial step "
                    "or the noise"
                )
        return self.accepted - n0


def integrate(
    stepper, phi_init, times, rng=None, *, dt_growth=0.0, dt_max=None, accuracy=None,
    safeguard=False, dtype=np.float32, log=None,
):
    """Run ``stepper`` from ``phi_init`` and record the field at ``times``.

    The step starts at the stepper's initial step ``stepper.base_dt`` (so a
    reused stepper starts afresh). Then either

    * ``accuracy`` given (semi-implicit stepper): the step adapts to the
      structure, ``dt = accuracy / splitting_rate`` (see
      :meth:`SemiImplicitSpectral.splitting_rate`), re-evaluated every 10
      steps, growing by at most 25 % per step, capped at ``dt_max``; the
      last steps before each snapshot are shortened evenly to land on it.
      The domain wavenumber k1 shrinks as the structure coarsens, so the step
      grows (as t^(2/3) while the stabilisation is constant); or
    * a fixed schedule, :func:`step_schedule` (``dt_growth``, ``dt_max``).

    Parameters
    ----------
    stepper : SemiImplicitSpectral or ExplicitEuler
    phi_init : (M, N[, P]) ndarray
    times : (T,) array_like of float
        Strictly increasing snapshot times >= 0 (a time 0 records ``phi_init``).
    rng : numpy.random.Generator, optional
        Needed when the stepper has noise.
    dt_growth, dt_max : float, optional
        Step growth with elapsed time, and the largest step.
    accuracy : float, optional
        ``dt * splitting_rate`` per step (dimensionless; 1.5 in the study with
        the selective stabiliser).
    safeguard : bool
        With ``accuracy``: step through :class:`StepController`, which takes
        back and retries shorter any step that leaves
        :func:`admissible_range` (the study's scheme).
    dtype : numpy dtype
        Storage type of the snapshots (float32 halves the files; its relative
        round-off, 6e-8, is far below every downstream tolerance).
    log : callable, optional
        Called with a progress string after each snapshot.

    Returns
    -------
    snapshots : (T, M, N[, P]) ndarray of ``dtype``
    steps : (T,) ndarray of int
        Cumulative number of steps at each snapshot.
    """
    times = np.asarray(times, dtype=float)
    adaptive = accuracy is not None
    if adaptive:
        if not hasattr(stepper, "suggest_dt") or (safeguard and not hasattr(stepper, "try_step")):
            raise ParameterError("accuracy-controlled steps need the semi-implicit stepper")
        if not (np.isfinite(accuracy) and accuracy > 0):
            raise ParameterError(f"accuracy={accuracy!r} must be > 0")
        step_schedule(times, stepper.base_dt)  # validates the times
        dt_cap = float(dt_max) if dt_max is not None else np.inf
        if dt_cap < stepper.base_dt:
            raise ParameterError(f"dt_max={dt_cap:g} must be >= dt={stepper.base_dt:g}")
    else:
        nsteps, h = step_schedule(times, stepper.base_dt, dt_growth=dt_growth, dt_max=dt_max)
    stepper.set_state(phi_init)
    control = StepController(stepper, accuracy, dt_cap) if adaptive and safeguard else None
    stepper.set_dt(stepper.base_dt)
    out = np.empty((times.size,) + tuple(stepper.grid.shape), dtype=dtype)
    counts = np.zeros(times.size, dtype=np.int64)
    t0 = _time.perf_counter()
    t, total, chunk = 0.0, 0, 10
    for i, tn in enumerate(times):
        if control is not None:
            total += control.advance_to(float(tn), rng)
            field = stepper.phi
        elif adaptive:
            while tn - t > 1e-12 * max(1.0, tn):
                target = stepper.suggest_dt(accuracy, dt_cap) if total else stepper.base_dt
                remaining = tn - t
                n = int(math.ceil(remaining / target * (1 - 1e-12)))
                if n <= chunk:
                    stepper.set_dt(remaining / n)
                    stepper.step(n, rng)
                    t = float(tn)
                else:
                    stepper.set_dt(target)
                    stepper.step(chunk, rng)
                    t += chunk * target
                    n = chunk
                total += n
            field = stepper.phi
        else:
            n, dt = int(nsteps[i]), float(h[i])
            if n > 0:
                if dt != stepper.dt:
                    stepper.set_dt(dt)
                field = stepper.step(n, rng)
            else:
                field = stepper.phi
            total += n
        counts[i] = total
        stepper.time = float(tn)  # exact, free of accumulated round-off
        if not np.all(np.isfinite(field)):
            raise SimulationError(f"the field is not finite at t={tn:.6g}: reduce dt")
        out[i] = field
        if log is not None:
            log(
                f"snapshot {i + 1}/{times.size}: t={tn:.6g} dt={stepper.dt:.4g} "
                f"steps={total} min={field.min():.4f} max={field.max():.4f} "
                f"wall={_time.perf_counter() - t0:.2f}s"
            )
    return out, counts
