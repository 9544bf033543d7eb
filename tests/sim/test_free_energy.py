"""Free-energy models: thermodynamics checked against independent answers.

Every derivative the solvers rely on (mu = f', f'', psi', kappa) is compared
with a finite difference of the quantity it claims to differentiate; spinodal,
binodal, critical wavenumber and growth time are compared with closed forms or
a numerical root/maximum found here without the model's own helpers.
"""

import math

import numpy as np
import pytest
from scipy.optimize import fsolve, minimize
from scipy.special import expit, logit

from scattermorph.errors import ParameterError
from scattermorph.sim.free_energy import (
    MODELS,
    FloryHugginsDeGennes,
    FreeEnergy,
    Landau,
    make_model,
    model_class,
    run_free_energy,
)

FH_CASES = [
    # (N, quench chi/chi_s, phi0, gradient)
    (100.0, 1.5, 0.5, "de_gennes"),
    (100.0, 2.5, 0.3, "de_gennes"),
    (100.0, 1.5, 0.5, "constant"),
    (10.0, 0.5, 0.2, "constant"),  # one-phase blend: valid model, not unstable
    (1.0, 3.0, 0.45, "de_gennes"),
]


def fh(N, quench, phi0, gradient):
    chi_s = 1.0 / (2.0 * N * phi0 * (1.0 - phi0))
    return FloryHugginsDeGennes(N=N, chi=quench * chi_s, phi0=phi0, gradient=gradient)


ALL_MODELS = [fh(*c) for c in FH_CASES] + [Landau(0.5), Landau(0.35, kappa=2.0), Landau(0.9)]
MODEL_IDS = [f"fh-{c[3]}-N{c[0]:g}-q{c[1]:g}-phi{c[2]:g}" for c in FH_CASES] + [
    "landau-0.5",
    "landau-0.35-k2",
    "landau-0.9",
]


def _grid(model):
    """Compositions well inside (0, 1), where every expression is smooth."""
    return np.linspace(0.05, 0.95, 37)


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", ALL_MODELS, ids=MODEL_IDS)
def test_mu_bulk_is_derivative_of_f(model):
    phi = _grid(model)
    h = 1e-5
    fd = (model.f(phi + h) - model.f(phi - h)) / (2 * h)
    # central difference: truncation h^2 |f'''| / 6 <= 1e-10 * 1e3 (|f'''| <= ~1e3
    # at phi = 0.05 for N = 1) plus cancellation eps |f| / h ~ 1e-11; 1e-7 covers both
    np.testing.assert_allclose(model.mu_bulk(phi), fd, rtol=0, atol=1e-7)


@pytest.mark.parametrize("model", ALL_MODELS, ids=MODEL_IDS)
def test_f2_is_derivative_of_mu_bulk(model):
    phi = _grid(model)
    h = 1e-5
    fd = (model.mu_bulk(phi + h) - model.mu_bulk(phi - h)) / (2 * h)
    # same error budget as above with one derivative more: h^2 |f''''| / 6 with
    # |f''''| <= ~1e5 at phi = 0.05 for N = 1 -> 2e-6; atol 1e-5 (rtol for large f'')
    np.testing.assert_allclose(model.f2(phi), fd, rtol=1e-7, atol=1e-5)


@pytest.mark.parametrize("phi0", [0.2, 0.5, 0.7])
def test_de_gennes_substitution(phi0):
    """psi = arcsin(2 phi - 1)/6 turns kappa(phi)|grad phi|^2 into |grad psi|^2."""
    m = FloryHugginsDeGennes(N=100, chi=0.05, phi0=phi0, gradient="de_gennes")
    phi = np.linspace(0.02, 0.98, 49)
    h = 1e-6
    dpsi_fd = (m.psi(phi + h) - m.psi(phi - h)) / (2 * h)
    # truncation h^2 |psi'''| / 6 < 1e-9 at phi = 0.02; round-off eps / h ~ 1e-10
    np.testing.assert_allclose(m.dpsi(phi), dpsi_fd, rtol=1e-7)
    # psi'^2 = kappa = 1 / (36 phi (1 - phi)) (de Gennes 1980, b = 1): algebraic
    # identity, only round-off (a few ulp)
    np.testing.assert_allclose(m.dpsi(phi) ** 2, 1.0 / (36 * phi * (1 - phi)), rtol=1e-13)
    np.testing.assert_allclose(m.kappa(phi), 1.0 / (36 * phi * (1 - phi)), rtol=1e-13)
    assert m.kappa0 == pytest.approx(1.0 / (36 * phi0 * (1 - phi0)), rel=1e-14)


