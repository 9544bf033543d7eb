"""The applicability check: can a curve come from a phase-separated blend like the study's?

Independent answers: closed-form curves of known structures (Ornstein-Zernike,
power laws, Teubner-Strey, a sphere's form factor), the study's own simulated
curves (the shipped model's training curves, so the test needs no study run),
and curves of 25 families computed by sasmodels (SasView's library, stored in
tests/data/sasmodels_curves.npz by benchmarks/make_sasmodels_curves.py with the
sasmodels version and every curve's parameters). Noise, resolution and
backgrounds are added here from fixed seeds, so the rates are deterministic;
each bound on a rate is the rate measured with that seed less a margin of a few
curves, so that a change that loses more than that fails.
"""

import json

import numpy as np
import pytest

from scattermorph.errors import ParameterError
from scattermorph.sas.applicability import THRESHOLDS, Applicability, assess_curve
from scattermorph.sas.measured import as_measured

Q = np.geomspace(0.003, 0.5, 150)  # a SANS-like range in 1/A
DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "sasmodels_curves.npz"
BACKGROUNDS = (0.0, 0.1, 0.5, 1.0)
RESOLUTIONS = (0.0, 0.02, 0.05, 0.1)
WINDOWS = (None, (0.5, 2.0), (0.3, 1.5), (0.7, 3.0))
NEIGHBOURS = ("teubner_strey", "spinodal")


def noisy(intensity, rel=0.02, seed=0, background=0.0):
    """I + background with Gaussian noise of relative size ``rel``, and its dI."""
    rng = np.random.default_rng(seed)
    total = intensity + background
    err = rel * total
    return total + err * rng.standard_normal(total.size), err


def blend_like(q, q1=0.03):
    """A coarsening blend's shape: I ~ q^4 below the peak (conserved composition), q^-6 beyond
    (diffuse interfaces), maximum at q1: F(x) = x^4 / (0.6 + 0.4 x^10)."""
    x = q / q1
    return x ** 4 / (0.6 + 0.4 * x ** 10)


def codes(result: Applicability):
    return [c for c, _ in result.reasons]


# --------------------------------------------------------------------------
# closed-form curves
# --------------------------------------------------------------------------
def test_a_blend_like_peak_passes_with_or_without_background():
    for bg in (0.0, 1.0):  # a background of 100 % of the intensity at the largest q
        i = blend_like(Q)
        got = assess_curve(Q, *noisy(i, background=bg * i[-1]))
        assert got.verdict == "ok", got.reasons
        # the peak is found where it was put: 2 % noise and a 0.07 smoothing in ln q move it by
        # less than one grid step (1/150 of ln(0.5/0.003) = 0.034)
        assert abs(np.log(got.diagnostics["q_peak"] / 0.03)) < 0.05
        assert got.reasons == () and got.text() == ""


def test_one_phase_ornstein_zernike_is_refused_as_one_phase():
    xi = 50.0  # A
    got = assess_curve(Q, *noisy(10 / (1 + (Q * xi) ** 2), background=0.01))
    assert got.verdict == "refused"
    assert codes(got)[0] == "one_phase_oz" and "no spinodal structure" in got.text()
    # 150 points with 2 % noise fix the correlation length to about 1 %; 5 % allows the flat background
    assert got.diagnostics["oz_xi"] == pytest.approx(xi, rel=0.05)


@pytest.mark.parametrize("p", [1.7, 3.3, 4.0])
def test_a_power_law_is_refused_with_its_exponent(p):
    got = assess_curve(Q, *noisy(Q ** -p, background=0.5 * Q[-1] ** -p))
    assert got.verdict == "refused" and "power_law" in codes(got)
    # the exponent of A q^-p + B over 2.2 decades with 2 % noise: within 0.1
    assert got.diagnostics["power_law_exponent"] == pytest.approx(p, abs=0.1)


def test_a_rising_curve_says_the_peak_may_be_beyond_the_range():
    got = assess_curve(Q, *noisy(Q ** 2))
    assert got.verdict == "refused" and codes(got)[0] == "no_peak_rising"


def test_polydisperse_spheres_are_refused_for_having_no_peak():
    # Rayleigh's form factor of a sphere, 10 % Gaussian polydispersity (averaged over 41 radii)
    radii = 100 * (1 + 0.1 * np.linspace(-3, 3, 41))
    w = np.exp(-0.5 * np.linspace(-3, 3, 41) ** 2) * radii ** 6
    x = Q[:, None] * radii[None, :]
    amp = 3 * (np.sin(x) - x * np.cos(x)) / x ** 3
    got = assess_curve(Q, *noisy((amp ** 2 * w).sum(1) / w.sum(), background=1e-5))
    assert got.verdict == "refused" and "no_peak" in codes(got)


