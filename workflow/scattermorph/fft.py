"""Planned real-to-complex FFT pairs with preallocated buffers.

Two back ends give the same transform (unnormalised forward, ``r2c``; inverse
``c2r`` scaled by the caller):

* ``"fftw"``: pyFFTW plans made with ``FFTW_ESTIMATE``. Estimated plans are a
  pure function of the shape, the thread count and the machine's SIMD support
  *if the process holds no FFTW wisdom*: FFTW reuses wisdom of more rigorous
  plans (e.g. an ``FFTW_MEASURE`` plan of the same shape made earlier by
  anyone in the process) for estimated plans too, which changes the
  round-off (measured: a 64^3 transform then differs in the last bits, and
  1 and 2 threads no longer agree). So every plan here is made with the
  process's wisdom set aside and restored afterwards; reruns are then
  bit-for-bit identical; ``FFTW_MEASURE`` picks plans by timing and can change
  the round-off from one run to the next, so it is not used (its speed gain
  measured by ``benchmarks/bench_simulation.py`` is small).
* ``"scipy"``: :mod:`scipy.fft` (pocketfft), the fallback when pyFFTW is missing.

``threads`` (default 1) threads per transform of at least
``FFT_THREADS_MIN_SIZE`` points (2^18: 64^3, 512^2; smaller ones run on one).
The result does not depend on the count for the shapes the tests check
(tests/sim/test_steppers.py compares 1, 2 and 3 threads bit for bit, 2D and 3D):
FFTW's threaded plans split the loops over the independent 1D transforms
among the threads, each transform computed by the same codelets; pocketfft's
workers likewise split over 1D transforms. This is measured, not promised by
FFTW's documentation: the tests would catch a build or shape where it fails.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.fft as sfft

from scattermorph.errors import ParameterError

try:  # pragma: no cover - availability depends on the install
    import pyfftw

    HAVE_FFTW = True
except ImportError:  # pragma: no cover
    HAVE_FFTW = False

__all__ = ["FFTPair", "HAVE_FFTW", "rfft_shape", "rfft_wavevectors", "rfft_mode_weights"]


_PLAN_LOCK = threading.Lock()
#: transforms smaller than this many points run on one thread whatever
#: ``threads`` says: waking FFTW's threads costs more than they save there,
#: and on a machine whose cores are busy with other jobs a 2-thread 64^2 or
#: 48^3 transform took 12-15 ms instead of 0.005-0.4 ms (measured; the result
#: is the same either way)
FFT_THREADS_MIN_SIZE = 1 << 18


def _plan_without_wisdom(make):
    """``make()`` (which builds pyFFTW plans) with FFTW's wisdom set aside,
    so the plans are the estimator's, whatever was planned before."""
    with _PLAN_LOCK:
        saved = pyfftw.export_wisdom()
        pyfftw.forget_wisdom()
        try:
            return make()
        finally:
            pyfftw.forget_wisdom()
            pyfftw.import_wisdom(saved)


def rfft_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the half-complex spectrum of a real array of ``shape``."""
    return tuple(shape[:-1]) + (shape[-1] // 2 + 1,)


def rfft_wavevectors(shape, dx: float) -> list[np.ndarray]:
    """Wavevector components ``k_i`` (rad per length) of the half-complex layout.

    One array per axis, each broadcastable to ``rfft_shape(shape)``: the last
    axis holds the non-negative frequencies only.
    """
    ndim = len(shape)
    ks = []
    for ax, n in enumerate(shape):
        if ax == ndim - 1:
            k = 2 * np.pi * np.fft.rfftfreq(n, d=dx)
        else:
            k = 2 * np.pi * np.fft.fftfreq(n, d=dx)
        view = [1] * ndim
        view[ax] = k.size
        ks.append(k.reshape(view))
    return ks


def rfft_mode_weights(shape) -> np.ndarray:
    """Multiplicity (1 or 2) of each half-complex mode in full-spectrum sums,
    along the last axis (broadcastable to ``rfft_shape(shape)``): modes with
    ``0 < k_last < Nyquist`` stand for themselves and their mirror images."""
    w = np.full(shape[-1] // 2 + 1, 2.0)
    w[0] = 1.0
    if shape[-1] % 2 == 0:
        w[-1] = 1.0
    return w


class FFTPair:
    """Forward and inverse real FFT over all axes of arrays of one shape.

    Attributes
    ----------
    real : ndarray of float64, shape ``shape``
        Input of :meth:`forward` and output of :meth:`inverse`.
    spec : ndarray of complex128, shape ``rfft_shape(shape)``
        Output of :meth:`forward` and input of :meth:`inverse` (destroyed by it).
    """

    def __init__(self, shape, backend: str = "auto", threads: int = 1):
        self.shape = tuple(int(s) for s in shape)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ParameterError(f"threads={threads!r} must be an integer >= 1")
        self.size = int(np.prod(self.shape))
        #: threads the transforms really use (1 below FFT_THREADS_MIN_SIZE points)
        self.threads = int(threads) if self.size >= FFT_THREADS_MIN_SIZE else 1
        if backend == "auto":
            backend = "fftw" if HAVE_FFTW else "scipy"
        if backend not in ("fftw", "scipy"):
            raise ParameterError(f"fft backend={backend!r}: choose 'auto', 'fftw' or 'scipy'")
        if backend == "fftw" and not HAVE_FFTW:
            raise ParameterError("fft backend='fftw' needs pyFFTW: pip install pyfftw")
        self.backend = backend
        axes = tuple(range(len(self.shape)))
        cshape = rfft_shape(self.shape)
        if backend == "fftw":
            self.real = pyfftw.empty_aligned(self.shape, dtype="float64")
            self.spec = pyfftw.empty_aligned(cshape, dtype="complex128")
            flags = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")

            def make():
                fwd = pyfftw.FFTW(
                    self.real, self.spec, axes=axes, flags=flags, threads=self.threads
                )
                inv = pyfftw.FFTW(
                    self.spec,
                    self.real,
                    axes=axes,
                    direction="FFTW_BACKWARD",
                    flags=flags,
                    threads=self.threads,
                )
                return fwd, inv

            self._fwd, self._inv = _plan_without_wisdom(make)
        else:
            self.real = np.empty(self.shape, dtype="float64")
            self.spec = np.empty(cshape, dtype="complex128")

    def forward(self) -> np.ndarray:
        """``spec <- rfftn(real)`` (unnormalised); returns ``spec``. Keeps ``real``."""
        if self.backend == "fftw":
            # FFTW's r2c never destroys its input; normalise_idft is irrelevant
            self._fwd.execute()
        else:
            self.spec[...] = sfft.rfftn(self.real, workers=self.threads)
        return self.spec

    def inverse(self) -> np.ndarray:
        """``real <- size * irfftn(spec)`` (unnormalised); returns ``real``.

        ``spec`` is destroyed.
        """
        if self.backend == "fftw":
            self._inv.execute()
        else:
            self.real[...] = sfft.irfftn(self.spec, s=self.shape, workers=self.threads, norm="forward")
        return self.real