def test_constant_gradient_freezes_kappa_at_phi0():
    m = FloryHugginsDeGennes(N=100, chi=0.05, phi0=0.3, gradient="constant")
    phi = np.linspace(0.1, 0.9, 9)
    # exact: the frozen coefficient is kappa(phi0) everywhere
    np.testing.assert_array_equal(m.kappa(phi), np.full_like(phi, 1.0 / (36 * 0.3 * 0.7)))


# ---------------------------------------------------------------------------
# spinodal, binodal, linear stability
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("N", [1.0, 10.0, 100.0])
@pytest.mark.parametrize("phi0", [0.1, 0.3, 0.5, 0.8])
def test_chi_s_is_where_f2_vanishes(N, phi0):
    # f'' = 1/(N phi (1 - phi)) - 2 chi is linear in chi: its root solved here
    chi_root = 1.0 / (2.0 * N * phi0 * (1.0 - phi0))
    m = FloryHugginsDeGennes(N=N, chi=chi_root, phi0=phi0)
    assert m.chi_s == pytest.approx(chi_root, rel=1e-14)  # same closed form, round-off
    # at chi_s the curvature vanishes; relative to its parts 1/(N phi(1-phi)) only round-off
    assert abs(m.f2(phi0)) <= 1e-13 / (N * phi0 * (1 - phi0))
    assert m.quench_depth == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("chin", [2.5, 3.0, 5.0, 8.0])
def test_coexistence_is_common_tangent(chin):
    """Binodal from a general (non-symmetric) common-tangent solve."""
    N = 100.0
    m = FloryHugginsDeGennes(N=N, chi=chin / N, phi0=0.5)
    lo, hi = m.coexistence()

    def eqs(u):
        # unknowns in logit space keep both compositions inside (0, 1)
        a, b = expit(u)
        # equal chemical potential and equal grand potential f - mu phi
        return [
            (m.mu_bulk(a) - m.mu_bulk(b)) * N,
            (m.f(b) - m.f(a) - m.mu_bulk(a) * (b - a)) * N,
        ]

    # a = b solves eqs trivially, so first locate the two-phase state as the
    # minimum of the lever-rule free energy of a mixture of mean composition
    # 0.4 (off-centre on purpose: the symmetry of the answer is not assumed) ...
    def mixture(u):
        a, b = expit(u)
        if not a < 0.4 < b:
            return 1e3
        return ((b - 0.4) * m.f(a) + (0.4 - a) * m.f(b)) / (b - a) * N

    u0 = minimize(mixture, logit([0.3, 0.6]), method="Nelder-Mead",
                  options=dict(xatol=1e-10, fatol=1e-15, maxiter=4000)).x
    # ... then polish that minimum to the common tangent
    u = fsolve(eqs, u0)
    a, b = expit(u)
    assert max(abs(np.asarray(eqs(u)))) < 1e-12  # converged
    # the model's brentq root is good to ~1e-15; fsolve's to ~1e-12
    assert lo == pytest.approx(a, abs=1e-9)
    assert hi == pytest.approx(b, abs=1e-9)
    assert lo < 0.5 - 0.5 * math.sqrt(1 - 2 / chin)  # binodal outside the spinodal


@pytest.mark.parametrize("chin", [0.5, 1.9, 2.0])
def test_coexistence_single_phase(chin):
    m = FloryHugginsDeGennes(N=10.0, chi=chin / 10.0, phi0=0.5)
    assert m.coexistence() == (0.5, 0.5)  # chi N <= 2: no miscibility gap (exact)


UNSTABLE = [fh(100.0, 1.5, 0.5, "de_gennes"), fh(100.0, 2.5, 0.3, "constant"),
            fh(1.0, 3.0, 0.45, "de_gennes"), Landau(0.5), Landau(0.35, kappa=2.0)]


