"""``scattermorph infer``'s policy around the posterior (scattermorph.infer.apply): the applicability
check and the background of ``predict``, on curves with known answers."""

import numpy as np
import pytest

from scattermorph.errors import InputFileError
from scattermorph.infer.apply import curve_background, infer_curve
from scattermorph.infer.emulatorfile import load_shipped_emulator
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.sas.curves import check_curve


@pytest.fixture(scope="module")
def shipped():
    cal, _ = load_shipped_emulator()
    model, _ = load_shipped_model()
    return cal, model


def study_curve(model, row=100, background=0.0, rel=0.02, seed=0):
    """A training curve of the shipped model (the study's own simulation) on a flat background, with noise."""
    q, s = model.curves["q"], model.curves["s_q"][row]
    ok = np.isfinite(s) & (s > 0)
    total = s[ok] + background
    err = rel * total
    noisy = total + err * np.random.default_rng(seed).standard_normal(total.size)
    return check_curve(q[ok], noisy, err, q_unit="1/b", source=f"row{row}")


def test_a_given_background_is_used_as_is(shipped):
    _, model = shipped
    bg = curve_background(study_curve(model), 2.5, model)
    assert bg == {"value": 2.5, "sigma": 0.0, "determined": True, "method": "given (--background)"}


def test_a_curve_without_a_peak_is_refused_before_any_posterior(shipped):
    cal, model = shipped
    q = np.geomspace(0.01, 1.0, 80)
    curve = check_curve(q, q ** -4.0, 0.02 * q ** -4.0, q_unit="1/b", source="power_law")
    with pytest.raises(InputFileError, match="nothing to infer.*power law"):
        infer_curve(cal, curve, n_grid=8, model=model)


def test_the_fitted_background_is_subtracted_and_reported(shipped):
    """A study curve on a background of half the intensity at 3 q1: the fitted value, used by the
    posterior, lies within 3 of its own standard deviations of the truth (sigma is the fit's, scaled
    on held-out curves; 3 sigma keeps a false failure below 1 % for a Gaussian error)."""
    cal, model = shipped
    clean = study_curve(model, rel=0.0)
    q1 = clean.q[np.argmax(clean.intensity)]
    b = 0.5 * float(np.interp(3 * q1, clean.q, clean.intensity))
    res = infer_curve(cal, study_curve(model, background=b), n_grid=8, model=model)
    fit = res["background_fit"]
    assert res["background"] == fit["value"]
    assert abs(fit["value"] - b) < 3 * fit["sigma"], fit
    assert res["applicability"]["verdict"] in ("ok", "flagged")
