"""FFTPair's cached FFTW_MEASURE plans: the same bits on reruns and thread counts."""

import os

import numpy as np
import pytest

from scattermorph import fft as F
from scattermorph.errors import ParameterError
from scattermorph.fft import FFTPair, wisdom_path

pyfftw = pytest.importorskip("pyfftw")


@pytest.fixture
def any_size_threads(monkeypatch):
    """Every FFT on the threads asked for, however small."""
    monkeypatch.setattr(F, "FFT_THREADS_MIN_SIZE", 0)


def _transform(pair, x):
    pair.real[...] = x
    spec = pair.forward().copy()
    return spec, pair.inverse().copy()


@pytest.mark.slow  # measuring threaded plans on a busy machine takes 5-30 s
@pytest.mark.filterwarnings("ignore:FFTW MEASURE plans")  # the fallback is part of the contract
@pytest.mark.parametrize("shape", [(40, 40, 48)])
def test_measured_plans_rerun_bit_for_bit_whatever_the_thread_count(any_size_threads, tmp_path,
                                                                    shape):
    """The first pair measures and writes the cache; later pairs (the
    process's wisdom forgotten in between, as in a new job) rebuild the same
    plans from it, on 1, 2 and 3 threads: the same bits, forward and inverse."""
    x = np.random.default_rng(1).standard_normal(shape)
    first = _transform(FFTPair(shape, "fftw", plan="measure", wisdom=tmp_path), x)
    cache = wisdom_path(tmp_path)
    assert cache.exists() and cache.parent == tmp_path
    for threads in (1, 2, 3):
        pyfftw.forget_wisdom()
        pair = FFTPair(shape, "fftw", threads=threads, plan="measure", wisdom=tmp_path)
        assert pair.plan == "measure" and pair.wisdom == cache
        assert pair.threads in (1, threads)  # one thread where FFTW's plans differed
        again = _transform(pair, x)
        assert np.array_equal(again[0], first[0]) and np.array_equal(again[1], first[1])


def test_measured_and_estimated_plans_agree_to_round_off(tmp_path):
    """Both are exact DFTs in float64: their difference is round-off, a few
    eps times log2(size) times the largest coefficient (bound 1e-12 relative)."""
    shape = (32, 32, 32)
    x = np.random.default_rng(2).standard_normal(shape)
    est = _transform(FFTPair(shape, "fftw"), x)
    mea = _transform(FFTPair(shape, "fftw", plan="measure", wisdom=tmp_path), x)
    assert np.max(np.abs(mea[0] - est[0])) <= 1e-12 * np.max(np.abs(est[0]))
    assert np.max(np.abs(mea[1] - est[1])) <= 1e-12 * np.max(np.abs(est[1]))


def test_measured_plans_leave_the_process_wisdom_and_estimated_plans_alone(tmp_path):
    """The cached wisdom is imported only while measured plans are made: the
    process's own wisdom comes back, and estimated plans made afterwards have
    the bits of estimated plans made before (the default stays reproducible)."""
    shape = (64, 64, 64)
    x = np.random.default_rng(3).standard_normal(shape)
    pyfftw.forget_wisdom()
    before = _transform(FFTPair(shape, "fftw"), x)
    own = pyfftw.export_wisdom()
    FFTPair(shape, "fftw", plan="measure", wisdom=tmp_path)
    assert pyfftw.export_wisdom() == own and wisdom_path(tmp_path).exists()
    after = _transform(FFTPair(shape, "fftw"), x)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])


def test_wisdom_path_default_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv(F.WISDOM_ENV, str(tmp_path / "env"))
    assert wisdom_path().parent == tmp_path / "env"
    monkeypatch.delenv(F.WISDOM_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert wisdom_path().parent == tmp_path / "xdg" / "scattermorph"
    assert wisdom_path(tmp_path / "mine.wisdom") == tmp_path / "mine.wisdom"
    assert wisdom_path(tmp_path).name.startswith("fftw-")


def test_bad_plan_and_bad_cache(tmp_path):
    with pytest.raises(ParameterError, match=r"plan='patient'.*estimate, measure"):
        FFTPair((16, 16), plan="patient")
    bad = tmp_path / "bad.wisdom"
    bad.write_bytes(b"not wisdom")
    with pytest.raises(ParameterError, match=r"bad.wisdom is not FFTW wisdom.*delete it"):
        FFTPair((16, 16), "fftw", plan="measure", wisdom=bad)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        with pytest.raises(ParameterError, match=r"cannot create its folder"):
            FFTPair((16, 16), "fftw", plan="measure", wisdom=locked / "sub")