@pytest.mark.parametrize("model", UNSTABLE, ids=lambda m: repr(m))
def test_linear_growth_rate_maximum_and_root(model):
    """omega(k) = -k^2 (f'' + 2 kappa0 k^2): root at k_c, max 1/tau at k_c/sqrt 2."""
    f2 = model.f2(model.phi0)
    assert f2 < 0
    k = np.linspace(1e-4, 3 * model.k_critical, 200001)
    omega = model.linear_growth_rate(k**2)
    # independent check of the formula at one point
    kk = 0.37 * model.k_critical
    assert model.linear_growth_rate(kk**2) == pytest.approx(
        -(kk**2) * (f2 + 2 * model.kappa0 * kk**2), rel=1e-14)
    i = int(np.argmax(omega))
    # the dense grid pins the maximiser to one grid spacing (4.5e-5 k_c)
    assert k[i] == pytest.approx(model.k_critical / math.sqrt(2), rel=1e-4)
    # a smooth maximum: the value error is second order in the spacing (~1e-9)
    assert omega[i] == pytest.approx(1.0 / model.time_scale, rel=1e-8)
    # growth below k_c, decay above, zero at k_c (round-off relative to |f''| k_c^2)
    assert np.all(omega[k < 0.999 * model.k_critical] > 0)
    assert np.all(omega[k > 1.001 * model.k_critical] < 0)
    assert abs(model.linear_growth_rate(model.k_critical**2)) <= 1e-13 * abs(f2) * model.k_critical**2
    assert model.length_scale == pytest.approx(2 * math.pi / (model.k_critical / math.sqrt(2)), rel=1e-14)


# ---------------------------------------------------------------------------
# Landau model: the phi <-> psi mapping
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kappa", [0.5, 1.0, 3.0])
def test_landau_maps_onto_psi4_model(kappa):
    """d_t psi = lap(psi^3 - psi - kappa lap psi) with psi = 2 phi - 1.

    Then d_t phi = lap(mu_phi) with mu_phi = (psi^3 - psi)/2 - (kappa/2) lap psi
    = f'(phi) - 2 kappa0 lap phi, i.e. kappa0 = kappa/2 and f' = (psi^3 - psi)/2.
    """
    m = Landau(phi0=0.5, kappa=kappa)
    phi = np.linspace(-0.2, 1.2, 29)
    psi = 2 * phi - 1
    np.testing.assert_allclose(m.mu_bulk(phi), 0.5 * (psi**3 - psi), rtol=1e-14, atol=1e-15)
    # (psi^2 - 1)^2 / 4 per unit volume in the psi model is 4 f(phi) (the phi
    # equation carries mu_psi / 2 and d psi = 2 d phi, so F_phi = F_psi / 4)
    np.testing.assert_allclose(4 * m.f(phi), (psi**2 - 1) ** 2 / 4, rtol=1e-14, atol=1e-15)
    assert m.kappa0 == kappa / 2
    # the spinodal of psi^4 is |psi| = 1/sqrt(3): f'' vanishes there (round-off)
    for p in (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3)):
        assert abs(m.f2(p)) < 1e-14
    assert m.coexistence() == (0.0, 1.0)  # psi = -1, +1


# ---------------------------------------------------------------------------
# stability bounds used by the solvers
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", ALL_MODELS, ids=MODEL_IDS)
def test_stiffness_bounds_cover_the_visited_range(model):
    f2max, kmax = model.stiffness_bounds()
    lo, hi = model.coexistence()
    comps = [model.phi0, lo, hi] if model.name == "flory_huggins" else [model.phi0, 0.0, 1.0]
    for p in comps:
        p = min(max(p, 1e-12), 1 - 1e-12) if model.name == "flory_huggins" else p
        if model.name == "flory_huggins" and p in (lo, hi) and lo == hi:
            continue
        # the bound must hold at the mean composition and at both coexisting phases
        assert abs(model.f2(p)) <= f2max * (1 + 1e-12)
        assert model.kappa0 <= kmax * (1 + 1e-12)
        if model.name == "flory_huggins" and model.gradient == "de_gennes":
            assert model.kappa(p) <= kmax * (1 + 1e-12)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("phi0", [0.0, 1.0, -0.1, 1.3, float("nan")])
@pytest.mark.parametrize("name", ["flory_huggins", "landau"])
def test_phi0_outside_unit_interval_refused(name, phi0):
    params = dict(N=100, chi=0.05, phi0=phi0) if name == "flory_huggins" else dict(phi0=phi0)
    with pytest.raises(ParameterError, match=r"phi0=.* is outside \(0, 1\)"):
        make_model(name, **params)


@pytest.mark.parametrize("quench", [1.0, 0.999, 0.5, 0.0])
@pytest.mark.parametrize("gradient", ["de_gennes", "constant"])
def test_require_unstable_refuses_chi_at_or_below_spinodal(quench, gradient):
    N, phi0 = 100.0, 0.3
    chi_s = 1.0 / (2 * N * phi0 * (1 - phi0))
    chi = quench * chi_s
    m = FloryHugginsDeGennes(N=N, chi=chi, phi0=phi0, gradient=gradient)  # allowed
    with pytest.raises(ParameterError) as exc:
        m.require_unstable()
    msg = str(exc.value)
    assert f"chi={chi!r}" in msg  # names the offending value
    assert f"chi_s = 1/(2 N phi0 (1-phi0)) = {chi_s:.6g}" in msg  # and the limit


