"""run_simulation / save / load: reproducibility, storage, refusal of bad input."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import scattermorph.sim.run as simulate
from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError, ParameterError, SimulationError
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau
from scattermorph.sim.run import load_simulation, run_simulation, save_simulation
from scattermorph.sim.spec import MAX_DT_OVER_TAU, RunSpec
from scattermorph.sim.steppers import Grid, SemiImplicitSpectral


def mode_field(model, shape, modes, amp):
    """phi0 + amp * sum of plane waves cos(2 pi m.x / n)."""
    idx = np.indices(shape)
    phi = np.full(shape, model.phi0)
    for m in modes:
        phi = phi + amp * np.cos(sum(2 * np.pi * mj * xj / n for mj, xj, n in zip(m, idx, shape)))
    return phi


def mode_amplitudes(phi, modes, phi0):
    h = np.fft.rfftn(phi - phi0)
    return np.array([h[tuple(mj % n for mj, n in zip(m, phi.shape))] for m in modes])


def record(**over):
    """A small, fast parameter record (32^2, 5 tau: ~100 steps)."""
    p = dict(model="flory_huggins", N=100, quench=1.5, phi0=0.5, gradient="de_gennes",
             kappa=1.0, noise=1e-4, shape=(32, 32), dx=2.0, dt=0.04, accuracy=0.5, dt_max=0.1,
             t_min=1, t_max=5, n_snapshots=3, time_unit="tau", seed=1, sim_index=0,
             replicate=0, init_amplitude=0.01, scheme="semi_implicit", laplacian="spectral",
             stabilization=1.0, stabilizer="selective", sim_id="s0")
    p.update(over)
    return p


def run(**over):
    """run_simulation of ``record(**over)``."""
    return run_simulation(RunSpec.from_row(record(**over)))


LANDAU = dict(model="landau", kappa=1.0, phi0=0.5, dx=1.0)


# ---------------------------------------------------------------------------
# 6. determinism
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "over",
    [{}, dict(gradient="constant"), dict(laplacian="fd", noise=0.0), LANDAU,
     dict(LANDAU, scheme="explicit", dt=0.005, t_max=2, shape=(16, 16))],
    ids=["fh-degennes", "fh-constant", "fh-fd-nonoise", "landau", "landau-explicit"],
)
def test_same_seed_is_bit_identical_and_seeds_differ(over):
    a, meta_a = run(**over)
    b, _ = run(**over)
    assert a.dtype == np.float32 and a.shape == (3,) + tuple(record(**over)["shape"])
    assert a.tobytes() == b.tobytes()  # bit for bit, not just allclose
    c, _ = run(**over, seed=2)
    d, _ = run(**over, sim_index=1)
    for other in (c, d):  # another study seed or another replicate: another run
        assert not np.array_equal(a, other)
        # and not merely by round-off: the initial fields are independent draws
        assert np.abs(a[0] - other[0]).max() > 1e-3
    # float32 snapshots: the mean equals phi0 to float32 rounding (2^-24 relative)
    phi0 = record(**over)["phi0"]
    assert np.all(np.abs(a.astype(np.float64).mean(axis=(1, 2)) - phi0) < 2 * 2.0**-24)
    assert np.all(np.isfinite(a))
    assert meta_a["steps"][-1] > 0


def test_metadata_describes_the_run():
    p = record()
    spec = RunSpec.from_row(p)
    snaps, meta = run_simulation(spec)
    model = spec.free_energy()
    assert meta["sim_id"] == "s0"
    assert meta["params"]["shape"] == [32, 32]  # tuple stored as JSON list
    assert {k: v for k, v in meta["params"].items() if k != "shape"} == {
        k: v for k, v in p.items() if k != "shape"}
    np.testing.assert_allclose(meta["times"], spec.snapshot_times(), rtol=0, atol=0)
    assert meta["derived"]["time_scale_tau"] == model.time_scale
    assert meta["derived"]["box_length"] == [64.0, 64.0]
    assert meta["model"]["chi"] == pytest.approx(1.5 * 0.02, rel=1e-14)
    assert np.all(np.diff(meta["steps"]) > 0)
    json.dumps(meta)  # serialisable as is


# ---------------------------------------------------------------------------
# snapshot times
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("over", [dict(), dict(phi0=0.3, quench=2.5), LANDAU])
def test_snapshot_times_log_spaced_in_tau(over):
    p = record(**over, t_min=5, t_max=500, n_snapshots=7)
    t = RunSpec.from_row(p).snapshot_times()
    tau = RunSpec.from_row(p).free_energy().time_scale
    assert t[0] == pytest.approx(5 * tau, rel=1e-14)
    assert t[-1] == pytest.approx(500 * tau, rel=1e-14)
    # log-spaced: constant ratio 100^(1/6) between neighbours
    np.testing.assert_allclose(t[1:] / t[:-1], 100 ** (1 / 6), rtol=1e-13)
    # absolute units leave the numbers alone
    t_abs = RunSpec.from_row(dict(p, time_unit="absolute")).snapshot_times()
    np.testing.assert_allclose(t_abs, np.geomspace(5, 500, 7), rtol=1e-14)


# ---------------------------------------------------------------------------
# 9. storage
# ---------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    snaps, meta = run()
    path = tmp_path / "sub" / "s0.npz"  # parent created on demand
    save_simulation(path, snaps, meta)
    phi, times, meta2 = load_simulation(path)
    assert phi.dtype == snaps.dtype
    np.testing.assert_array_equal(phi, snaps)
    np.testing.assert_array_equal(times, np.asarray(meta["times"]))
    assert meta2 == meta  # JSON round trip preserves every field
    assert [p.name for p in path.parent.iterdir()] == ["s0.npz"]  # no temp files


def test_atomic_write_leaves_no_file_when_writer_fails(tmp_path):
    path = tmp_path / "out.npz"

    def broken(tmp):
        Path(tmp).write_bytes(b"half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken(tmp):
        Path(tmp).write_text("new but incomplete")
        raise KeyboardInterrupt  # BaseException: e.g. the job is killed

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    atomic_write(path, lambda tmp: Path(tmp).write_text("new"))
    assert path.read_text() == "new"


def _garbage(kind, tmp_path):
    path = tmp_path / f"{kind}.npz"
    if kind == "text":
        path.write_text("this is not a simulation\n" * 20)
    elif kind == "missing":
        pass
    elif kind == "no-keys":
        np.savez(path, x=np.zeros(3))
    elif kind == "bad-json":
        np.savez(path, phi=np.zeros((1, 8, 8), np.float32), times=np.zeros(1), meta=np.array("{not json"))
    elif kind in ("empty", "truncated"):
        good = tmp_path / "good.npz"
        save_simulation(good, np.zeros((2, 8, 8), np.float32), {"times": [1.0, 2.0]})
        data = good.read_bytes()
        path.write_bytes(b"" if kind == "empty" else data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "kind",
    ["text", "missing", "no-keys", "bad-json",
     "empty", "truncated"],
)
def test_load_garbage_raises_input_file_error(kind, tmp_path):
    path = _garbage(kind, tmp_path)
    with pytest.raises(InputFileError, match=re.escape(str(path)) + r": not a scattermorph simulation file"):
        load_simulation(path)


# ---------------------------------------------------------------------------
# 8. bad input through run_simulation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "over, pattern",
    [
        (dict(phi0=1.2), r"phi0=1.2 is outside \(0, 1\)"),
        (dict(phi0=-0.1), r"phi0=-0.1 is outside \(0, 1\)"),
        (dict(phi0=0.0), r"phi0=0.0 is outside \(0, 1\)"),
        (dict(phi0=1.0), r"phi0=1.0 is outside \(0, 1\)"),
        (dict(N=0), r"N=0.0 is not a valid degree"),
        (dict(LANDAU, phi0=1.5), r"phi0=1.5 is outside \(0, 1\)"),
        (dict(LANDAU, phi0=0.1), r"outside the spinodal of the phi\^4 model"),
        (dict(quench=1.0), r"chi=0\.02\d* gives no spinodal decomposition.*chi_s = .* = 0\.02;"),
        (dict(quench=0.5), r"chi=0\.01\d* gives no spinodal.*chi_s = 1/\(2 N phi0 \(1-phi0\)\) = 0\.02;"),
        (dict(chi=0.015, phi0=0.3), r"chi=0.015 gives no spinodal decomposition at phi0=0.3.*= 0\.0238095"),
        (dict(dx=0.0), r"dx=0.0 must be a positive number"),
        (dict(dx=-2.0), r"dx=-2.0 must be a positive number"),
        (dict(shape=(31, 32)), r"every side must be an even number >= 8"),
        (dict(shape=(4, 4)), r"every side must be an even number >= 8"),
        (dict(shape=(64,)), r"only 2D and 3D grids"),
        (dict(noise=-1e-4), r"noise=-0.0001 must be >= 0"),
        (dict(t_min=10, t_max=5), r"strictly increasing"),
        (dict(t_min=5, t_max=5), r"strictly increasing"),
        (dict(dt=0.2), r"simulation\.time\.dt=0\.2 tau exceeds 0\.04 tau"),
        (dict(dt_max=2.0), r"dt_max=.* exceeds 1 tau"),
        (dict(scheme="explicit", dt=0.05), r"unstable for the explicit scheme .*need dt < \d"),
        (dict(scheme="rk4"), r"scheme='rk4': choose 'semi_implicit' or 'explicit'"),
        (dict(init_amplitude=0.6), r"initial amplitude=0.6 must be > 0"),
    ],
)
def test_run_simulation_refuses_bad_input(over, pattern):
    with pytest.raises(ParameterError, match=pattern):
        run(**over)


def test_blow_up_raises_and_writes_nothing(tmp_path, monkeypatch):
    """Huge noise (10 x thermal) on a deep quench: NaN -> SimulationError, no file."""
    saved = []
    monkeypatch.setattr(simulate, "save_simulation", lambda *a, **k: saved.append(a))
    out = tmp_path / "blown.npz"

    def rule(p):  # what the simulate_microstructure rule does
        snaps, meta = simulate.run_simulation(RunSpec.from_row(p))
        simulate.save_simulation(out, snaps, meta)

    with pytest.raises(SimulationError, match=r"NaN"):
        rule(record(quench=3.0, noise=10.0, dt=0.02))
    assert saved == [] and not out.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# the step limit of run_simulation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [FloryHugginsDeGennes(100, 0.03, 0.5, "de_gennes"),
     FloryHugginsDeGennes(100, 1.5 / 48, 0.4, "constant"),
     FloryHugginsDeGennes(100, 2.5 / 42, 0.3, "de_gennes"),
     Landau(0.5)],
    ids=["fh-degennes", "fh-constant", "fh-deep-degennes", "landau"],
)
def test_largest_allowed_step_resolves_linear_growth(model):
    """At dt = MAX_DT_OVER_TAU tau (the largest step run_simulation accepts) the
    fastest-growing mode, amplitude 1e-6, grows over 5 tau to within 25 % of
    exp(5), as the comment on MAX_DT_OVER_TAU promises (the stepper's adaptive
    stabilisation is zero inside the spinodal)."""
    km = model.k_critical / math.sqrt(2)  # fastest mode: omega(km) = 1 / tau
    n, m = 32, 4
    dx = 2 * math.pi * m / (km * n)  # box holds exactly m fastest wavelengths
    st = SemiImplicitSpectral(model, Grid((n, n), dx), MAX_DT_OVER_TAU * model.time_scale)
    phi = mode_field(model, (n, n), [(m, 0)], 1e-6)
    st.set_state(phi)
    a0 = mode_amplitudes(phi, [(m, 0)], model.phi0).real[0]
    aT = mode_amplitudes(st.step(int(round(5 / MAX_DT_OVER_TAU))), [(m, 0)], model.phi0).real[0]
    assert aT / a0 == pytest.approx(math.exp(5), rel=0.25)


def test_atomic_write_gives_usual_permissions(tmp_path):
    """Outputs are readable by the group and others as with open() (umask),
    not 0600 like the temporary file mkstemp creates."""
    import os
    import stat

    from scattermorph._io import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "t.txt", lambda tmp: open(tmp, "w").write("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "t.txt").stat().st_mode) == 0o644
