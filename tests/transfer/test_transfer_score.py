"""Scores of a model on test sets: coverage and R^2 against known answers, and
predictions that agree with what `scattermorph predict` answers."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from scattermorph.errors import ParameterError
from scattermorph.learn.features import from_scale_free
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.transfer.score import Z68, Z95, interval_scores, predict_structures, score_table


@pytest.fixture(scope="module")
def shipped():
    return load_shipped_model()[0]


def test_quantiles():
    assert norm.cdf(Z68) - norm.cdf(-Z68) == pytest.approx(0.68)
    assert norm.cdf(Z95) - norm.cdf(-Z95) == pytest.approx(0.95)


def test_calibrated_synthetic_case(rng):
    # truths drawn from the predictive normal: coverage 0.68 / 0.95, R^2 = 1 - sigma^2 / var(truth)
    n = 40000
    mean = rng.normal(0, 2, n)
    truth = mean + 0.5 * rng.standard_normal(n)
    s = interval_scores(truth, mean, np.full(n, 0.5))
    # binomial sd sqrt(p (1 - p) / n) = 0.0023 (68 %) and 0.0011 (95 %): 4 sd
    assert s["coverage_68"] == pytest.approx(0.68, abs=4 * 0.0023)
    assert s["coverage_95"] == pytest.approx(0.95, abs=4 * 0.0011)
    # var(truth) = 4 + 0.25; the sample R^2 scatters by ~0.002 at this n
    assert s["r2"] == pytest.approx(1 - 0.25 / 4.25, abs=0.005)
    assert s["median_abs_z"] == pytest.approx(norm.ppf(0.75), abs=0.02)


def test_overconfident_synthetic_case(rng):
    # residuals twice the stated std: 95 % intervals hold P(|z| < 0.98) = 0.67
    n = 40000
    truth = rng.normal(0, 1, n)
    s = interval_scores(truth, truth + 0.2 * rng.standard_normal(n), np.full(n, 0.1))
    assert s["coverage_95"] == pytest.approx(2 * norm.cdf(Z95 / 2) - 1, abs=4 * 0.0024)


def test_small_groups():
    s = interval_scores([1.0], [1.1], [0.1])
    assert s["n"] == 1 and np.isnan(s["r2"]) and s["coverage_95"] == 1.0
    assert interval_scores([], [], [])["n"] == 0


def test_training_curves_are_predicted_within_their_intervals(shipped):
    # curves the model was trained on: answered, inside its domain, and close to their truths
    c = shipped.curves
    rows = np.arange(0, c["s_q"].shape[0], 40)
    table = pd.DataFrame(c["values"][rows], columns=shipped.targets).assign(
        set="train", structure=[f"row{r}" for r in rows])
    p = predict_structures(shipped, c["q"], c["s_q"][rows], table)
    assert not p["refused"].any() and p["in_domain"].all()
    s = score_table(p)
    # training rows: the GP mean interpolates them up to its white-noise level, so 95 % holds nearly all
    assert (s["coverage_95"] >= 0.85).all(), s
    # model space and density units agree through q1^p
    for name, g in p.groupby("functional"):
        assert np.allclose(from_scale_free(g["y_mean"], g["q1"], name, 3), g["mean"])
        assert np.allclose(from_scale_free(g["y_true"], g["q1"], name, 3), g["truth"])


def test_narrow_curve_is_refused(shipped):
    # a curve that holds only its peak's top (q/q1 in ~[0.9, 1.1]) covers too little of the window
    c = shipped.curves
    s = c["s_q"][:1].copy()
    peak = np.nanargmax(s[0])
    keep = np.zeros(s.shape[1], dtype=bool)
    keep[max(peak - 2, 0):peak + 3] = True
    s[0, ~keep] = np.nan
    table = pd.DataFrame(c["values"][:1], columns=shipped.targets).assign(set="x", structure="narrow")
    p = predict_structures(shipped, c["q"], s, table)
    assert p["refused"].all()
    assert score_table(p)["n"].eq(0).all()


def test_mismatched_rows_are_refused(shipped):
    c = shipped.curves
    table = pd.DataFrame(c["values"][:2], columns=shipped.targets).assign(set="x", structure=["a", "b"])
    with pytest.raises(ParameterError, match="one curve per structure"):
        predict_structures(shipped, c["q"], c["s_q"][:3], table)


def test_bad_where_is_refused():
    with pytest.raises(ParameterError, match="where"):
        score_table(pd.DataFrame({"set": [], "functional": []}), where="inside")
