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


def test_covered_scores_recover_the_components_from_part_of_the_features(shipped):
    """Gappy PCA by brute force: a feature vector in the components' span, mean + C^T z0, gives back z0 from
    any subset of at least k points, exactly (a linear least-squares problem with a zero residual); over the
    whole window the scores are the ordinary transform and nothing is added to the covariance."""
    cal, _ = shipped
    em = cal.emulator
    z0 = np.random.default_rng(3).normal(size=em.k)
    x = em.pca.mean_ + em.pca.components_.T @ z0
    covered = np.zeros(x.size, bool)
    covered[6:24] = True  # the middle of the window, as a curve cut to [0.5, 2] q1 covers
    z, extra = em.covered_scores(x, covered)
    np.testing.assert_allclose(z, z0, rtol=1e-9, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(extra) >= -1e-12)  # fewer points: more uncertain, never less
    z_all, extra_all = em.covered_scores(x, np.ones(x.size, bool))
    np.testing.assert_allclose(z_all, em.transform(x[None])[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(extra_all, 0.0, atol=1e-12)


def test_a_partial_window_uses_the_covered_points_and_a_narrow_one_is_refused(shipped):
    """A study curve cut to [0.5, 2] q1 is inferred from the feature points it covers (noted, in the result);
    cut to [0.3, 1.5] q1 it is refused: there the posterior was measured to be overconfident."""
    cal, model = shipped
    full = study_curve(model, rel=0.0)
    from scattermorph.learn.features import window_curve

    _, _, q1 = window_curve(full.q, full.intensity, 3, model.features["x_range"])
    for (lo, hi), ok in (((0.5, 2.0), True), ((0.3, 1.5), False)):
        cut = (full.q >= lo * q1) & (full.q <= hi * q1)
        curve = check_curve(full.q[cut], full.intensity[cut], 0.02 * full.intensity[cut], q_unit="1/b",
                            source=f"cut{lo}-{hi}")
        if not ok:
            with pytest.raises(InputFileError, match=r"infer needs at least \[0.7, 2\]"):
                infer_curve(cal, curve, n_grid=8, model=model, background=0.0)
            continue
        res = infer_curve(cal, curve, n_grid=8, model=model, background=0.0)
        win = res["window"]
        assert win["partial"] and 0 < win["covered_points"] < win["n_points"]
        assert any("feature points it covers" in w for w in res["checks"]["warnings"])
        assert np.isfinite(res["checks"]["ppc"]["p_value"])