@pytest.mark.parametrize("k_xi", [2.0, 4.0])
def test_teubner_strey_is_flagged_for_its_finite_forward_intensity(k_xi):
    # Teubner & Strey, J. Chem. Phys. 87, 3195 (1987): I = 1 / (a2 + c1 q^2 + c2 q^4) with
    # k = 2 pi / d and xi: a2 = (k^2 + xi^-2)^2, c1 = -2 (k^2 - xi^-2), c2 = 1 (peak at
    # q^2 = k^2 - xi^-2, I(0) finite): its low-q side levels off where a blend's falls as q^4
    k = 2 * np.pi / 200.0
    xi = k_xi / k
    i = 1 / ((k ** 2 + xi ** -2) ** 2 - 2 * (k ** 2 - xi ** -2) * Q ** 2 + Q ** 4)
    got = assess_curve(Q, *noisy(i))
    assert got.verdict == "flagged"
    assert {"low_q_plateau", "porod_tail"} & set(codes(got)), got.reasons


def test_a_plateau_above_the_largest_possible_background_is_flagged_in_a_short_window():
    # a Teubner-Strey microemulsion (k xi = 4) measured from 0.05 to 1.6 q1: the curve stops before 2 q1,
    # so its tail cannot be told from a background; but its finite I(0) (0.22 of the peak) lies above the
    # lowest intensity anywhere (0.10 at 1.6 q1), so no flat background explains the plateau
    k = 2 * np.pi / 200.0
    xi = 4.0 / k
    q1 = np.sqrt(k ** 2 - xi ** -2)
    q = np.geomspace(0.05 * q1, 1.6 * q1, 120)
    i = 1 / ((k ** 2 + xi ** -2) ** 2 - 2 * (k ** 2 - xi ** -2) * q ** 2 + q ** 4)
    got = assess_curve(q, *noisy(i))
    assert got.verdict == "flagged" and "low_q_plateau" in codes(got), got.reasons
    assert got.diagnostics["background_bound"] == "largest"


def test_a_background_does_not_lift_the_low_q_side_in_a_short_window():
    # the blend-like curve in [0.3, 1.5] q1, without and with a flat background equal to I(1.5 q1): the
    # low-q side is judged above the largest background the data allow, so I(0.5 q1)/I(q1) stays the
    # background-free 0.10 (0.26 if the background were kept); 0.03 allows 2 % noise on the few points there
    q = np.geomspace(0.3 * 0.03, 1.5 * 0.03, 60)
    b = blend_like(q)
    ratios = []
    for bg in (0.0, b[-1]):
        got = assess_curve(q, *noisy(b, background=bg))
        assert got.verdict == "ok", got.reasons
        ratios.append(got.diagnostics["low_q_ratio"]["0.5"])
    assert abs(ratios[1] - ratios[0]) < 0.03 and ratios[0] < 0.15


def test_a_second_order_peak_is_flagged():
    i = blend_like(Q) + 0.3 * np.exp(-0.5 * (np.log(Q / 0.06) / 0.04) ** 2)  # a Bragg-like order at 2 q1
    got = assess_curve(Q, *noisy(i, rel=0.01))
    assert got.verdict == "flagged" and "secondary_maxima" in codes(got)


def test_the_result_is_json_ready_and_frozen():
    got = assess_curve(Q, *noisy(10 / (1 + (Q * 50) ** 2)))
    doc = json.loads(json.dumps(got.to_dict()))
    assert doc["verdict"] == "refused" and doc["reasons"][0]["code"] == got.reasons[0][0]
    with pytest.raises(AttributeError):
        got.verdict = "ok"


@pytest.mark.parametrize("args,match", [
    ((Q, Q[:-1]), "same length"),
    ((Q[::-1], blend_like(Q)), "increasing"),
    ((Q[:5], blend_like(Q)[:5]), "at least 10"),
])
def test_bad_input_is_refused_by_name(args, match):
    with pytest.raises(ParameterError, match=match):
        assess_curve(*args)


def test_a_background_larger_than_the_curve_is_refused():
    with pytest.raises(ParameterError, match="check the background"):
        assess_curve(Q, blend_like(Q), background=10.0)


