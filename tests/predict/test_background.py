"""The flat background fitted as a nuisance parameter, given by --background, and carried into the uncertainty."""

import numpy as np
import pytest

from scattermorph.cli import main
from scattermorph.errors import ParameterError
from scattermorph.learn.features import window_curve
from scattermorph.predict.background import check_background, fit_background, subtract_background
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.sas.curves import check_curve


@pytest.fixture(scope="module")
def shipped():
    return load_shipped_model()[0]


def _study_curve(model, row, hi=3.0):
    """A simulated study curve (one of the shipped model's training curves), cut at ``hi`` q1."""
    q, s = model.curves["q"], model.curves["s_q"][row]
    ok = np.isfinite(s) & (s > 0)
    q, s = q[ok], s[ok]
    _, _, q1 = window_curve(q, s, model.ndim, model.features["x_range"])
    cut = q <= hi * q1
    return q[cut], s[cut]


@pytest.mark.parametrize("row, level", [(100, 0.5), (300, 1.0), (450, 0.3)])
def test_background_recovered_within_the_fits_own_sigma(shipped, row, level):
    """A study curve on the model's window plus a known flat B (a fraction of I at its largest q) and 1 %
    noise: the fitted B lies within 3 of its own standard deviations of the true one (a Gaussian error
    passes 3 sigma 99.7 % of the time), and the curve's shape pins it (determined)."""
    q, s = _study_curve(shipped, row)
    b = level * s[-1]
    rng = np.random.default_rng(row)
    i = (s + b) * (1 + 0.01 * rng.standard_normal(s.size))
    fit = fit_background(shipped, q, i)
    assert fit["determined"]
    assert abs(fit["value"] - b) < 3 * fit["sigma"], fit
    assert fit["sigma"] < s[-1]  # an informative fit: narrower than the signal at the window's edge


def test_background_of_a_curve_reaching_far_beyond_the_window_comes_from_its_tail(shipped):
    """The whole simulated curve (past 6 q1, no background): the tail fit A q^-p + B gives B = 0 within
    3 of its standard deviations, and 3 deviations stay within 10 % of I(3 q1) (sigma's floor is 2 % of
    it and the fit's own error on a noise-free curve far less: 3 sigma ~ 6 %)."""
    q, s = _study_curve(shipped, 300, hi=100.0)
    fit = fit_background(shipped, q, s)
    q1 = q[np.argmax(s)]
    assert q[-1] > 6 * q1 and fit["determined"] and fit["method"].startswith("tail fit")
    assert abs(fit["value"]) < 3 * fit["sigma"] < 0.1 * np.interp(3 * q1, q, s)


def test_background_uncertainty_widens_the_prediction(shipped):
    """The same curve predicted with B given (sigma 0) and with B uncertain: the noise part of the std grows."""
    q, s = _study_curve(shipped, 300)
    curve = check_curve(q, s + 0.5 * s[-1], 0.01 * (s + 0.5 * s[-1]), q_unit="1/b")
    given = shipped.predict(curve, None, n_draws=50, background={"value": 0.5 * s[-1], "sigma": 0.0})
    loose = shipped.predict(curve, None, n_draws=50, background={"value": 0.5 * s[-1], "sigma": 0.2 * s[-1]})
    np.testing.assert_allclose(loose.table["mean"], given.table["mean"], rtol=1e-12)  # same central curve
    assert np.all(loose.table["std_noise"].to_numpy() > given.table["std_noise"].to_numpy())


def test_subtract_background_drops_what_it_leaves_at_or_below_zero():
    out = subtract_background(np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]), np.array([1.0, 2.5]))
    np.testing.assert_array_equal(out[0], [2.0, 1.0, np.nan])
    np.testing.assert_array_equal(out[1], [0.5, np.nan, np.nan])


@pytest.mark.parametrize("text, value", [("0", 0.0), ("1.5e-3", 1.5e-3), ("-2", -2.0)])
def test_check_background_reads_numbers(text, value):
    assert check_background(text) == value


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "", "1,5"])
def test_check_background_refuses_what_is_not_a_finite_number(text):
    with pytest.raises(ParameterError, match="--background"):
        check_background(text)


def test_predict_background_option(shipped, tmp_path, capsys):
    """--background 0 gives the old answer (nothing subtracted); a bad value exits 2 with one line."""
    q, s = _study_curve(shipped, 300, hi=100.0)
    path = tmp_path / "c.dat"
    np.savetxt(path, np.column_stack([q, s, 0.01 * s]))
    jpath = tmp_path / "out.json"
    assert main(["predict", str(path), "--q-unit", "1/b", "--background", "0", "--json", str(jpath)]) == 0
    import json

    doc = json.loads(jpath.read_text())
    assert doc["info"]["background"] == {"value": 0.0, "sigma": 0.0, "determined": True,
                                         "method": "given (--background)"}
    curve = check_curve(q, s, 0.01 * s, q_unit="1/b", source=str(path))
    direct = shipped.predict(curve, None)  # the prediction without any background handling
    got = [doc["functionals"][k]["mean"] for k in shipped.targets]
    np.testing.assert_allclose(got, direct.table["mean"], rtol=1e-12)
    capsys.readouterr()
    assert main(["predict", str(path), "--q-unit", "1/b", "--background", "lots"]) == 2
    err = capsys.readouterr().err
    assert "--background 'lots'" in err and err.count("\n") == 1
