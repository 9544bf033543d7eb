"""RunSpec: a row of the simulation table, typed and checked once."""

import copy
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from scattermorph.errors import ParameterError
from scattermorph.plan import plan
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau
from scattermorph.sim.spec import MAX_DT_MAX_OVER_TAU, MAX_DT_OVER_TAU, RunSpec
from scattermorph.sim.steppers import ExplicitEuler, explicit_dt_limit
from scattermorph.sim.sweep import calibration_table, check_physics, run_spec, simulation_table

ROOT = Path(__file__).resolve().parents[2]


def load(name):
    return yaml.safe_load((ROOT / name).read_text())


def row(**over):
    """A row as the simulation table holds it: numpy scalars, shape a tuple."""
    r = dict(sim_id="fh_p0.400_q2.00_r0", sim_index=np.int64(3), seed=np.int64(7),
             replicate=np.int64(1), model="flory_huggins", N=np.float64(100.0),
             quench=np.float64(2.0), phi0=np.float64(0.4), gradient="de_gennes",
             kappa=np.float64(1.0), noise=np.float64(1e-4), shape=(64, 64), dx=np.float64(2.0),
             scheme="semi_implicit", laplacian="spectral", stabilization=np.float64(1.0),
             stabilizer="selective", init_amplitude=np.float64(0.01), time_unit="tau",
             t_min=np.float64(5.0), t_max=np.float64(50.0), n_snapshots=np.int64(5),
             dt=np.float64(0.04), accuracy=np.float64(1.5), dt_max=np.float64(1.0))
    r.update(over)
    return r


def old_record(table, sim_id):
    """The dict the simulation rule's params held before RunSpec (the
    removed scattermorph.sim.sweep.record, written out)."""
    r = table.loc[table["sim_id"] == sim_id]
    return {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in r.iloc[0].items()}


# ---------------------------------------------------------------------------
# from_row: casts, refusals
# ---------------------------------------------------------------------------
def test_from_row_casts_every_value_to_its_type():
    spec = RunSpec.from_row(row(shape=[64, 64]))
    for name in ("N", "quench", "phi0", "kappa", "noise", "dx", "stabilization", "init_amplitude",
                 "t_min", "t_max", "dt", "accuracy", "dt_max"):
        assert type(getattr(spec, name)) is float, name
    for name in ("sim_index", "seed", "replicate", "n_snapshots"):
        assert type(getattr(spec, name)) is int, name
    assert spec.shape == (64, 64) and all(type(s) is int for s in spec.shape)
    assert spec.chi is None
    assert (spec.sim_index, spec.seed, spec.phi0, spec.n_snapshots) == (3, 7, 0.4, 5)
    # made once from the row: equal records are equal specs
    assert RunSpec.from_row(row()) == spec


@pytest.mark.parametrize(
    "over, pattern",
    [
        (dict(n_snapshots=2.5), r"n_snapshots=2\.5 .*not an integer"),
        (dict(shape=(64.5, 64)), r"shape=.*not an integer"),
        (dict(model=3), r"model=3 .*not a string"),
        (dict(dt="fast"), r"dt='fast'"),
        (dict(colour="red"), r"unknown key\(s\) \['colour'\]"),
        (dict(scheme="rk4"), r"scheme='rk4': choose 'semi_implicit' or 'explicit'"),
        (dict(stabilizer="none"), r"stabilizer='none': choose 'selective' or 'uniform'"),
        (dict(time_unit="s"), r"time_unit='s': choose 'tau' or 'absolute'"),
        (dict(model="flory"), r"model='flory' is unknown"),
        (dict(quench=np.float64(0.9)), r"gives no spinodal decomposition"),
        (dict(shape=(63, 64)), r"every side must be an even number"),
        (dict(tolerance=-1e-3), r"simulation.time.tolerance=-0.001 must be > 0"),
    ],
)
def test_from_row_refuses_bad_records(over, pattern):
    with pytest.raises(ParameterError, match=pattern):
        RunSpec.from_row(row(**over))


def test_from_row_refuses_a_missing_key():
    r = row()
    del r["dt_max"]  # no fallback: the table always has it (schema default 1 tau)
    with pytest.raises(ParameterError, match=r"lacks \['dt_max'\]"):
        RunSpec.from_row(r)


