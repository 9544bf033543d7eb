"""Planned real-to-complex FFT pairs with preallocated buffers.

Two back ends give the same transform (unnormalised forward, ``r2c``; inverse
``c2r`` scaled by the caller):

* ``"fftw"``: pyFFTW plans. ``plan="estimate"`` (the default) makes them with
  ``FFTW_ESTIMATE``. Estimated plans are a pure function of the shape, the
  thread count and the machine's SIMD support *if the process holds no FFTW
  wisdom*: FFTW reuses wisdom of more rigorous plans (e.g. an
  ``FFTW_MEASURE`` plan of the same shape made earlier by anyone in the
  process) for estimated plans too, which changes the round-off (measured: a
  64^3 transform then differs in the last bits, and 1 and 2 threads no longer
  agree). So every plan here is made with the process's wisdom set aside and
  restored afterwards; reruns are then bit-for-bit identical on any machine
  with the same FFTW build and SIMD support.
  ``plan="measure"`` makes ``FFTW_MEASURE`` plans (faster: 128^3 pairs in
  about 0.6x the time, ``benchmarks/bench_simulation.py``), which FFTW picks
  by timing candidates, so two fresh measurements can pick different
  algorithms and differ in the last bits (measured). Their wisdom is
  therefore made once per (shape, FFTW build, CPU) and kept in a cache file
  (:func:`wisdom_path`), and every later plan is rebuilt from it: reruns that
  read the same file are bit-for-bit identical (tests/test_fft.py). Thread
  counts: the one-thread pair is always planned first, and a threaded pair
  is planned on top of its wisdom and compared bit for bit with it on a
  probe array; FFTW often picks the same algorithms there, but not always
  (measured at 96^3: two trials in three differed), so a threaded pair that differs
  is measured again (up to :data:`THREADED_TRIES` times) and, failing that,
  run on one thread. Results then do not depend on the thread count either,
  for a given cache file; a different cache file (another machine, a
  deleted cache) may give results that differ in the last bits.
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

import contextlib
import hashlib
import os
import platform
import threading
import warnings
from pathlib import Path

import numpy as np
import scipy.fft as sfft

from scattermorph.errors import ParameterError

try:  # pragma: no cover - availability depends on the install
    import pyfftw

    HAVE_FFTW = True
except ImportError:  # pragma: no cover
    HAVE_FFTW = False

__all__ = [
    "FFTPair",
    "HAVE_FFTW",
    "PLANS",
    "rfft_shape",
    "rfft_wavevectors",
    "rfft_mode_weights",
    "wisdom_path",
]

#: the plan kinds of the fftw back end (see the module docstring)
PLANS = ("estimate", "measure")
#: environment variable naming the wisdom cache file of ``plan="measure"``
WISDOM_ENV = "SCATTERMORPH_FFTW_WISDOM"
#: measurements of a threaded MEASURE pair before it falls back to one thread
THREADED_TRIES = 3


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


def _cpu_id() -> str:
    """The CPU model and its flags (Linux), else ``platform.processor()``:
    wisdom measured on one CPU is neither fastest nor always valid on another."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    keep = [ln for ln in text.splitlines() if ln.split(":")[0].strip() in ("model name", "flags")]
    return "\n".join(dict.fromkeys(keep))


def wisdom_path(path=None) -> Path:
    """The wisdom cache file of ``plan="measure"`` FFTW plans.

    Parameters
    ----------
    path : str or Path, optional
        A directory (the file goes in it) or a file. Default: the environment
        variable ``SCATTERMORPH_FFTW_WISDOM``, else ``$XDG_CACHE_HOME/scattermorph``
        (``~/.cache/scattermorph``). The wisdom belongs to a machine, not to a
        study, so by default every study on the machine shares it.

    Returns
    -------
    Path
        ``<dir>/fftw-<key>.wisdom``, the key a hash of the FFTW build, the
        architecture and the CPU model and flags: another machine or build
        makes its own file.
    """
    if path is None:
        path = os.environ.get(WISDOM_ENV) or (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scattermorph"
        )
    path = Path(path).expanduser()
    if path.suffix == ".wisdom":
        return path
    # the header of FFTW's wisdom: its version and the signature of its solvers
    build = pyfftw.export_wisdom()[0].split(b"\n")[0] if HAVE_FFTW else b"none"
    key = hashlib.sha256(
        b"\0".join([build, platform.machine().encode(), _cpu_id().encode()])
    ).hexdigest()[:16]
    return path / f"fftw-{key}.wisdom"


