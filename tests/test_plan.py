"""scattermorph.plan: every stage's parse-time check, and the tables of runs."""

import copy
from pathlib import Path

import pytest
import yaml

from scattermorph.errors import ParameterError
from scattermorph.plan import plan
from scattermorph.sim.sweep import calibration_table, check_physics, simulation_table

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/tiny.yaml").read_text())


def test_plan_returns_the_sweep_and_the_calibration_runs():
    p = plan(CONFIG)
    assert p.simulations.equals(simulation_table(CONFIG))
    assert p.calibration.equals(calibration_table(CONFIG))
    assert len(p.calibration) == CONFIG["inference"]["calibration_runs"]


@pytest.mark.parametrize(
    "section, change, pattern",
    [
        ("measurement", lambda c: c["measurement"].update(connectivity=26), r"measurement\.connectivity=26"),
        ("learning", lambda c: c["learning"]["extrapolation"].update(phi0_split=0.1),
         r"learning\.extrapolation\.phi0_split=0\.1"),
        ("simulation", lambda c: c["simulation"]["time"].update(dt=0.5), r"simulation\.time\.dt=0\.5"),
        ("inference", lambda c: c["simulation"]["time"].update(n_snapshots=2),
         r"inference\.calibration_runs=4 needs simulation\.time\.n_snapshots >= 3"),
    ],
)
def test_plan_runs_every_stages_check(section, change, pattern):
    cfg = copy.deepcopy(CONFIG)
    change(cfg)
    with pytest.raises(ParameterError, match=pattern):
        plan(cfg)


def test_the_sweep_check_checks_the_simulation_only():
    """check_physics (used for derived studies, e.g. the section structures)
    no longer checks the measurement or learning sections."""
    cfg = copy.deepcopy(CONFIG)
    cfg["measurement"]["connectivity"] = 26
    cfg["learning"]["extrapolation"]["phi0_split"] = 0.1
    assert check_physics(cfg).equals(simulation_table(cfg))
