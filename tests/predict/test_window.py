"""Refits on the q window a curve covers, their cross-validated accuracy, the refusals it decides, and the cache.

The small model is fitted on the synthetic 2D family of tests/predict/test_model.py
(peaked curves with a tail exponent m, reaching q/q1 ~ 25), so any window of
[0.3, 5] is covered by every training curve; the shipped model gives the
refusal test a real measured accuracy.
"""

import numpy as np
import pytest

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.features import window_curve
from scattermorph.predict.apply import apply_model
from scattermorph.predict.fit import fit_models
from scattermorph.predict.modelfile import load_model, load_shipped_model, save_model
from scattermorph.predict.smearing import resolution_model, smeared_model
from scattermorph.predict.window import MIN_R2, covered_window, effective_r2, refusals, window_key
from scattermorph.sas.curves import check_curve

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

Q = np.geomspace(0.004, 5.0, 160)
NAMES = ["area_density", "perimeter_density"]


def family(m, qp, q=Q):
    x = q / qp
    return x ** 2 / (1 + x ** (2 + m))


def dataset(n, seed):
    rng = np.random.default_rng(seed)
    m, qp = rng.uniform(3.0, 4.5, n), np.exp(rng.uniform(np.log(0.05), np.log(0.2), n))
    s_q = np.array([family(a, b) for a, b in zip(m, qp)])
    return s_q, {"area_density": 0.2 + 0.1 * (m - 3), "perimeter_density": (1 + 0.3 * (m - 3)) * qp}


@pytest.fixture(scope="module")
def model():
    s_q, table = dataset(40, 1)
    return fit_models(Q, s_q, table, 2, NAMES, restarts=0, random_state=0, groups=np.arange(40) // 4)


def test_window_refit_is_the_fit_on_that_window(model):
    """Re-optimised ("fit"), the refit is fit_models on the training curves with the window's x_range;
    with the parent's hyper-parameters kept ("fixed"), it is that fit started there without optimising."""
    s_q, table = dataset(40, 1)
    groups = np.arange(40) // 4
    test, _ = dataset(8, 5)
    direct = fit_models(Q, s_q, table, 2, NAMES, restarts=0, random_state=0, groups=groups, x_range=(0.5, 2.0))
    refit = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fit")
    a, b = direct.predict_curves(Q, test), refit.predict_curves(Q, test)
    for k in NAMES:  # the same computation: equal to round-off
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9)
    fixed = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fixed")
    kept = fit_models(Q, s_q, table, 2, NAMES, restarts=0, random_state=0, groups=groups, x_range=(0.5, 2.0),
                      start=model.specs, optimise=False)
    for k in NAMES:
        assert fixed.specs[k]["theta"] == model.specs[k]["theta"]  # the parent's hyper-parameters
        np.testing.assert_allclose(fixed.predict_curves(Q, test)[k], kept.predict_curves(Q, test)[k], rtol=1e-9)
    assert fixed.features["x_range"] == [0.5, 2.0] and fixed.training["resolution"]["x_range"] == [0.5, 2.0]


def test_window_accuracy_is_stored_per_functional_and_sane(model):
    """The family's densities are smooth functions of the curve's shape: on a window that holds the peak
    and its flanks the refit must predict held-out simulations well (R^2 near 1, not a placeholder)."""
    refit = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fixed")
    acc = refit.training["window_accuracy"]
    assert set(acc) == set(NAMES)
    for k in NAMES:
        assert acc[k]["r2"] > 0.9 and acc[k]["r2_model"] > 0.9
        assert 0 <= acc[k]["coverage_95"] <= 1 and acc[k]["folds"] == 5
    assert refusals(refit) == {}


def test_covered_window_of_a_cut_curve(model):
    """A curve cut at 0.5 and 2 of its q1 covers a window inside [0.5, 2] (rounded inwards, at its own q1
    there); a curve covering the model's window needs none."""
    s = family(3.6, 0.1)
    assert covered_window(model, Q, s) is None
    _, _, q1 = window_curve(Q, s, 2, model.features["x_range"])
    cut = (Q >= 0.5 * q1) & (Q <= 2.0 * q1)
    lo, hi = covered_window(model, Q[cut], s[cut])
    assert 0.5 <= lo < hi <= 2.0 and hi >= 2 * lo
    qw, _, q1w = window_curve(Q[cut], s[cut], 2, (lo, hi))
    assert qw[0] <= lo * q1w * (1 + 1e-6) and qw[-1] >= hi * q1w * (1 - 1e-6)  # covered at its own q1
    with pytest.raises(ParameterError, match="narrower than a factor 2"):
        narrow = (Q >= 0.8 * q1) & (Q <= 1.3 * q1)
        covered_window(model, Q[narrow], s[narrow])