# ---------------------------------------------------------------------------
# as_params: exactly what the simulation rule's params held before
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["config/tiny.yaml", "config.yaml", "config/tiny3d.yaml"])
def test_as_params_is_the_old_record(name):
    """Snakemake reruns a job whose params' repr changed: the typed record
    gives back the row's dict, key order and numpy scalar types included."""
    cfg = load(name)
    for table in (simulation_table(cfg), calibration_table(cfg)):
        for sim_id in table["sim_id"]:
            old = old_record(table, sim_id)
            new = run_spec(table, sim_id).as_params()
            assert repr(new) == repr(old)
            assert list(new) == list(table.columns)


def test_as_params_round_trip_and_chi():
    spec = RunSpec.from_row(row())
    assert RunSpec.from_row(spec.as_params()) == spec
    with_chi = RunSpec.from_row(row(chi=0.05))
    assert with_chi.free_energy().chi == 0.05
    assert list(with_chi.as_params())[-1] == "chi" and with_chi.as_params()["chi"] == 0.05
    assert "chi" not in spec.as_params()


# ---------------------------------------------------------------------------
# the run's physics, built once
# ---------------------------------------------------------------------------
def test_free_energy_grid_and_times():
    spec = RunSpec.from_row(row())
    model = spec.free_energy()
    assert model is spec.free_energy()  # built once, with the record
    assert model == FloryHugginsDeGennes.at_quench(100.0, 0.4, 2.0, "de_gennes")
    assert spec.time_scale() == model.time_scale
    assert spec.unit_time() == model.time_scale
    assert spec.grid().shape == (64, 64) and spec.grid().dx == 2.0
    tau = model.time_scale
    np.testing.assert_array_equal(spec.snapshot_times(), tau * np.geomspace(5.0, 50.0, 5))
    assert spec.initial_dt() == 0.04 * tau and spec.largest_dt() == 1.0 * tau
    absolute = RunSpec.from_row(row(time_unit="absolute", dt=np.float64(1.0),
                                    dt_max=np.float64(20.0)))
    assert absolute.unit_time() == 1.0 and absolute.initial_dt() == 1.0
    np.testing.assert_array_equal(absolute.snapshot_times(), np.geomspace(5.0, 50.0, 5))
    landau = RunSpec.from_row(row(model="landau", quench=np.float64("nan"), phi0=np.float64(0.5),
                                  kappa=np.float64(2.0), dx=np.float64(1.0)))
    assert landau.free_energy() == Landau(0.5, kappa=2.0)
    explicit = RunSpec.from_row(row(model="landau", quench=np.float64("nan"), phi0=np.float64(0.5),
                                    scheme="explicit", dx=np.float64(1.0), dt=np.float64(0.001)))
    assert explicit.largest_dt() == explicit.initial_dt()  # forward Euler: no growing step


# ---------------------------------------------------------------------------
# the one step check and its message
# ---------------------------------------------------------------------------
def test_semi_implicit_step_limits_and_their_message():
    tau = FloryHugginsDeGennes.at_quench(100.0, 0.4, 2.0).time_scale
    RunSpec.from_row(row(dt=np.float64(MAX_DT_OVER_TAU)))  # the limit itself passes
    with pytest.raises(ParameterError) as exc:
        RunSpec.from_row(row(dt=np.float64(0.05)))
    assert str(exc.value) == (
        f"simulation.time.dt=0.05 tau exceeds 0.04 tau (tau = {tau:.4g} here): the early "
        "linear growth would not be resolved; lower dt")
    with pytest.raises(ParameterError) as exc:
        RunSpec.from_row(row(dt_max=np.float64(1.5)))
    assert str(exc.value) == (
        f"simulation.time.dt_max=1.5 tau exceeds {MAX_DT_MAX_OVER_TAU:g} tau (tau = {tau:.4g} here): "
        "larger steps bias the late coarsening; lower dt_max")
    # absolute units: the value as given, the limit converted
    with pytest.raises(ParameterError, match=rf"^simulation\.time\.dt=50\.0 \(absolute units\) exceeds "
                                             rf"0\.04 tau = {0.04 * tau:.4g} \(tau = {tau:.4g} here\)"):
        RunSpec.from_row(row(time_unit="absolute", dt=np.float64(50.0), dt_max=np.float64(50.0)))
    with pytest.raises(ParameterError, match=r"^simulation\.time\.dt_max=0\.02 must be >= "
                                             r"simulation\.time\.dt=0\.04$"):
        RunSpec.from_row(row(dt_max=np.float64(0.02)))


