"""The discrepancy term: exact smallest parameters, known answers on synthetic
residuals, and a leave-one-set-out that never sees the set it scores."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from scattermorph.errors import ParameterError
from scattermorph.transfer.discrepancy import fit_discrepancy, inflate, leave_one_set_out, required_parameter
from scattermorph.transfer.score import Z95, interval_scores


def _predictions(rng, sets):
    """Rows as predict_structures makes them (q1 = 1: model space = density units)
    for sets {name: (n, factor)}: residuals factor * std * z."""
    frames = []
    for name, (n, factor) in sets.items():
        std = rng.uniform(0.5, 2.0, n)
        truth = rng.normal(0, 3, n)
        mean = truth + factor * std * rng.standard_normal(n)
        frames.append(pd.DataFrame({"set": name, "structure": [f"{name}{i}" for i in range(n)],
                                    "functional": "volume_density", "truth": truth, "mean": mean, "std": std,
                                    "y_true": truth, "y_mean": mean, "y_std": std, "q1": 1.0}))
    return pd.concat(frames, ignore_index=True)


def test_scale_parameter_matches_the_normal_quantile(rng):
    # residuals 2 sigma z: covering 90 % needs s = 2 q_0.95 / z_0.975 (|z| <= q_0.95 for 90 %)
    n = 20000
    std = rng.uniform(0.5, 2, n)
    resid = 2 * std * rng.standard_normal(n)
    s = required_parameter(resid, std, kind="scale", target=0.9)
    expected = 2 * norm.ppf(0.95) / Z95
    # the sample 0.9-quantile of |z| has sd sqrt(0.9 * 0.1 / n) / (2 phi(1.645)) = 0.0021 (x 2 / 1.96): 5 sd
    assert s == pytest.approx(expected, abs=5 * 0.0021 * 2 / Z95)


def test_additive_parameter_matches_the_normal_quantile(rng):
    # a pure discrepancy delta z (own std negligible): delta_req = delta q_0.95 / z_0.975
    n = 20000
    resid = 0.3 * rng.standard_normal(n)
    d = required_parameter(resid, np.full(n, 1e-9), kind="additive", target=0.9)
    assert d == pytest.approx(0.3 * norm.ppf(0.95) / Z95, abs=5 * 0.0021 * 0.3 / Z95)


@pytest.mark.parametrize("kind", ["scale", "additive"])
def test_parameter_is_the_smallest_that_meets_the_target(rng, kind):
    p = _predictions(rng, {"a": (37, 3.0)})
    par = required_parameter(p["y_mean"] - p["y_true"], p["y_std"], kind=kind, target=0.9)
    for factor, ok in ((1.0, True), (1 - 1e-6, False)):
        std = inflate(p, {"volume_density": par * factor}, kind=kind)
        cov = interval_scores(p["truth"], p["mean"], std)["coverage_95"]
        assert (cov >= 0.9) is ok, (factor, cov)


def test_no_shrinking_when_already_covered(rng):
    p = _predictions(rng, {"a": (50, 0.1)})
    assert required_parameter(p["y_mean"] - p["y_true"], p["y_std"], kind="scale") == 1.0
    assert required_parameter(p["y_mean"] - p["y_true"], p["y_std"], kind="additive") == 0.0


def test_every_rule_meets_the_target_on_each_set_mean_rule_on_average(rng):
    p = _predictions(rng, {"a": (40, 1.0), "b": (40, 4.0), "c": (400, 1.0)})
    every = fit_discrepancy(p, kind="scale", rule="every")["volume_density"]
    mean = fit_discrepancy(p, kind="scale", rule="mean")["volume_density"]
    assert mean < every

    def covs(par):
        return [interval_scores(g["truth"], g["mean"], inflate(g, {"volume_density": par}))["coverage_95"]
                for _, g in p.groupby("set")]

    assert min(covs(every)) >= 0.9
    # the mean rule: the average of the three sets' coverages (not of the 480 rows) reaches 0.9, just
    assert np.mean(covs(mean)) >= 0.9 > np.mean(covs(mean * (1 - 1e-6)))


def test_leave_one_set_out_never_sees_its_set(rng):
    p = _predictions(rng, {"a": (30, 1.0), "b": (30, 2.0), "c": (30, 3.0)})
    table = leave_one_set_out(p, kind="scale")
    # set a's parameter is the one fitted on b and c alone ...
    alone = fit_discrepancy(p[p["set"] != "a"], kind="scale")["volume_density"]
    assert table.loc[table["set"] == "a", "parameter"].item() == alone
    # ... and does not move when a's own residuals do, while b's (fitted on a and c) does
    wild = p.copy()
    wild.loc[wild["set"] == "a", "y_mean"] += 50 * wild.loc[wild["set"] == "a", "y_std"]
    wild["mean"] = wild["y_mean"]
    again = leave_one_set_out(wild, kind="scale")
    assert again.loc[again["set"] == "a", "parameter"].item() == alone
    assert again.loc[again["set"] == "b", "parameter"].item() > table.loc[table["set"] == "b", "parameter"].item()
    assert set(table.loc[table["set"] == "a", "fitted_on"].item().split(",")) == {"b", "c"}


def test_width_ratio_is_the_scale():
    p = pd.DataFrame({"set": ["a"] * 3 + ["b"] * 3, "structure": list("uvwxyz"), "functional": "volume_density",
                      "truth": 0.0, "mean": [1.0, 2, 3, 1, 2, 3], "std": 1.0, "y_true": 0.0,
                      "y_mean": [1.0, 2, 3, 1, 2, 3], "y_std": 1.0, "q1": 1.0})
    t = leave_one_set_out(p, kind="scale", target=2 / 3)
    # 2 of 3 residuals (1, 2) covered from s = 2 / 1.96 on
    assert t["parameter"].tolist() == pytest.approx([2 / Z95] * 2)
    assert t["width_ratio"].tolist() == pytest.approx([2 / Z95] * 2)
    assert t["coverage_95_after"].tolist() == pytest.approx([2 / 3] * 2)
    assert math.isclose(t["coverage_95_before"].iloc[0], 1 / 3)


@pytest.mark.parametrize("kw", [{"kind": "multiplicative"}, {"rule": "worst"}, {"target": 0.0}])
def test_bad_options_are_refused(rng, kw):
    p = _predictions(rng, {"a": (5, 1.0), "b": (5, 1.0)})
    with pytest.raises(ParameterError):
        fit_discrepancy(p, **kw)


def test_one_set_is_refused(rng):
    with pytest.raises(ParameterError, match="at least two sets"):
        leave_one_set_out(_predictions(rng, {"a": (5, 1.0)}))


def test_rows_outside_the_fit_never_shape_the_term(rng):
    p = _predictions(rng, {"a": (30, 1.0), "b": (30, 1.0), "wild": (30, 30.0)})
    fit = (p["set"] != "wild").to_numpy()
    table = leave_one_set_out(p, kind="scale", fit_rows=fit)
    # the wild set is scored with the term of a and b, and is fitted on by nobody
    assert table.loc[table["set"] == "wild", "parameter"].iloc[0] == fit_discrepancy(p[fit], kind="scale")[
        "volume_density"]
    assert not table["fitted_on"].str.contains("wild").any()
    # only set a may shape the term: a itself has no other set to be fitted on, so its term is
    # not determined (NaN) and its intervals are left as they were; b and wild get a's term
    alone = leave_one_set_out(p, kind="scale", fit_rows=(p["set"] == "a").to_numpy())
    a = alone[alone["set"] == "a"].iloc[0]
    assert np.isnan(a["parameter"]) and a["fitted_on"] == ""
    assert a["coverage_95_after"] == a["coverage_95_before"] and a["width_ratio"] == 1.0
    b = alone[alone["set"] == "b"].iloc[0]
    assert b["parameter"] == fit_discrepancy(p[p["set"] == "a"], kind="scale")["volume_density"]