@pytest.mark.parametrize("x_range, key", [(None, None), ((0.3, 5.0), None), ((0.52, 2.1), (0.5, 2.0)),
                                          ((0.2, 9.0), None)])
def test_window_key_rounds_and_clips_to_the_model_window(model, x_range, key):
    assert window_key(model, x_range) == key


def test_window_refits_are_cached_by_parent_resolution_and_window(model, tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, model, {"rule": "test"})
    loaded = load_model(path)
    cache = tmp_path / "cache"
    m1, i1 = resolution_model(loaded, 0.0, x_range=(0.5, 2.0), cache_dir=cache)
    assert i1["refit"] and i1["cache"].endswith("_dq0.000_x0.50-2.00.npz")
    m2, i2 = resolution_model(loaded, 0.0, x_range=(0.52, 2.04), cache_dir=cache)  # the same rounded window
    assert not i2["refit"] and i2["cache"] == i1["cache"]
    test, _ = dataset(5, 7)
    for k in NAMES:
        np.testing.assert_allclose(m2.predict_curves(Q, test)[k], m1.predict_curves(Q, test)[k], rtol=1e-12)
    assert m2.training["window_accuracy"] == m1.training["window_accuracy"]
    _, i3 = resolution_model(loaded, 0.1, x_range=(0.5, 2.0), cache_dir=cache)  # resolution and window: its own
    assert i3["refit"] and i3["cache"].endswith("_dq0.100_x0.50-2.00.npz")
    same, i0 = resolution_model(loaded, 0.0, cache_dir=cache)  # the model's own window, no resolution
    assert same is loaded and not i0["refit"]


def test_refusal_names_the_functional_the_window_and_the_accuracy(model):
    """A refit whose window accuracy is below MIN_R2 for one functional answers the other and says why; all
    refused is an error naming each."""
    refit = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fixed")
    refit.training["window_accuracy"]["perimeter_density"].update(r2=MIN_R2 - 0.3, r2_model=MIN_R2 - 0.3)
    s = family(3.6, 0.1)
    _, _, q1 = window_curve(Q, s, 2, model.features["x_range"])
    cut = (Q >= 0.5 * q1) & (Q <= 2.0 * q1)
    curve = check_curve(Q[cut], s[cut], 0.01 * s[cut], q_unit="1/b", source="cut.dat")
    from scattermorph.predict.apply import _refuse

    pred = refit.predict(curve, None, background={"value": 0.0, "sigma": 0.0})
    _refuse(pred, refit, (0.5, 2.0), "cut.dat")
    row = pred.table.set_index("functional")
    assert np.isnan(row.loc["perimeter_density", "mean"]) and np.isfinite(row.loc["area_density", "mean"])
    [msg] = [w for w in pred.warnings if "refused" in w]
    assert "perimeter_density" in msg and "[0.5, 2]" in msg and f"{MIN_R2 - 0.3:.3f}" in msg
    assert pred.to_dict()["functionals"]["perimeter_density"]["mean"] is None  # JSON null, not NaN
    refit.training["window_accuracy"]["area_density"].update(r2=0.1, r2_model=0.1)
    pred = refit.predict(curve, None, background={"value": 0.0, "sigma": 0.0})
    with pytest.raises(InputFileError, match=r"area_density refused.*R\^2 is 0.100.*perimeter_density refused"):
        _refuse(pred, refit, (0.5, 2.0), "cut.dat")


def test_effective_r2_is_the_r2_of_predictions_with_an_added_independent_error():
    """Brute force: values y, a model error of variance (1 - R^2) var(y) (the cross-validated RMS) and an
    independent background error of std s_b; the R^2 of y + both errors against y is effective_r2."""
    rng = np.random.default_rng(7)
    n, r2 = 200_000, 0.9
    y = rng.normal(0.0, 2.0, n)
    s_model = np.sqrt((1 - r2)) * y.std()
    for s_b in (0.0, 0.5 * s_model, 3.0 * s_model):
        pred = y + s_model * rng.standard_normal(n) + s_b * rng.standard_normal(n)
        measured = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
        # the residual variance's relative sampling error is sqrt(2 / n) = 0.3 %: 1 % of (1 - R^2) is 10 sigma
        expected = effective_r2(r2, s_b, s_model)
        assert abs(measured - expected) < 0.01 * (1 - expected)
    assert effective_r2(0.8, np.nan, 1.0) == 0.8  # no spread of draws (a refused functional's NaN): unchanged
    assert effective_r2(0.8, 1.0, 0.0) == 0.8  # no residual RMS to compare with: unchanged


