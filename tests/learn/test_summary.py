"""Tests of scattermorph.learn.summary: the learning stage's summary page,
from hand-made tables whose right rows can be stated."""

import pandas as pd
from scipy.stats import binom

from scattermorph.learn.protocols import check_targets
from scattermorph.learn.summary import coverage_band_lines, summary_markdown


def test_summary_shows_the_baseline_row_and_before_after():
    metrics = pd.DataFrame({
        "functional": ["area_density", "area_density"], "role": ["selected", "baseline"],
        "features": ["scale_free", "log_sq"], "model": ["gp_se", "gp_paper"], "r2": [0.97, 0.93],
        "sigma_scale": [1.5, 0.8], "coverage_95": [0.80, 0.99], "coverage_68": [0.50, 0.9], "z_std": [1.5, 0.6],
        "coverage_95_cal": [0.94, 0.95], "coverage_68_cal": [0.70, 0.69], "z_std_cal": [1.0, 1.0]})
    targets = check_targets(metrics, {"r2": {"area_density": 0.95}, "coverage_95": [0.9, 0.98],
                                      "coverage_68": [0.6, 0.76], "z_std": [0.8, 1.2]})
    empty = pd.DataFrame()
    page = summary_markdown(targets=targets, metrics=metrics, comparison=pd.DataFrame(
        {"functional": [], "gp": [], "r2": [], "model": [], "features": []}), paper=empty,
        extrapolation=empty, robustness=empty, n_train_sims=3, n_test_sims=3)
    assert "| area_density | selected | gp_se | scale_free | 0.970 (0.95) | 1.50 | 0.80 -> 0.94 | 0.50 -> 0.70 " \
           "| 1.50 -> 1.00 | yes |" in page
    assert "| area_density | paper's GP | gp_paper | log_sq | 0.930 (0.95) | 0.80 | 0.99 -> 0.95 |" in page
    assert "as good or better for 1 of 1 functionals" in page


def test_coverage_band_lines_tell_sampling_noise_from_miscalibration():
    """With n held-out runs as independent units a calibrated model's 95 %
    coverage is Binomial(n, 0.95) / n: for n = 24 its central 95 % range is
    20/24-24/24 = 0.83-1 (P(X <= 19) < 0.025 <= P(X <= 20) = 0.030). A
    coverage of 0.88 misses the 0.90-0.98 target but lies in that range;
    0.80 does not."""
    assert binom.cdf(19, 24, 0.95) < 0.025 <= binom.cdf(20, 24, 0.95)
    bands = {"coverage_95": (0.90, 0.98), "coverage_68": (0.60, 0.76), "z_std": (0.8, 1.2)}
    sel = pd.DataFrame({"coverage_95_cal": [0.88, 0.80, 0.95], "coverage_68_cal": [0.70, 0.70, 0.70]},
                       index=["a", "b", "c"])
    lines = coverage_band_lines(sel, 24, bands)
    assert "95 % coverage falls in 0.83-1.00" in lines[0]
    text = "\n".join(lines)
    assert "a: 95 % coverage 0.88, outside the target 0.90-0.98 but inside the sampling range" in text
    assert "b: 95 % coverage 0.80, outside the target 0.90-0.98 and outside the sampling range" in text
    assert "c:" not in text