# --------------------------------------------------------------------------
# as_measured
# --------------------------------------------------------------------------
def test_as_measured_adds_the_stated_background_and_keeps_a_constant():
    rng = np.random.default_rng(0)
    q, i, err, dq = as_measured(Q, blend_like(Q), rng, background=0.5)
    assert err is None and dq is None
    # without noise or resolution the background is exactly half the intensity at the largest q
    assert i[-1] == pytest.approx(1.5 * blend_like(Q)[-1], rel=1e-12)
    q, i, _, dq = as_measured(Q, np.full(Q.size, 3.0), rng, resolution=0.1)
    # smearing keeps a constant (rows of the resolution matrix sum to 1) and trimming keeps only
    # points whose resolution support lies inside the curve
    assert np.allclose(i, 3.0, rtol=1e-12) and np.allclose(dq, 0.1 * q)
    assert q[0] - 2.5 * dq[0] >= Q[0] and q[-1] + 3.0 * dq[-1] <= Q[-1]
    assert as_measured(Q, blend_like(Q), rng, window=(0.029, 0.031)) is None  # < 10 points


def test_as_measured_noise_has_the_stated_size():
    rng = np.random.default_rng(1)
    flat = np.ones(4000)
    q = np.geomspace(0.01, 1, 4000)
    _, i, err, _ = as_measured(q, flat, rng, noise=0.03)
    # flat curve: sigma = I r sqrt(2); 4000 draws fix the scatter to 1.1 %, 5 % allows it
    assert np.std((i - 1) / err) == pytest.approx(1.0, rel=0.05)
    # the stated dI is the sigma of the noise model: r sqrt(1 + I_end / I) I = 0.03 sqrt(2) here
    assert np.allclose(err, 0.03 * np.sqrt(2), rtol=1e-12)


# --------------------------------------------------------------------------
# the study's curves (the shipped model's training curves)
# --------------------------------------------------------------------------
def smoothed_peak(q, s_q, width=0.1):
    """Maximum of ln S smoothed by a Gaussian of ``width`` in ln q (as benchmarks/bench_applicability.py)."""
    good = np.isfinite(s_q) & (s_q > 0)
    lq, ls = np.log(q[good]), np.log(s_q[good])
    w = np.exp(-0.5 * ((lq[:, None] - lq[None, :]) / width) ** 2)
    return float(np.exp(lq[np.argmax(w @ ls / w.sum(1))]))


@pytest.fixture(scope="module")
def study():
    """The held-out half of the shipped model's training curves (read from the file's arrays,
    without rebuilding its Gaussian processes)."""
    from scattermorph.predict.modelfile import shipped_model_path

    z = np.load(shipped_model_path(), allow_pickle=False)
    if "train_s_q" not in z.files or "train_groups" not in z.files:
        pytest.skip("the shipped model keeps no training curves with groups")
    held_out = np.unique(z["train_groups"], return_inverse=True)[1] % 2 == 1  # tuned on the even simulations
    return z["train_q"], z["train_s_q"][held_out]


def _study_rate(q, s_q, rows, seed):
    """Fraction refused or flagged of the curves in every window and background (late curves whose box
    starts above the window's low end included: a measured curve can stop anywhere), and their number."""
    rng = np.random.default_rng(seed)
    verdicts = []
    for r in rows:
        qp = smoothed_peak(q, s_q[r])
        for w in WINDOWS:
            for bg in BACKGROUNDS:
                m = as_measured(q, s_q[r], rng, window=None if w is None else (w[0] * qp, w[1] * qp),
                                resolution=float(rng.choice(RESOLUTIONS)), noise=float(rng.uniform(0.01, 0.05)),
                                background=bg)
                if m is not None:
                    verdicts.append(assess_curve(m[0], m[1], m[2], dq=m[3]).verdict)
    return np.mean(np.array(verdicts) != "ok"), len(verdicts)


def test_study_curves_pass_in_windows_with_backgrounds_sample(study):
    q, s_q = study
    rate, n = _study_rate(q, s_q, range(0, len(s_q), 12), seed=3)
    # 24 curves x 16 conditions: measured 0.26 % (1 of 384) with this seed, the full held-out set 1.4 %
    # (slow test); 4 % (15 of 384) leaves room for the sampling spread of a small set
    assert n > 300 and rate <= 0.04


@pytest.mark.slow
def test_study_curves_pass_in_windows_with_backgrounds_all_held_out(study):
    q, s_q = study
    rate, n = _study_rate(q, s_q, range(len(s_q)), seed=4)
    # the target is at most 2 % refused or flagged: measured 1.44 % (66 of 4591, this seed) on the
    # model the thresholds were tuned with (even simulations; these are the odd ones), 2.05 % (94 of 4596)
    # on the model retrained by the study with error-controlled steps, thresholds not retuned. The bound
    # 2.5 % holds that and fails a check that flags one curve in 40
    assert n > 4500 and rate <= 0.025