def test_require_unstable_accepts_quench():
    fh(100.0, 1.001, 0.3, "de_gennes").require_unstable()
    Landau(0.5).require_unstable()


@pytest.mark.parametrize("phi0", [0.2, 0.2113, 0.7887, 0.95])
def test_landau_require_unstable_outside_spinodal(phi0):
    # spinodal: |2 phi0 - 1| < 1/sqrt(3) <=> phi0 in (0.21132, 0.78868)
    with pytest.raises(ParameterError, match=r"outside the spinodal.*\(0\.2113, 0\.7887\)"):
        Landau(phi0).require_unstable()


@pytest.mark.parametrize(
    "name, params, pattern",
    [
        ("flory", dict(N=1, chi=1, phi0=0.5), r"model='flory' is unknown"),
        ("landau", dict(phi0=0.5, chi=1.0), r"unknown parameter\(s\) \['chi'\]"),
        ("flory_huggins", dict(N=0, chi=1, phi0=0.5), r"N=0 is not a valid degree"),
        ("flory_huggins", dict(N=-3, chi=1, phi0=0.5), r"N=-3 is not a valid degree"),
        ("flory_huggins", dict(N=10, chi=-0.1, phi0=0.5), r"chi=-0.1 must be a finite number >= 0"),
        ("flory_huggins", dict(N=10, chi=float("inf"), phi0=0.5), r"chi=inf must be a finite"),
        ("flory_huggins", dict(N=10, chi=0.3, phi0=0.5, gradient="linear"), r"gradient='linear' is not one of"),
        ("landau", dict(phi0=0.5, kappa=0.0), r"kappa=0.0 must be > 0"),
        ("landau", dict(phi0=0.5, kappa=-1.0), r"kappa=-1.0 must be > 0"),
    ],
)
def test_bad_model_parameters(name, params, pattern):
    with pytest.raises(ParameterError, match=pattern):
        make_model(name, **params)


def test_params_record():
    m = make_model("flory_huggins", N=100, chi=0.03, phi0=0.5, gradient="constant")
    p = m.params()
    assert p["model"] == "flory_huggins" and p["gradient"] == "constant"
    assert p["chi_s"] == pytest.approx(0.02, rel=1e-14)
    assert p["quench_depth"] == pytest.approx(1.5, rel=1e-14)
    q = make_model("landau", phi0=0.4, kappa=2.0).params()
    assert q == {"phi0": 0.4, "kappa": 2.0, "model": "landau", "gradient": "constant"}


# ---------------------------------------------------------------------------
# the FreeEnergy base: the linear theory written once
# ---------------------------------------------------------------------------
def test_both_models_are_free_energies_and_the_base_is_abstract():
    assert isinstance(fh(100.0, 1.5, 0.5, "de_gennes"), FreeEnergy)
    assert isinstance(Landau(0.5), FreeEnergy)
    with pytest.raises(TypeError):
        FreeEnergy()