def test_explicit_step_limit_is_one_check_with_one_message():
    """The record and the stepper refuse the same step with the same words:
    the record in its units (tau), the stepper in absolute units."""
    r = row(model="landau", quench=np.float64("nan"), phi0=np.float64(0.5), scheme="explicit",
            dx=np.float64(1.0), shape=(16, 16))
    model = Landau(0.5)
    tau = model.time_scale
    lim = explicit_dt_limit(model, RunSpec.from_row(dict(r, dt=np.float64(0.001))).grid())
    dt = 1.5 * lim / tau
    with pytest.raises(ParameterError) as from_record:
        RunSpec.from_row(dict(r, dt=np.float64(dt)))
    with pytest.raises(ParameterError) as from_stepper:
        ExplicitEuler(model, RunSpec.from_row(dict(r, dt=np.float64(0.001))).grid(), dt * tau)
    words = r"=(\S+) is unstable for the explicit scheme on this grid \(dx=1, 2D\): need dt < (\S+); " \
            r"lower dt or use the semi-implicit scheme$"
    rec = re.fullmatch(r"simulation\.time\.dt=(\S+) tau is unstable for the explicit scheme on this grid "
                       r"\(dx=1, 2D\): need dt < (\S+) tau; lower dt or use the semi-implicit scheme",
                       str(from_record.value))
    step = re.fullmatch("dt" + words, str(from_stepper.value))
    assert rec and step
    assert float(rec[1]) == pytest.approx(dt, rel=1e-5) and float(rec[2]) == pytest.approx(lim / tau, rel=1e-3)
    assert float(step[1]) == pytest.approx(dt * tau, rel=1e-5) and float(step[2]) == pytest.approx(lim, rel=1e-3)


def test_the_sweep_check_names_the_run():
    cfg = load("config/tiny.yaml")
    cfg["simulation"]["time"]["dt"] = 0.5
    with pytest.raises(ParameterError, match=r"^simulation\.sweep \(fh_p0\.300_q2\.00_r0\): "
                                             r"simulation\.time\.dt=0\.5 tau exceeds 0\.04 tau"):
        check_physics(cfg)


def test_box_rule():
    spec = RunSpec.from_row(row(shape=(16, 16)))  # a valid run ...
    lam = spec.free_energy().length_scale
    assert 16 * 2.0 < 4 * lam
    with pytest.raises(ParameterError, match=r"simulation\.grid \* simulation\.dx = 32 is too small "
                                             r"for fh_p0\.400_q2\.00_r0"):
        spec.check_box()  # ... but not a run of the study
    RunSpec.from_row(row(shape=(256, 256))).check_box()


# ---------------------------------------------------------------------------
# the schema is the one source of defaults
# ---------------------------------------------------------------------------
def test_optional_keys_take_the_schema_default():
    cfg = load("config/tiny.yaml")
    assert "stabilizer" not in cfg["simulation"]
    assert set(simulation_table(cfg)["stabilizer"]) == {"selective"}  # the schema's default
    other = copy.deepcopy(cfg)
    other["simulation"]["stabilizer"] = "uniform"
    other["simulation"]["time"]["accuracy"] = 0.25
    assert set(simulation_table(other)["stabilizer"]) == {"uniform"}
    assert plan(cfg).simulations.equals(simulation_table(cfg))


def test_time_scale_is_tau():
    spec = RunSpec.from_row(row())
    k_m = spec.free_energy().k_critical / math.sqrt(2)
    assert spec.time_scale() == pytest.approx(1.0 / float(spec.free_energy().linear_growth_rate(k_m**2)),
                                              rel=1e-12)


def test_tolerance_is_optional_and_only_a_column_when_set():
    """A config without the error control gives records (and so jobs' params)
    without the column, as before it existed; one that sets it (every study
    config now) gets the column."""
    assert RunSpec.from_row(row()).tolerance is None
    assert RunSpec.from_row(row(tolerance=np.float64("nan"))).tolerance is None
    spec = RunSpec.from_row(row(tolerance=np.float64(3e-4)))
    assert spec.tolerance == 3e-4 and list(spec.as_params())[-1] == "tolerance"
    assert "tolerance" not in RunSpec.from_row(row()).as_params()
    cfg = load("config/tiny.yaml")
    assert cfg["simulation"]["time"]["tolerance"] == 4e-4
    del cfg["simulation"]["time"]["tolerance"]
    assert "tolerance" not in simulation_table(cfg).columns
    cfg["simulation"]["time"]["tolerance"] = 1e-3
    table = simulation_table(cfg)
    assert (table["tolerance"] == 1e-3).all()
    assert run_spec(table, table["sim_id"].iloc[0]).tolerance == 1e-3
