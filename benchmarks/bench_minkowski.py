"""Benchmark of scattermorph.measure.minkowski: throughput, memory, agreement.

For a random (p = 1/2) and a Gaussian-random-field (level cut at 0) image at
3D 128^3 and 256^3 and 2D 2048^2 it measures, side by side:

* ``minkowski``: all functionals (one compiled configuration-histogram pass +
  dot products), with 1 and with all numba threads;
* ``skimage.measure.euler_number`` (Euler number only) on the same image;
* a plain-numpy configuration histogram (``np.roll`` + shifts + ``bincount``,
  written below) followed by the same weight tables;
* reading the data once (``image.sum()`` and ``np.count_nonzero``), the
  floor for any one-pass method;

in Mvoxel/s (best of the repeats; the median is in the CSV), and the peak
extra memory of one ``minkowski`` call:

* ``tracemalloc``: allocations made through Python / numpy (numpy reports its
  data buffers to tracemalloc). It cannot see memory allocated by compiled
  code (numba's runtime allocates its per-thread row buffers and histograms
  with its own allocator), nor thread stacks.
* resident-set high-water mark (Linux), in a fresh process that holds only
  the image (loaded from a .npy file) and has run the method once:
  ``/proc/self/clear_refs`` resets ``VmHWM`` to the current RSS before the
  call and ``VmHWM`` is read after it. This sees every allocation that was
  touched, numba's and the thread stacks' included (page granularity, so a
  few KiB read as 0 or 4 KiB multiples). "n/a" where the kernel does not
  allow the reset.

It also checks that ``minkowski(..., periodic=False)["euler"]`` equals
``skimage.measure.euler_number`` on every image (both connectivities).
Nothing is asserted about time: the numbers are printed and written to
``benchmarks/results/minkowski.csv``. The machine may be shared with other
jobs; best-of-N is the least disturbed estimate.

Usage::

    python benchmarks/bench_minkowski.py [--quick] [--repeats N] [--csv PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np
from scipy import ndimage
from skimage.measure import euler_number

from scattermorph.measure import minkowski as mk

# Throughput anchors quoted in the issue (measured on this 2-core machine),
# printed for scale; those packages are not installed here.
ANCHORS = (
    "quantimpy (3D 256^3): ~110-165 Mvoxel/s",
    "scikit-image euler_number: ~90-100 Mvoxel/s",
    "plain-numpy configuration histogram: ~250 Mvoxel/s",
    "compiled single pass: ~1,000-1,900 Mvoxel/s",
)


# --------------------------------------------------------------------------
# comparison implementations
# --------------------------------------------------------------------------
def numpy_histogram(image: np.ndarray, periodic: bool = True) -> np.ndarray:
    """Configuration histogram in plain numpy (same bit map as minkowski).

    Window code = OR of the image rolled by each corner offset, shifted to
    its bit; then ``np.bincount``. Needs a uint8/uint16 code array plus
    rolled temporaries (a few bytes per voxel).
    """
    a = image.view(np.uint8)
    if not periodic:
        a = np.pad(a, 1)
    corners = mk._corners(a.ndim)
    code = np.zeros(a.shape, np.uint8)
    for bit, offset in enumerate(corners):
        shifted = np.roll(a, tuple(-int(o) for o in offset), axis=tuple(range(a.ndim)))
        code |= shifted << np.uint8(bit)
    if not periodic:
        code = code[(slice(0, -1),) * a.ndim]
    return np.bincount(code.ravel(), minlength=2 ** (2**a.ndim))


def numpy_minkowski(image: np.ndarray) -> dict:
    """All functionals from the numpy histogram and minkowski's tables."""
    hist = numpy_histogram(image)
    conn = mk.DEFAULT_CONNECTIVITY[image.ndim]
    return mk._functionals(hist, image.ndim, image.shape, 1.0, conn)


# --------------------------------------------------------------------------
# measurement helpers
# --------------------------------------------------------------------------
def best_and_median(fn, repeats: int):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def tracemalloc_peak(fn) -> int:
    """Peak bytes allocated through Python / numpy during ``fn()``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


_RSS_CHILD = r"""
import json, sys
import numba, numpy as np
sys.path.insert(0, {bench_dir!r})
from scattermorph.measure import minkowski as mk
import bench_minkowski as bm

def kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

img = np.load({path!r})
method = {method!r}
fn = (lambda im: mk.minkowski(im)) if method == "minkowski" else bm.numpy_minkowski
# compile / load the kernels and start the thread pool on a small image above
# the parallel threshold (a full-size warm-up would leave freed pages resident
# in the allocator and hide the next call's temporaries)
fn(np.zeros((520, 520) if img.ndim == 2 else (64, 64, 65), bool))
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")               # reset VmHWM to the current RSS (Linux >= 4.0)
except OSError:
    print(json.dumps(None)); sys.exit()
rss0, hwm0 = kib("VmRSS"), kib("VmHWM")
if hwm0 > rss0 + 64:
    print(json.dumps(None)); sys.exit()
fn(img)
print(json.dumps((kib("VmHWM") - rss0) * 1024))
"""


def rss_peak_subprocess(image: np.ndarray, method: str, tmpdir: str):
    """Resident-set high-water increase (bytes) of one call, in a fresh
    process that holds only the image: sees numba's allocations too."""
    path = os.path.join(tmpdir, "image.npy")
    np.save(path, image)
    code = _RSS_CHILD.format(
        bench_dir=str(Path(__file__).parent), path=path, method=method
    )
    try:
        out = (
            subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        return json.loads(out)
    except (subprocess.SubprocessError, IndexError, ValueError):
        return None


def make_images(quick: bool):
    rng = np.random.default_rng(2024)
    sizes3d = (128,) if quick else (128, 256)
    out = []
    for n in sizes3d:
        out.append((f"random 3D {n}^3", rng.random((n, n, n), dtype=np.float32) < 0.5))
        g = ndimage.gaussian_filter(
            rng.standard_normal((n, n, n), dtype=np.float32), 4.0
        )
        out.append((f"GRF 3D {n}^3", g > 0))
        del g
    n2 = 1024 if quick else 2048
    out.append((f"random 2D {n2}^2", rng.random((n2, n2), dtype=np.float32) < 0.5))
    g = ndimage.gaussian_filter(rng.standard_normal((n2, n2), dtype=np.float32), 4.0)
    out.append((f"GRF 2D {n2}^2", g > 0))
    return out


# --------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="128^3 and 1024^2 only, 3 repeats (a smoke run)",
    )
    ap.add_argument(
        "--repeats", type=int, default=None, help="timing repeats (best of)"
    )
    ap.add_argument(
        "--csv", default=str(Path(__file__).parent / "results" / "minkowski.csv")
    )
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 9)
    max_threads = numba.config.NUMBA_NUM_THREADS
    thread_counts = sorted({1, max_threads})

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba "
        f"{numba.__version__} (max threads {max_threads}), cpu count "
        f"{os.cpu_count()}, load average {os.getloadavg()[0]:.2f}"
    )
    print("anchors from the issue (not measured here):")
    for a in ANCHORS:
        print("   ", a)

    # warm up (compile or load the cached kernels) for every code path
    for shape in ((9, 10), (5, 6, 7)):
        for periodic in (True, False):
            mk.minkowski(np.ones(shape, bool), periodic=periodic)
    print(f"numba threading layer: {numba.threading_layer()}")

    rows = []
    header = (
        f"{'image':18s} {'method':30s} {'thr':>3s} {'best ms':>9s} "
        f"{'Mvox/s':>8s} {'x skimage':>9s} {'x numpy':>8s}"
    )
    print("\n" + header)
    print("-" * len(header))
    old_threads = numba.get_num_threads()
    for name, img in make_images(args.quick):
        nvox = img.size
        results = {}

        def record(method, threads, fn, reps=repeats):
            best, med = best_and_median(fn, reps)
            results[(method, threads)] = best
            rows.append(
                {
                    "image": name,
                    "shape": "x".join(map(str, img.shape)),
                    "n_voxels": nvox,
                    "method": method,
                    "threads": threads,
                    "best_s": f"{best:.6f}",
                    "median_s": f"{med:.6f}",
                    "mvoxel_per_s": f"{nvox / best / 1e6:.1f}",
                }
            )
            return best

        for t in thread_counts:
            numba.set_num_threads(t)
            record("minkowski (all functionals)", t, lambda: mk.minkowski(img))
            record("minkowski open (all)", t, lambda: mk.minkowski(img, periodic=False))
        numba.set_num_threads(old_threads)
        sk_reps = max(2, repeats // 3)
        record("skimage euler_number", 1, lambda: euler_number(img), sk_reps)
        record("numpy histogram + tables", 1, lambda: numpy_minkowski(img), sk_reps)
        record("read once: image.sum()", 1, lambda: img.sum())
        record("read once: np.count_nonzero", 1, lambda: np.count_nonzero(img))

        sk = results[("skimage euler_number", 1)]
        npy = results[("numpy histogram + tables", 1)]
        for r in rows:
            if r["image"] == name:
                b = float(r["best_s"])
                r["speedup_vs_skimage"] = f"{sk / b:.2f}"
                r["speedup_vs_numpy"] = f"{npy / b:.2f}"
                print(
                    f"{name:18s} {r['method']:30s} {r['threads']:>3d} {b * 1e3:9.2f} "
                    f"{float(r['mvoxel_per_s']):8.0f} {sk / b:9.2f} {npy / b:8.2f}"
                )

        # memory of one call (all threads)
        numba.set_num_threads(max_threads)
        tm_peak = tracemalloc_peak(lambda: mk.minkowski(img))
        numba.set_num_threads(old_threads)
        tm_np = tracemalloc_peak(lambda: numpy_minkowski(img))
        with tempfile.TemporaryDirectory() as tmp:
            rss = rss_peak_subprocess(img, "minkowski", tmp)
            rss_np = rss_peak_subprocess(img, "numpy", tmp)

        def fmt(b):
            return (
                "n/a" if b is None else f"{b / nvox:.4f} B/voxel ({b / 1024:.0f} KiB)"
            )

        print(
            f"{'':18s} peak extra memory, minkowski: tracemalloc {fmt(tm_peak)}; "
            f"RSS high-water {fmt(rss)}"
        )
        print(
            f"{'':18s} peak extra memory, numpy histogram: tracemalloc {fmt(tm_np)}; "
            f"RSS high-water {fmt(rss_np)}"
        )
        for r in rows:
            if r["image"] == name and r["method"].startswith("minkowski (all"):
                r["tracemalloc_peak_bytes_per_voxel"] = f"{tm_peak / nvox:.5f}"
                r["rss_peak_bytes_per_voxel"] = (
                    "" if rss is None else f"{rss / nvox:.5f}"
                )
            if r["image"] == name and r["method"].startswith("numpy"):
                r["tracemalloc_peak_bytes_per_voxel"] = f"{tm_np / nvox:.5f}"
                r["rss_peak_bytes_per_voxel"] = (
                    "" if rss_np is None else f"{rss_np / nvox:.5f}"
                )

        # agreement with scikit-image (open boundaries, both connectivities)
        agree = []
        for conn, sk_conn in ((4, 1), (8, 2)) if img.ndim == 2 else ((6, 1), (26, 3)):
            ours = mk.minkowski(img, periodic=False, connectivity=conn)["euler"]
            theirs = int(euler_number(img, connectivity=sk_conn))
            agree.append(
                f"conn {conn}: {ours} vs {theirs} {'OK' if ours == theirs else 'MISMATCH'}"
            )
        ours_np = numpy_minkowski(img)
        same = ours_np == mk.minkowski(img)
        print(
            f"{'':18s} Euler open == skimage: {'; '.join(agree)}; "
            f"numpy-histogram functionals identical: {same}"
        )
        for r in rows:
            if r["image"] == name:
                r["euler_matches_skimage"] = str(all(a.endswith("OK") for a in agree))
        print()

    path = Path(args.csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "image",
        "shape",
        "n_voxels",
        "method",
        "threads",
        "best_s",
        "median_s",
        "mvoxel_per_s",
        "speedup_vs_skimage",
        "speedup_vs_numpy",
        "tracemalloc_peak_bytes_per_voxel",
        "rss_peak_bytes_per_voxel",
        "euler_matches_skimage",
    ]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