# --------------------------------------------------------------------------
# curves of other structures (sasmodels)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sasmodels_curves():
    z = np.load(DATA, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    out = []
    for j, rec in enumerate(meta["curves"]):
        q = np.geomspace(z["q_min"][j], z["q_max"][j], int(z["n_points"][j]))
        out.append((rec["family"], q, 10 ** z["log10_intensity"][z["offsets"][j]:z["offsets"][j + 1]].astype(float)))
    return out, meta


def test_sasmodels_file_records_its_provenance(sasmodels_curves):
    curves, meta = sasmodels_curves
    assert meta["sasmodels_version"] and meta["seed"] and len(curves) >= 500
    assert len({c[0] for c in curves}) >= 20
    assert all("parameters" in c and "model" in c for c in meta["curves"])


def _family_verdicts(curves, seed, draws):
    rng = np.random.default_rng(seed)
    out = []
    for family, q, i in curves:
        for _ in range(draws):
            m = as_measured(q, i, rng, resolution=float(rng.choice(RESOLUTIONS)),
                            noise=float(rng.uniform(0.01, 0.05)), background=float(rng.choice(BACKGROUNDS)))
            out.append((family, assess_curve(m[0], m[1], m[2], dq=m[3])))
    return out


def test_other_structures_are_refused_or_flagged_with_reasons_sample(sasmodels_curves):
    curves, _ = sasmodels_curves
    got = _family_verdicts(curves[::5], seed=5, draws=1)
    others = [a for f, a in got if f not in NEIGHBOURS]
    assert all(a.reasons for a in others if a.verdict != "ok")
    rate = np.mean([a.verdict != "ok" for a in others])
    # 120 curves of 23 families: measured 100 % with this seed; 97.5 % allows 3 to pass
    assert rate >= 0.975
    by_family = {}
    for f, a in got:
        by_family.setdefault(f, []).append(a)
    # the one-phase blend's curve is named as such, not only as "no peak"
    assert np.mean(["one_phase_oz" in codes(a) for a in by_family["lorentz"]]) >= 0.8


@pytest.mark.slow
def test_other_structures_are_refused_or_flagged_all(sasmodels_curves):
    curves, _ = sasmodels_curves
    got = _family_verdicts(curves, seed=6, draws=2)
    others = [a for f, a in got if f not in NEIGHBOURS]
    assert all(a.reasons for a in others if a.verdict != "ok")
    # the target: at least 99 % refused or flagged (measured 99.5 %, 6 of 1196 passed with this seed:
    # charged-sphere liquids at dQ/q = 10 % and one generic broad peak, see docs/predict.md)
    assert np.mean([a.verdict != "ok" for a in others]) >= 0.99


def test_reasons_quote_the_thresholds_in_force():
    k = 2 * np.pi / 200.0
    xi = 2.0 / k  # a Teubner-Strey microemulsion as in the test above
    i = 1 / ((k ** 2 + xi ** -2) ** 2 - 2 * (k ** 2 - xi ** -2) * Q ** 2 + Q ** 4)
    got = assess_curve(Q, *noisy(i))
    text = dict(got.reasons)["low_q_plateau"]
    assert f"at least as q^{THRESHOLDS['low_q_slope_min']:g}" in text
    assert got.diagnostics["low_q_slope"] < THRESHOLDS["low_q_slope_min"]


def test_a_one_phase_blend_is_named_with_its_rpa_parameters():
    """de Gennes' RPA of a symmetric one-phase blend, S^-1 ~ 1/g_D(q Rg) - chi/chi_s, with errors that
    grow towards high q as a SANS instrument's do (1 % -> 15 %): refused, named a one-phase mixture,
    and chi/chi_s recovered. Tolerance 0.1: with 1-15 % noise on 150 points the fit's standard error of
    chi/chi_s is a few hundredths (its value sets only the curvature near q Rg ~ 1)."""
    rg, ratio = 60.0, 0.6
    x2 = (Q * rg) ** 2
    g_d = 2 * (np.expm1(-x2) + x2) / x2 ** 2
    ideal = 1.0 / (1.0 / g_d - ratio) + 0.02
    rel = np.geomspace(0.01, 0.15, Q.size)
    err = rel * ideal
    got = assess_curve(Q, ideal + err * np.random.default_rng(3).standard_normal(Q.size), err)
    assert got.verdict == "refused"
    assert codes(got)[0] in ("one_phase_oz", "one_phase_rpa")
    assert "no spinodal structure" in got.reasons[0][1]
    assert abs(got.diagnostics["rpa_chi_over_chi_s"] - ratio) < 0.1
