"""Seeded Gaussian noise: a counter-based generator of normal numbers.

The noise of a step is a pure function of a 128-bit key (two 64-bit words
drawn from the step's ``numpy.random.Generator``) and of the index of each
number, so any chunk can be drawn by any thread: the fields do not depend on
the thread count, and the seeding stays ``SeedSequence``-based. Bits: two
rounds of the SplitMix64 finaliser (Stafford's mix 13, the output function of
SplitMix64, which passes BigCrush applied to a counter), the first keyed by
adding k1 to the scaled counter, the second by xor with k2; each round is a
bijection of 64-bit words, so distinct counters give distinct words within a
step. Normals: the 256-layer ziggurat of Marsaglia & Tsang (2000) in the form
numpy uses (8 bits layer, 1 bit sign, 52 bits abscissa; Marsaglia's tail
algorithm beyond r = 3.654), so about 99 % of the numbers cost one hash and
one table look-up. A rejected candidate takes the next word of its own
sub-stream (counter | j << 40, j = 1, 2, ...).

The semi-implicit stepper draws the unit Hermitian white noise of the
half-complex Fourier layout row by row inside its update pass
(:func:`noise_row`); :func:`fill_noise` draws the same numbers into an array.

References
----------
.. [1] G. Marsaglia and W. W. Tsang, J. Stat. Softw. 5(8) (2000): the ziggurat.
.. [2] G. Marsaglia, Technometrics 6, 101 (1964): the tail beyond r.
.. [3] G. L. Steele, D. Lea and C. H. Flood, OOPSLA 2014: SplitMix64; D.
   Stafford's "mix 13" finaliser (2011).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from scattermorph.sim.parallel import CHUNK, CHUNK_MODES, n_chunks, rows_per_chunk, run_chunks

__all__ = ["noise_row", "fill_noise", "standard_normals", "lead_sides"]

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
    for i in range(c0 * CHUNK, min(c1 * CHUNK, o.size)):
        o[i] = _normal(k1, k2, np.uint64(i))


@numba.njit(cache=True, nogil=True)
def noise_row(k1, k2, r, n0, n1, m, buf):  # pragma: no cover - compiled
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
    rpc = max(1, CHUNK_MODES // m)
    buf = np.empty(m, dtype=np.complex128)
    for r in range(c0 * rpc, min(c1 * rpc, rows)):
        noise_row(k1, k2, r, n0, n1, m, buf)
        for j in range(m):
            o[r * m + j] = buf[j]


def lead_sides(cshape):
    """(n0, n1): the sides of the leading axes of a half-complex layout (n1 = 1 in 2D)."""
    return (int(cshape[0]), int(cshape[1]) if len(cshape) == 3 else 1)


def fill_noise(key, out, threads=1):
    """Unit Hermitian white noise of the half-complex layout ``out.shape``.

    Parameters
    ----------
    key : (2,) ndarray of uint64
        The stream's key.
    out : (M, N//2+1) or (M, N, P//2+1) ndarray of complex128
        Filled in place (the numbers :func:`noise_row` gives row by row).
    threads : int

    Returns
    -------
    ndarray
        ``out``.
    """
    n0, n1 = lead_sides(out.shape)
    m = out.shape[-1]
    nch = max(1, -(-(out.size // m) // rows_per_chunk(m)))
    run_chunks(_k_fill_noise, nch, threads, out.size, key[0], key[1], n0, n1, out)
    return out


def standard_normals(key, out, threads=1):
    """``out`` (float64, any shape) <- normals 0, 1, ... of the stream ``key`` (two uint64)."""
    run_chunks(_k_normals, n_chunks(out.size), threads, out.size, key[0], key[1], out)
    return out