@pytest.mark.parametrize("N, quench, phi0", [(100.0, 1.5, 0.5), (100.0, 2.5, 0.3), (10.0, 1.2, 0.45)])
@pytest.mark.parametrize("gradient", ["de_gennes", "constant"])
def test_blend_linear_theory_closed_forms(N, quench, phi0, gradient):
    """With f'' = 2 (chi_s - chi) and kappa0 = 1 / (36 phi0 (1 - phi0)):
    k_c^2 = 36 phi0 (1 - phi0) (chi - chi_s), tau = 2 kappa0 / (chi - chi_s)^2,
    lambda_m = 2 pi sqrt(2) / k_c (Cahn 1965), written out here."""
    m = fh(N, quench, phi0, gradient)
    chi_s = 1.0 / (2.0 * N * phi0 * (1.0 - phi0))
    d = m.chi - chi_s
    kappa0 = 1.0 / (36.0 * phi0 * (1.0 - phi0))
    assert m.k_critical == pytest.approx(math.sqrt(36.0 * phi0 * (1.0 - phi0) * d), rel=1e-12)
    assert m.time_scale == pytest.approx(2.0 * kappa0 / d**2, rel=1e-12)
    assert m.length_scale == pytest.approx(2 * math.pi * math.sqrt(2) / m.k_critical, rel=1e-14)
    k2 = np.array([0.0, 0.01, 0.3])
    np.testing.assert_allclose(m.linear_growth_rate(k2), -k2 * (2 * (chi_s - m.chi) + 2 * kappa0 * k2),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("phi0, kappa", [(0.5, 1.0), (0.35, 2.0), (0.6, 0.5)])
def test_landau_linear_theory_closed_forms(phi0, kappa):
    """With psi0 = 2 phi0 - 1, f'' = 3 psi0^2 - 1 and kappa0 = kappa / 2:
    k_c^2 = (1 - 3 psi0^2) / kappa and tau = 4 kappa / (1 - 3 psi0^2)^2."""
    m = Landau(phi0, kappa=kappa)
    a = 1.0 - 3.0 * (2.0 * phi0 - 1.0) ** 2
    assert m.k_critical == pytest.approx(math.sqrt(a / kappa), rel=1e-12)
    assert m.time_scale == pytest.approx(4.0 * kappa / a**2, rel=1e-12)
    assert m.length_scale == pytest.approx(2 * math.pi * math.sqrt(2 * kappa / a), rel=1e-12)


@pytest.mark.parametrize(
    "model, chi, tau, k_c, lam, omega",
    [
        # values of the per-model formulas before the base class (same bits)
        (FloryHugginsDeGennes.at_quench(100.0, 0.5, 1.5), 0.03, 2222.222222222223, 0.3,
         29.61921958772244, 0.00017777777777777776),
        (FloryHugginsDeGennes.at_quench(100.0, 0.3, 2.5, "constant"), 0.05952380952380952,
         207.40740740740745, 0.5196152422706631, 17.100664402158188, 0.0006878306878306878),
        (Landau(0.35, kappa=2.0), None, 15.012197410395949, 0.6041522986797286,
         14.707824327963415, 0.0070999999999999995),
    ],
    ids=["fh-degennes", "fh-constant", "landau"],
)
def test_linear_theory_is_bit_identical_to_the_per_model_formulas(model, chi, tau, k_c, lam, omega):
    if chi is not None:
        assert model.chi == chi
    assert model.time_scale == tau
    assert model.k_critical == k_c
    assert model.length_scale == lam
    assert float(model.linear_growth_rate(0.01)) == omega


@pytest.mark.parametrize("quench", [1.5, 2.5])
def test_at_quench_is_the_blend_at_quench_times_chi_s(quench):
    N, phi0 = 100.0, 0.3
    base = make_model("flory_huggins", N=N, chi=0.0, phi0=phi0)
    m = FloryHugginsDeGennes.at_quench(N, phi0, quench, "constant")
    assert m == FloryHugginsDeGennes(N=N, chi=quench * base.chi_s, phi0=phi0, gradient="constant")
    assert m.quench_depth == pytest.approx(quench, rel=1e-14)
    # N and phi0 are checked before chi_s is computed from them
    with pytest.raises(ParameterError, match=r"phi0=0\.0 is outside \(0, 1\)"):
        FloryHugginsDeGennes.at_quench(N, 0.0, quench)
    with pytest.raises(ParameterError, match=r"N=0\.0 is not a valid degree"):
        FloryHugginsDeGennes.at_quench(0.0, phi0, quench)


def test_run_free_energy_builds_the_run_model():
    kw = dict(phi0=0.3, N=100.0, quench=2.0, gradient="de_gennes", kappa=1.0)
    assert run_free_energy("flory_huggins", **kw) == FloryHugginsDeGennes.at_quench(100.0, 0.3, 2.0)
    # chi, when given, replaces the quench; NaN means not given
    assert run_free_energy("flory_huggins", **kw, chi=0.05).chi == 0.05
    assert run_free_energy("flory_huggins", **kw, chi=float("nan")).quench_depth == pytest.approx(2.0)
    # the phi^4 model takes phi0 and kappa only
    assert run_free_energy("landau", **dict(kw, phi0=0.5, kappa=2.0)) == Landau(0.5, kappa=2.0)
    with pytest.raises(ParameterError, match=r"gives no spinodal decomposition"):
        run_free_energy("flory_huggins", **dict(kw, quench=0.9))
    with pytest.raises(ParameterError, match=r"outside the spinodal of the phi\^4 model"):
        run_free_energy("landau", **dict(kw, phi0=0.1))
    with pytest.raises(ParameterError, match=r"model='flory' is unknown"):
        run_free_energy("flory", **kw)


def test_model_registry():
    assert MODELS == {"flory_huggins": FloryHugginsDeGennes, "landau": Landau}
    assert model_class("flory_huggins").has_quench and not model_class("landau").has_quench
    assert (FloryHugginsDeGennes.tag, Landau.tag) == ("fh", "ld")
    # f' of the blend diverges at the pure phases, the phi^4 model's does not
    assert FloryHugginsDeGennes.bounded and not Landau.bounded
