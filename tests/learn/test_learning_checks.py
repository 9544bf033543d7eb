"""The learning section's parse-time check against the sweep (scattermorph.learn.checks)."""

import copy
from pathlib import Path

import pytest
import yaml

from scattermorph.errors import ParameterError
from scattermorph.learn.checks import check_learning
from scattermorph.sim.sweep import simulation_table

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/tiny.yaml").read_text())


def test_tiny_study_passes_and_no_section_is_no_check():
    table = simulation_table(CONFIG)
    check_learning(CONFIG, table)
    check_learning({k: v for k, v in CONFIG.items() if k != "learning"}, table.iloc[:1])


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda c: c["learning"]["feature_grid"].update(x_range=[5.0, 0.3]),
         r"learning\.feature_grid\.x_range=\[5\.0, 0\.3\] must be \[lo, hi\]"),
        (lambda c: c["learning"]["targets"].update(coverage_95=[0.98, 0.9]),
         r"learning\.targets\.coverage_95=\[0\.98, 0\.9\] must be \[lo, hi\] with lo <= hi"),
        (lambda c: c["learning"]["extrapolation"].update(phi0_split=0.9),
         r"learning\.extrapolation\.phi0_split=0\.9 leaves one side empty.*\[0\.3, 0\.4, 0\.5\]"),
        (lambda c: c["simulation"]["sweep"].update(phi0=[0.5], replicates=3),
         r"learning needs at least 4 simulations .* the sweep has 3"),
    ],
)
def test_bad_learning_sections(change, pattern):
    cfg = copy.deepcopy(CONFIG)
    change(cfg)
    with pytest.raises(ParameterError, match=pattern):
        check_learning(cfg, simulation_table(cfg))