def test_a_background_error_that_swamps_the_model_is_warned_about(model):
    """A functional answered with the background known (sigma 0) carries a warning, still answered, when the
    curve's background is uncertain enough that the spread of its prediction over background draws, added to the
    model's cross-validated error, leaves R^2 below MIN_R2 (judged in units of the curve's q1)."""
    refit = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fixed")
    refit.training["window_accuracy"]["area_density"].update(r2=0.8, r2_model=0.8)
    s = family(3.6, 0.1)
    _, _, q1 = window_curve(Q, s, 2, model.features["x_range"])
    cut = (Q >= 0.5 * q1) & (Q <= 2.0 * q1)
    curve = check_curve(Q[cut], s[cut], 0.01 * s[cut], q_unit="1/b", source="cut.dat")
    from scattermorph.predict.apply import _refuse

    known = refit.predict(curve, None, background={"value": 0.0, "sigma": 0.0}, n_draws=50)
    _refuse(known, refit, (0.5, 2.0), "cut.dat")
    assert "area_density" not in known.info.get("refused", {})
    assert not [w for w in known.warnings if w.startswith("area_density:")]
    unsure = refit.predict(curve, None, background={"value": 0.0, "sigma": 0.25 * float(s[cut][-1])}, n_draws=50)
    row = unsure.table.set_index("functional").loc["area_density"]
    # the same numbers by hand: the density's spread over background draws (area density: dimensionless,
    # q1^0) against the cross-validated RMS, sd(training targets) sqrt(1 - R^2)
    rmse = np.std(refit.Y[:, refit.targets.index("area_density")]) * np.sqrt(1 - 0.8)
    expected = 1 - 0.2 * (1 + (row["std_noise"] / rmse) ** 2)
    assert expected < MIN_R2  # a background sigma of a quarter of the edge intensity swamps the model's error
    _refuse(unsure, refit, (0.5, 2.0), "cut.dat")
    assert "refused" not in unsure.info  # answered
    from scattermorph.predict.window import effective_accuracy

    got = effective_accuracy(refit, unsure)["area_density"]
    assert got["r2_window"] == 0.8 and got["r2_effective"] == pytest.approx(expected, rel=1e-12)
    [msg] = [w for w in unsure.warnings if w.startswith("area_density:")]
    assert "background and noise errors added" in msg and "--background" in msg
    assert not [w for w in unsure.warnings if w.startswith("perimeter_density:")]  # less sensitive: no warning


def test_window_r2_is_the_larger_of_physical_and_scale_free(model):
    """A functional counts as predictable on a window when either its physical or its scale-free
    cross-validated R^2 is high (see effective_accuracy)."""
    from scattermorph.predict.window import effective_accuracy

    refit = smeared_model(model, 0.0, x_range=(0.5, 2.0), hyperparameters="fixed")
    refit.training["window_accuracy"]["area_density"].update(r2=-3.0, r2_model=0.8)
    refit.training["window_accuracy"]["perimeter_density"].update(r2=0.9, r2_model=0.1)
    acc = effective_accuracy(refit)
    assert acc["area_density"]["r2_window"] == 0.8 and acc["perimeter_density"]["r2_window"] == 0.9
    assert refusals(refit) == {}
    refit.training["window_accuracy"]["perimeter_density"].update(r2=0.3, r2_model=0.1)
    assert set(refusals(refit)) == {"perimeter_density"}


@pytest.mark.slow
def test_shipped_model_on_a_curve_missing_the_low_q_side():
    """The study's own curve cut to q/q1 >= 0.65 (from 0.75 up the applicability check finds no peak
    standing clear of the low-q end, and refuses it first): predict refits the shipped model on the window the curve
    covers and refuses exactly the functionals whose cross-validated R^2 there is below MIN_R2, answering the
    others (measured: the low-q side carries the curvature and Euler densities)."""
    base, _ = load_shipped_model()
    q, s = base.curves["q"], base.curves["s_q"][200]
    ok = np.isfinite(s) & (s > 0)
    q, s = q[ok], s[ok]
    _, _, q1 = window_curve(q, s, 3, base.features["x_range"])
    cut = q >= 0.65 * q1
    curve = check_curve(q[cut], s[cut], 0.02 * s[cut], q_unit="1/b", source="row200.dat")
    [res] = apply_model(base, [("row200.dat", curve)], background=0.0, n_draws=20)
    info = res.prediction.info
    assert info["window"]["refit"] and info["window"]["x_range"][0] > base.features["x_range"][0]
    low = {k for k, v in info["window"]["accuracy"].items() if v["r2_effective"] < MIN_R2}
    assert set(info.get("refused", {})) == low
    assert "volume_density" not in low  # answered: its value is finite
    assert np.isfinite(res.prediction.table.set_index("functional").loc["volume_density", "mean"])
