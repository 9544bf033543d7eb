"""Fixed chunks of a pass over a field, run by a pool of threads.

Every pass of the solver is split into chunks that depend on the array shape
only (runs of :data:`CHUNK` cells, or of whole rows of about
:data:`CHUNK_MODES` Fourier modes); a pass with ``threads`` > 1 hands groups
of chunks to a pool of Python threads that run the compiled kernels without
the GIL. Pointwise results do not depend on who computes them, and every sum
is taken per chunk and the partial sums added in chunk order, so a step gives
bit-identical fields whatever the thread count (tests/sim/test_steppers.py).
A pool of blocking threads rather than numba's prange: on the OpenMP layer
prange threads spin-wait, and on a machine whose cores are busy with other
jobs a parallel call then takes 5-10x longer than one thread (measured for
the Minkowski histograms, scattermorph.measure.minkowski); groups of chunks
are handed out one at a time, so a thread that gets no core does not hold the
others up.

The kernels (:mod:`scattermorph.sim.steppers`, :mod:`scattermorph.sim.noise`)
read :data:`CHUNK` and :data:`CHUNK_MODES` as compile-time constants: numba's
cache of a kernel is keyed by its own file, so a change of these sizes needs
the cache cleared (``__pycache__/*.nbi``).
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["CHUNK", "CHUNK_MODES", "PARALLEL_MIN", "run_chunks", "n_chunks", "rows_per_chunk"]

CHUNK = 1 << 15  # real cells per chunk
CHUNK_MODES = 1 << 14  # Fourier modes per chunk (whole rows of the last axis)
PARALLEL_MIN = 1 << 16  # smaller passes run on the calling thread
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


def run_chunks(kernel, nchunks: int, threads: int, cells: int, *args) -> None:
    """``kernel(*args, c0, c1)`` over the chunks ``[0, nchunks)``.

    With ``threads`` > 1 the calling thread and ``threads - 1`` pool threads
    take groups of chunks from a shared counter until none is left (the
    calling thread works too instead of waiting, and a thread that gets no
    core holds nobody up)."""
    if threads <= 1 or nchunks < 2 or cells < PARALLEL_MIN:
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


def n_chunks(n: int) -> int:
    """Chunks of :data:`CHUNK` cells that cover ``n`` cells."""
    return max(1, -(-n // CHUNK))


def rows_per_chunk(m: int) -> int:
    """Rows of ``m`` Fourier modes in one chunk of about :data:`CHUNK_MODES` modes."""
    return max(1, CHUNK_MODES // m)