@contextlib.contextmanager
def _wisdom_file(path: Path):
    """The process's wisdom replaced by that of ``path`` (under an exclusive
    lock on ``path.lock``, so that concurrent jobs measure once and share the
    result); on exit the new wisdom is written back and the old restored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(
            f"FFTW wisdom cache {path}: cannot create its folder ({exc}); set "
            f"simulation.fft_wisdom or ${WISDOM_ENV} to a writable path"
        ) from exc
    import fcntl  # POSIX only; imported here so that the module loads elsewhere

    with _PLAN_LOCK, open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = pyfftw.export_wisdom()
        pyfftw.forget_wisdom()
        try:
            old = path.read_bytes() if path.exists() else b""
            if old and not pyfftw.import_wisdom((old, b"", b""))[0]:
                raise ParameterError(
                    f"FFTW wisdom cache {path} is not FFTW wisdom of this build: delete it "
                    "(it is remade) or point simulation.fft_wisdom elsewhere"
                )
            yield
            new = pyfftw.export_wisdom()[0]
            if new != old:
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(new)
                os.replace(tmp, path)
        finally:
            pyfftw.forget_wisdom()
            pyfftw.import_wisdom(saved)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fftw_pair(real, spec, threads: int, flags):
    axes = tuple(range(real.ndim))
    fwd = pyfftw.FFTW(real, spec, axes=axes, flags=flags, threads=threads)
    inv = pyfftw.FFTW(spec, real, axes=axes, direction="FFTW_BACKWARD", flags=flags,
                      threads=threads)
    return fwd, inv


def _probe(pair, real, spec):
    """(forward, inverse) of a fixed random field through ``pair``."""
    real[...] = np.random.default_rng(20211209).uniform(0.25, 0.75, size=real.shape)
    pair[0].execute()
    out = spec.copy()
    pair[1].execute()
    return out, real.copy()


def _measured_pair(real, spec, threads: int, path: Path):
    """MEASURE plans of ``real`` <-> ``spec`` on ``threads`` threads (or on one,
    see the module docstring), under the cached wisdom ``path``; returns
    ``(fwd, inv, threads used)``. Runs inside :func:`_wisdom_file`. A pair that
    fell back to one thread is listed in ``path.single`` (one ``shape
    threads`` a line), so that later runs do not measure it again."""
    flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")
    one = _fftw_pair(real, spec, 1, flags)  # always first: fixes the 1D algorithms
    single = path.with_suffix(".single")
    tag = f"{'x'.join(map(str, real.shape))} {threads}"
    if threads == 1 or (single.exists() and tag in single.read_text().splitlines()):
        return (*one, 1)
    ref = _probe(one, real, spec)
    base = pyfftw.export_wisdom()
    for _ in range(THREADED_TRIES):
        pair = _fftw_pair(real, spec, threads, flags)
        got = _probe(pair, real, spec)
        if all(np.array_equal(a, b) for a, b in zip(ref, got)):
            return (*pair, threads)
        # measure again from the one-thread wisdom alone (else FFTW reuses the pair just made)
        pyfftw.forget_wisdom()
        pyfftw.import_wisdom(base)
    with open(single, "a") as fh:
        fh.write(tag + "\n")
    warnings.warn(
        f"FFTW MEASURE plans of {real.shape} on {threads} threads differ in round-off from "
        f"the one-thread plans ({THREADED_TRIES} measurements): the transforms run on one "
        "thread, so that the results do not depend on the thread count",
        RuntimeWarning,
        stacklevel=4,
    )
    return (*one, 1)


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

    def __init__(self, shape, backend: str = "auto", threads: int = 1, plan: str = "estimate",
                 wisdom=None):
        """
        Parameters
        ----------
        shape : tuple of int
        backend : {"auto", "fftw", "scipy"}
        threads : int
            Threads per transform (one below ``FFT_THREADS_MIN_SIZE`` points).
        plan : {"estimate", "measure"}
            FFTW plans (module docstring); ignored by the scipy back end.
        wisdom : str or Path, optional
            Wisdom cache of ``plan="measure"`` (:func:`wisdom_path`).
        """
        self.shape = tuple(int(s) for s in shape)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ParameterError(f"threads={threads!r} must be an integer >= 1")
        if plan not in PLANS:
            raise ParameterError(f"fft plan={plan!r}: choose one of {', '.join(PLANS)}")
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
        #: the plan kind in use ("estimate" for the scipy back end)
        self.plan = plan if backend == "fftw" else "estimate"
        #: the wisdom cache file of a measured plan, else None
        self.wisdom = None
        cshape = rfft_shape(self.shape)
        if backend == "fftw":
            self.real = pyfftw.empty_aligned(self.shape, dtype="float64")
            self.spec = pyfftw.empty_aligned(cshape, dtype="complex128")
            if self.plan == "measure":
                self.wisdom = wisdom_path(wisdom)
                with _wisdom_file(self.wisdom):
                    self._fwd, self._inv, self.threads = _measured_pair(
                        self.real, self.spec, self.threads, self.wisdom)
            else:
                flags = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")
                self._fwd, self._inv = _plan_without_wisdom(
                    lambda: _fftw_pair(self.real, self.spec, self.threads, flags))
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
