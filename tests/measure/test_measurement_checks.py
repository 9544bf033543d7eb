"""The measurement section's parse-time check (scattermorph.measure.checks)."""

import copy
from pathlib import Path

import pytest
import yaml

from scattermorph.errors import ParameterError
from scattermorph.measure.checks import check_measurement

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/tiny.yaml").read_text())


def test_tiny_study_passes_and_no_section_is_no_check():
    check_measurement(CONFIG)
    check_measurement({k: v for k, v in CONFIG.items() if k != "measurement"})


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda m: m.update(connectivity=6), r"measurement\.connectivity=6 is not a 2D connectivity"),
        (lambda m: m["q"].update(min=2.0), r"measurement\.q\.max=1\.5 must exceed measurement\.q\.min=2\.0"),
        (lambda m: m["porod"].update(q_min=0.9), r"measurement\.porod window \[0\.9, 0\.8\] must be increasing"),
        (lambda m: m["porod"].update(q_max=2.0), r"porod window \[0\.2, 2\.0\] must be increasing and inside"),
        (lambda m: m["instrument"].update(q_window=[1.0, 0.03]), r"q_window=\[1\.0, 0\.03\] must be \[lo, hi\]"),
    ],
)
def test_bad_measurement_sections(change, pattern):
    cfg = copy.deepcopy(CONFIG)
    change(cfg["measurement"])
    with pytest.raises(ParameterError, match=pattern):
        check_measurement(cfg)
