"""Cahn-Hilliard-Cook time steppers checked against independent answers.

* conservation of mass (round-off bound),
* free-energy decay without noise (gradient flow),
* the linear dispersion relation (exact per-step factor of each scheme and its
  dt -> 0 limit, the continuum rate omega(k)),
* late-time coarsening L ~ t^(1/3) (Lifshitz-Slyozov-Wagner / Huse),
* convergence of the semi-implicit scheme (fd Laplacian) to explicit Euler,
* the Cook noise: per-step increment spectrum and the Ornstein-Zernike
  equilibrium structure factor (fluctuation-dissipation theorem),
* refusal of bad input.

Wavevector symbols, structure factors and free energies are computed here with
numpy directly (not with Grid.k2 / the library's FFT wrapper), so a wrong
symbol or normalisation in the library cannot cancel out.
"""

import math
import zlib

import numpy as np
import pytest

from scattermorph.errors import ParameterError, SimulationError
from scattermorph.sim import noise as noise_gen
from scattermorph.sim import parallel
from scattermorph.sim.control import StepController, admissible_range, integrate, step_schedule
from scattermorph.sim.free_energy import FloryHugginsDeGennes, Landau
from scattermorph.sim.steppers import (
    ExplicitEuler,
    Grid,
    SemiImplicitSpectral,
    explicit_dt_limit,
    free_energy,
    initial_condition,
)

EPS = np.finfo(float).eps


def fh(quench, phi0, gradient, N=100.0):
    chi_s = 1.0 / (2.0 * N * phi0 * (1.0 - phi0))
    return FloryHugginsDeGennes(N=N, chi=quench * chi_s, phi0=phi0, gradient=gradient)


# (id, model, dx): dx resolves the fastest-growing wavelength (29.6 b for the
# N = 100 blend at chi = 1.5 chi_s, 8.9 for Landau kappa = 1) with >= 7 cells
CASES = [
    ("fh-degennes", fh(1.5, 0.5, "de_gennes"), 2.0),
    ("fh-constant", fh(1.5, 0.4, "constant"), 2.0),
    ("landau", Landau(0.5, kappa=1.0), 1.0),
]
CASE_IDS = [c[0] for c in CASES]
CASES_OFFCRIT = [
    ("fh-degennes-0.35", fh(2.0, 0.35, "de_gennes"), 2.0),
    ("landau-0.4", Landau(0.4, kappa=1.0), 1.0),
]


# ---------------------------------------------------------------------------
# independent helpers
# ---------------------------------------------------------------------------
def k2_symbol(shape, dx, laplacian):
    """-Laplacian symbol on numpy's rfftn layout, built from first principles."""
    out = 0.0
    for ax, n in enumerate(shape):
        m = np.fft.rfftfreq(n) if ax == len(shape) - 1 else np.fft.fftfreq(n)  # cycles/cell
        sh = [1] * len(shape)
        sh[ax] = m.size
        m = m.reshape(sh)
        if laplacian == "spectral":
            out = out + (2 * np.pi * m / dx) ** 2
        else:  # eigenvalue of the 3-point second difference on exp(i 2 pi m j)
            out = out + (2 - 2 * np.cos(2 * np.pi * m)) / dx**2
    return out * np.ones(tuple(shape[:-1]) + (shape[-1] // 2 + 1,))


def stabilisation(model, stabilization):
    """(S, kappa_s) by the documented rule: half the bounds, times the multiplier."""
    f2max, kmax = model.stiffness_bounds()
    S = 0.5 * f2max * stabilization
    kappa_s = 0.5 * kmax * stabilization if model.gradient == "de_gennes" else model.kappa0
    return S, kappa_s


def si_factors(model, K2, dt, stabilization, S=None, kappa_s=None):
    """Linear per-step factor G and denominator D of the stabilised scheme.

    phihat' = phihat - dt K^2 [mu^n + (S + 2 kappa_s K^2)(phihat' - phihat)]
    linearised: G = 1 - dt K^2 (f'' + 2 kappa0 K^2) / D, D = 1 + dt K^2 (S + 2 kappa_s K^2).
    The stepper chooses S and kappa_s from the field's range (adaptive); pass
    the stepper's values, or get the static bound rule of ``stabilisation``.
    """
    if S is None:
        S, kappa_s = stabilisation(model, stabilization)
    D = 1.0 + dt * K2 * (S + 2 * kappa_s * K2)
    G = 1.0 - dt * K2 * (model.f2(model.phi0) + 2 * model.kappa0 * K2) / D
    return G, D


def make_stepper(scheme, model, grid, dt, noise=0.0, stabilization=1.0):
    if scheme == "explicit":
        return ExplicitEuler(model, grid, dt, noise=noise)
    lap = scheme.split("-")[1]
    # order 1: these tests check the first-order scheme's exact discrete
    # properties (amplification factor, AR(1) statistics, first-order
    # convergence); the second-order scheme has its own tests below
    return SemiImplicitSpectral(
        model, grid, dt, noise=noise, laplacian=lap, stabilization=stabilization, order=1
    )


def default_dt(scheme, model, grid):
    if scheme == "explicit":
        return 0.5 * explicit_dt_limit(model, grid)  # half the stability limit
    return 0.05 * model.time_scale  # half the largest step run_simulation allows


def mode_field(model, shape, modes, amp):
    """phi0 + amp * sum of plane waves cos(2 pi m.x / n + phase)."""
    idx = np.indices(shape)
    phi = np.full(shape, model.phi0)
    for i, m in enumerate(modes):
        arg = sum(2 * np.pi * mj * xj / n for mj, xj, n in zip(m, idx, shape))
        phi = phi + amp * np.cos(arg + 0.7 * i)
    return phi


def mode_amplitudes(phi, modes, phi0):
    h = np.fft.rfftn(phi - phi0)
    return np.array([h[tuple(mj % n for mj, n in zip(m, phi.shape))] for m in modes])


def mode_k2(modes, shape, dx, laplacian):
    out = []
    for m in modes:
        if laplacian == "spectral":
            out.append(sum((2 * np.pi * mj / (n * dx)) ** 2 for mj, n in zip(m, shape)))
        else:
            out.append(sum((2 * np.sin(np.pi * mj / n) / dx) ** 2 for mj, n in zip(m, shape)))
    return np.array(out)


# Wave vectors with an odd sum of indices: sums and differences of two of them
# have an even index sum, so the quadratic nonlinearity (f''' and psi'') of
# the tiny perturbation cannot feed one measured mode from two others; the
# first contamination is cubic, relative size amp^2 = 1e-12.
MODES_2D = [(1, 0), (0, 3), (2, 3), (5, 0), (4, 5), (7, 0), (0, 9), (6, 7), (11, 0),
            (8, 9), (0, 13), (15, 2), (20, 7), (31, 0)]
MODES_3D = [(1, 0, 0), (0, 2, 1), (1, 1, 1), (3, 0, 0), (2, 2, 1), (5, 0, 0), (0, 0, 7),
            (4, 4, 1)]


# ---------------------------------------------------------------------------
# 1. mass conservation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(32, 32), (16, 16, 16)], ids=["2d", "3d"])
@pytest.mark.parametrize("noise", [0.0, 1e-4], ids=["no-noise", "noise"])
@pytest.mark.parametrize("scheme", ["si-spectral", "si-fd", "explicit"])
@pytest.mark.parametrize("name, model, dx", CASES, ids=CASE_IDS)
def test_mass_conservation(name, model, dx, scheme, noise, shape):
    grid = Grid(shape, dx)
    rng = np.random.default_rng(2)
    st = make_stepper(scheme, model, grid, default_dt(scheme, model, grid), noise=noise)
    st.set_state(initial_condition(model, grid, rng, amplitude=0.05))
    nsteps, drift = 0, []
    for _ in range(20):
        phi = st.step(15, rng)
        nsteps += 15
        assert np.all(np.isfinite(phi))
        drift.append(abs(phi.mean() - model.phi0))
    # Bound: the initial condition has zero mean up to one rounding of phi0
    # (<= eps), each step rounds every cell once (|error| <= eps/2 * max|phi|
    # <= eps/2, so the mean moves by at most eps/2 even if all errors had one
    # sign) and np.mean adds ~log2(size) eps: |drift| <= (steps + 8) eps,
    # i.e. ~7e-14 after 300 steps. Conserved noise adds nothing: the explicit
    # flux divergence telescopes, the spectral noise has no k = 0 component.
    assert max(drift) <= (nsteps + 8) * EPS * max(1.0, np.abs(phi).max())


# ---------------------------------------------------------------------------
# 2. free energy never increases without noise
# ---------------------------------------------------------------------------
def direct_free_energy_fd(model, phi, dx):
    """Sum of f plus forward-difference gradient energy, written out by hand."""
    field = model.psi(phi) if model.gradient == "de_gennes" else phi
    coef = 1.0 if model.gradient == "de_gennes" else model.kappa0
    grad2 = sum(np.sum((np.roll(field, -1, axis=a) - field) ** 2) for a in range(phi.ndim)) / dx**2
    return (np.sum(model.f(phi)) + coef * grad2) * dx**phi.ndim


@pytest.mark.parametrize("shape", [(32, 32), (8, 12, 16)])
@pytest.mark.parametrize("name, model, dx", CASES + CASES_OFFCRIT, ids=CASE_IDS + [c[0] for c in CASES_OFFCRIT])
def test_free_energy_matches_direct_sums(name, model, dx, shape):
    rng = np.random.default_rng(4)
    phi = initial_condition(model, Grid(shape, dx), rng, amplitude=0.2)
    # fd: Parseval of the forward-difference energy; both sides round-off only
    F = free_energy(model, phi, dx, "fd")
    assert F == pytest.approx(direct_free_energy_fd(model, phi, dx), rel=1e-12)
    # spectral: one plane wave, |grad phi|^2 averages to a^2 k^2 / 2 exactly
    a, m = 0.03, (2, 1) + (0,) * (len(shape) - 2)
    phi1 = mode_field(model, shape, [m], a)
    k2 = mode_k2([m], shape, dx, "spectral")[0]
    vol = np.prod(shape) * dx ** len(shape)
    if model.gradient == "constant":
        expect = np.sum(model.f(phi1)) * dx ** len(shape) + model.kappa0 * a**2 * k2 / 2 * vol
        assert free_energy(model, phi1, dx, "spectral") == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize(
    "scheme, dt_over",
    [("si-spectral", 0.01), ("si-spectral", 0.1), ("si-spectral", 1.0),
     ("si-fd", 0.01), ("si-fd", 0.1), ("si-fd", 1.0), ("explicit", 0.5)],
)
@pytest.mark.parametrize("name, model, dx", CASES + CASES_OFFCRIT[:1], ids=CASE_IDS + ["fh-degennes-0.35"])
def test_free_energy_never_increases(name, model, dx, scheme, dt_over):
    """Gradient flow: F(phi^{n+1}) <= F(phi^n) for every step.

    Semi-implicit: dt_over in units of tau with stabilization = 1. The static
    mode (Shen & Yang: S >= max|f''|/2 over the whole range) is energy stable
    for any dt and is run at every step size; the default adaptive mode (S
    from the field's current range) is checked up to 0.1 tau, beyond the
    0.04 tau the study allows. Explicit: dt is dt_over times its stability
    limit.
    """
    grid = Grid((32, 32), dx)
    lap = "fd" if scheme in ("si-fd", "explicit") else "spectral"
    if scheme == "explicit":
        dt = dt_over * explicit_dt_limit(model, grid)
        nsteps = 1500
    else:
        dt = dt_over * model.time_scale
        nsteps = 300
    for mode in ("static", "adaptive"):
        if scheme == "explicit" and mode == "adaptive":
            continue
        if mode == "adaptive" and dt_over > 0.1:
            continue
        _check_energy_decreases(model, grid, scheme, dt, nsteps, lap, dx, mode)


def _check_energy_decreases(model, grid, scheme, dt, nsteps, lap, dx, mode):
    if scheme == "explicit":
        st = make_stepper(scheme, model, grid, dt)
    else:
        lp = scheme.split("-")[1]
        st = SemiImplicitSpectral(
            model, grid, dt, laplacian=lp, stabilization_mode=mode, order=1
        )
    st.set_state(initial_condition(model, grid, np.random.default_rng(3), amplitude=0.05))
    F = [free_energy(model, st.phi, dx, lap)]
    scales = []
    for _ in range(nsteps):
        phi = st.step(1)
        F.append(free_energy(model, phi, dx, lap))
        # size of the terms whose rounding enters F: sum |f| (and |phi f'|
        # for the cancellation inside f) plus the gradient energy
        scales.append(np.sum(np.abs(model.f(phi)) + np.abs(phi * model.mu_bulk(phi))) * grid.cell_volume
                      + abs(F[-1]))
    dF = np.diff(F)
    # Round-off slack only: a pairwise sum of n terms errs by <= ~log2(n) eps
    # times the sum of their magnitudes; 64 eps * scale is ~1e-14 relative.
    slack = 64 * EPS * np.array(scales)
    assert np.all(dF <= slack), f"{mode}: F rose by {dF.max():.3g} at step {int(np.argmax(dF))}"
    assert F[-1] < F[0]  # and it did fall: the run phase separated or smoothed


# ---------------------------------------------------------------------------
# 3. linear dispersion relation
# ---------------------------------------------------------------------------
def _linear_case(dim):
    return (MODES_2D, (64, 64)) if dim == 2 else (MODES_3D, (16, 16, 16))


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize(
    "scheme, stab, dt_over",
    [("si-spectral", 1.0, 0.01), ("si-spectral", 1.0, 1.0), ("si-spectral", 0.0, 0.1),
     ("si-fd", 1.0, 0.1), ("si-fd", 0.0, 0.01), ("explicit", None, 0.5)],
)
@pytest.mark.parametrize("name, model, dx", CASES + CASES_OFFCRIT, ids=CASE_IDS + [c[0] for c in CASES_OFFCRIT])
def test_linear_amplification_factor_is_exact(name, model, dx, scheme, stab, dt_over, dim):
    """One step on a tiny (1e-6) multi-mode perturbation: measured factor per mode
    equals the scheme's discrete linear factor G(K^2)."""
    modes, shape = _linear_case(dim)
    grid = Grid(shape, dx)
    lap = "fd" if scheme in ("si-fd", "explicit") else "spectral"
    K2 = mode_k2(modes, shape, dx, lap)
    if scheme == "explicit":
        dt = dt_over * explicit_dt_limit(model, grid)
        G = 1.0 + dt * model.linear_growth_rate(K2)  # forward Euler, exact for a linear mode
    else:
        dt = dt_over * model.time_scale
    amp = 1e-6
    phi = mode_field(model, shape, modes, amp)
    st = make_stepper(scheme, model, grid, dt, stabilization=1.0 if stab is None else stab)
    st.set_state(phi)
    if scheme != "explicit":
        G, _ = si_factors(model, K2, dt, stab, S=st.S, kappa_s=st.kappa_s)
    before = mode_amplitudes(phi, modes, model.phi0)
    after = mode_amplitudes(st.step(1), modes, model.phi0)
    measured = after / before
    # error budget: cubic nonlinearity amp^2 |f''''/f''| <~ 1e-10, reading a
    # 1e-6 mode off a field of O(1) values costs eps / (amp sqrt(size)) ~ 2e-12;
    # 1e-8 (relative to max(|G|, 1): strongly damped modes have G ~ 0) is 100x that
    tol = 1e-8 * np.maximum(np.abs(G), 1.0)
    np.testing.assert_array_less(np.abs(measured.imag), tol)
    np.testing.assert_array_less(np.abs(measured.real - G), tol)
    # growth below k_c, decay above (with the matching symbol), both present
    grow = K2 < model.k_critical**2
    assert grow.any() and (~grow).any()
    if scheme == "explicit" or dt_over <= 0.1:
        # small enough steps that no mode overshoots: 0 < G, and G > 1 <=> growth
        assert np.all((measured.real > 1) == grow)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("scheme", ["si-spectral", "si-fd", "explicit"])
@pytest.mark.parametrize("name, model, dx", CASES + CASES_OFFCRIT, ids=CASE_IDS + [c[0] for c in CASES_OFFCRIT])
def test_growth_rate_converges_to_dispersion_relation(name, model, dx, scheme, dim):
    """Measured rate ln(amp(T)/amp(0)) / T -> omega(K^2) first order in dt."""
    modes, shape = _linear_case(dim)
    grid = Grid(shape, dx)
    lap = "fd" if scheme in ("si-fd", "explicit") else "spectral"
    K2 = mode_k2(modes, shape, dx, lap)
    keep = K2 <= 4 * model.k_critical**2  # the physical band: growth and decay up to 2 k_c
    modes = [m for m, k in zip(modes, keep) if k]
    K2 = K2[keep]
    omega = model.linear_growth_rate(K2)
    S, kappa_s = stabilisation(model, 1.0)
    # largest per-unit-time coefficient among the kept modes; dt0 * stiff = 0.05
    # puts the coarsest step in the asymptotic (first-order) regime
    stiff = np.max(K2 * (abs(model.f2(model.phi0)) + S + 2 * (model.kappa0 + kappa_s) * K2))
    if scheme == "explicit":
        dt0 = min(0.05 / stiff, 0.5 * explicit_dt_limit(model, grid))
    else:
        dt0 = 0.05 / stiff
    T = 4 * dt0
    phi = mode_field(model, shape, modes, 1e-6)
    a0 = mode_amplitudes(phi, modes, model.phi0).real
    errs, dts = [], []
    for j in range(4):
        n = 4 * 2**j
        st = make_stepper(scheme, model, grid, T / n)
        st.set_state(phi)
        aT = mode_amplitudes(st.step(n), modes, model.phi0).real
        rate = np.log(aT / a0) / T
        errs.append(np.abs(rate - omega) / np.abs(omega))
        dts.append(T / n)
    errs = np.array(errs)
    # converged: relative rate error at the finest step <= 1 % (dt0 stiff = 0.05
    # bounds the leading error term by ~0.05 / 8 relative)
    assert np.all(errs[-1] < 0.01), errs[-1]
    # first order: halving dt halves the error. Round-off puts a floor of
    # ~1e-11 / (T |omega|) <~ 1e-7 under the relative error; modes whose error
    # is already < 1e-5 at the finest step are converged beyond what the order
    # estimate can resolve and are left out of it.
    resolved = errs[-1] > 1e-5
    assert resolved.sum() >= 3
    orders = np.log2(errs[:-1, resolved] / errs[1:, resolved])
    # the next term is O(dt^2): at dt0 stiff = 0.05 it shifts the order by < 0.1
    assert np.all((orders > 0.9) & (orders < 1.1)), orders


# ---------------------------------------------------------------------------
# 4. late-time coarsening
# ---------------------------------------------------------------------------
def characteristic_length(phi, dx):
    """2 pi / <k>, <k> the first moment of the radially averaged S(k).

    S(k) is averaged over shells of width 2 pi / (n dx) (not summed: summing
    would weight the Porod tail by the shell area and make <k> depend on the
    cut-off), from k = 2 pi / L up to the Nyquist wavenumber of one axis.
    """
    n = phi.shape[0]
    S = np.abs(np.fft.fftn(phi - phi.mean())) ** 2
    k1 = 2 * np.pi * np.fft.fftfreq(n, d=dx)
    k = np.sqrt(sum(g**2 for g in np.meshgrid(*([k1] * phi.ndim), indexing="ij")))
    dk = 2 * np.pi / (n * dx)
    shell = np.rint(k / dk).astype(int)
    sel = (shell >= 1) & (shell <= n // 2)
    cnt = np.bincount(shell[sel], minlength=n // 2 + 1)[1:]
    tot = np.bincount(shell[sel], weights=S[sel], minlength=n // 2 + 1)[1:]
    Sbar = tot / cnt
    kb = dk * np.arange(1, n // 2 + 1)
    return 2 * np.pi / (np.sum(kb * Sbar) / np.sum(Sbar))


def test_characteristic_length_helper_on_a_plane_wave():
    # a single wave of wavelength 32 dx: L = its wavelength exactly
    phi = mode_field(Landau(0.5), (128, 128), [(4, 0)], 0.1)
    assert characteristic_length(phi, 1.0) == pytest.approx(32.0, rel=1e-12)


@pytest.mark.parametrize(
    "n, t_end, t_late",
    [(256, 3000.0, 300.0), pytest.param(512, 10000.0, 1000.0, marks=pytest.mark.slow)],
    ids=["256-t3000", "512-t10000"],
)
def test_coarsening_follows_t_one_third(n, t_end, t_late):
    """Landau model, critical quench, no noise: L ~ t^(1/3) late on."""
    model = Landau(0.5, kappa=1.0)
    grid = Grid((n, n), 1.0)
    tau = model.time_scale  # 4
    times = np.geomspace(10.0, t_end, 25)
    st = SemiImplicitSpectral(model, grid, 0.025 * tau)
    phi0 = initial_condition(model, grid, np.random.default_rng(7), amplitude=0.01)
    # dt grows as 0.02 t but is capped at 1 tau, as in the study's configs: an
    # uncapped step grows past the scale where the stabilisation term
    # dt k^2 S ~ dt (2 pi / L)^2 S slows the domain-scale dynamics (the fitted
    # exponent then drops to ~0.25, see the test report)
    snaps, steps = integrate(st, phi0, times, dt_growth=0.02, dt_max=tau)
    L = np.array([characteristic_length(p.astype(np.float64), grid.dx) for p in snaps])
    assert np.all(np.diff(L[times >= 100]) > 0)  # domains only grow
    late = times >= t_late  # after the domains have formed (L ~ 1.7 x the initial 9.2)
    expo = np.polyfit(np.log(times[late]), np.log(L[late]), 1)[0]
    # LSW/Huse: 1/3. Tolerance 0.05: finite-time corrections L = a + b t^(1/3)
    # bias a log-log fit by a few 0.01, and the box holds only ~6 x 6 (256^2)
    # or ~8 x 8 (512^2) domains at the end, so the exponent of one run
    # scatters by ~0.02 between seeds (measured 0.342-0.348 for seeds 7-9 on 256^2)
    assert abs(expo - 1 / 3) < 0.05, expo
    # the domains outgrow the fastest linear wavelength by the end
    assert L[-1] > 3 * model.length_scale


# ---------------------------------------------------------------------------
# 5. semi-implicit (fd) -> explicit Euler as dt -> 0
# ---------------------------------------------------------------------------
CONV_CASES = [
    ("landau-0.5", Landau(0.5), 1.0),
    ("landau-0.4", Landau(0.4), 1.0),
    ("fh-constant", fh(1.5, 0.5, "constant"), 4.0),
    ("fh-degennes", fh(1.5, 0.45, "de_gennes"), 4.0),
]


@pytest.mark.parametrize("name, model, dx", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_semi_implicit_fd_converges_to_explicit(name, model, dx):
    grid = Grid((32, 32), dx)
    T = 3 * model.time_scale  # through the linear stage into domain formation
    phi0 = initial_condition(model, grid, np.random.default_rng(11), amplitude=0.05)
    lim = explicit_dt_limit(model, grid)
    dts, diffs, spread = [], [], []
    for frac in (0.5, 0.25, 0.125):
        n = int(math.ceil(T / (frac * lim)))
        dt = T / n
        si = SemiImplicitSpectral(model, grid, dt, laplacian="fd", order=1)
        si.set_state(phi0)
        a = si.step(n).copy()
        ex = ExplicitEuler(model, grid, dt)
        ex.set_state(phi0)
        b = ex.step(n)
        dts.append(dt)
        diffs.append(np.sqrt(np.mean((a - b) ** 2)))
        spread.append(b.std())
    orders = np.log(np.array(diffs[:-1]) / diffs[1:]) / np.log(np.array(dts[:-1]) / dts[1:])
    # both schemes are first order in time with different error constants, so
    # their difference is too; 0.7-1.3 allows the O(dt^2) term at these steps
    assert np.all((orders > 0.7) & (orders < 1.3)), orders
    # the field has developed structure (std grew from 0.029) and the finest
    # difference is below 3 % of it (measured 0.6 % Landau and de Gennes,
    # 1.5 % for the frozen-gradient blend, whose explicit limit is the largest
    # in units of tau, so the same fraction of it is the coarsest step)
    assert spread[-1] > 0.035
    assert diffs[-1] < 0.03 * spread[-1]


# ---------------------------------------------------------------------------
# 7. Cook noise and fluctuation-dissipation
# ---------------------------------------------------------------------------
def independent_modes(shape):
    """Masks on the rfftn layout: one representative of every conjugate pair
    (``rep``) and the real, self-conjugate modes except k = 0 (``real``)."""
    half = tuple(shape[:-1]) + (shape[-1] // 2 + 1,)
    rep = np.ones(half, dtype=bool)
    real = np.zeros(half, dtype=bool)
    lead = [np.arange(n) for n in shape[:-1]]
    L = np.meshgrid(*lead, indexing="ij")
    lin = np.ravel_multi_index(tuple(L), shape[:-1])
    lin_neg = np.ravel_multi_index(tuple((-g) % n for g, n in zip(L, shape[:-1])), shape[:-1])
    for j in (0, half[-1] - 1):
        rep[..., j] = lin < lin_neg
        real[..., j] = lin == lin_neg
    real.flat[0] = False
    return rep, real


def shell_edges(K):
    k = K[K > 0]
    return np.linspace(k.min() * (1 - 1e-9), k.max() * (1 + 1e-9), 7)


def stationary_expectation(model, grid, scheme, dt, eps, stabilization=1.0, S=None, kappa_s=None):
    """Per rfftn entry: mean |phihat|^2 of the scheme's stationary state, its
    continuum (Ornstein-Zernike/Cook) value and the AR(1) factor A.

    Linear recursion x' = A x + noise, noise variance q per step:
    <|x|^2> = q / (1 - A^2). With q = 2 eps dt K^2 size / (dV D^2) and
    1 - A = dt K^2 (f'' + 2 kappa0 K^2) / D this is
    S_dt = eps / (f'' + 2 kappa0 K^2) / (D - dt K^2 (f'' + 2 kappa0 K^2) / 2)
    (D = 1 for forward Euler), -> the continuum S(k) as dt -> 0.
    """
    lap = "fd" if scheme in ("si-fd", "explicit") else "spectral"
    K2 = k2_symbol(grid.shape, grid.dx, lap)
    stiff = model.f2(model.phi0) + 2 * model.kappa0 * K2
    if scheme == "explicit":
        D = np.ones_like(K2)
    else:
        _, D = si_factors(model, K2, dt, stabilization, S=S, kappa_s=kappa_s)
    A = 1 - dt * K2 * stiff / D
    S_cont = eps / stiff
    S_dt = S_cont / (D - dt * K2 * stiff / 2)
    to_mean = grid.size / grid.cell_volume  # <|phihat|^2> = S * size / dV
    return K2, S_dt * to_mean, S_cont * to_mean, A


def equilibrium_run(model, grid, scheme, dt, eps, t_burn, nsamples, rng):
    st = make_stepper(scheme, model, grid, dt, noise=eps)
    st.set_state(np.full(grid.shape, model.phi0))
    st.step(int(round(t_burn / dt)), rng)
    acc = np.zeros(tuple(grid.shape[:-1]) + (grid.shape[-1] // 2 + 1,))
    var = 0.0
    for _ in range(nsamples):
        phi = st.step(1, rng)
        acc += np.abs(np.fft.rfftn(phi)) ** 2
        var += phi.var()
    return acc / nsamples, var / nsamples, st


# N = 1 and chi = chi_s / 2: a one-phase mixture with f'' = 2, whose slowest
# mode on a 16^2 box of dx = 2 relaxes in ~13 time units (short runs)
EQ_MODELS = [
    ("fh-degennes", fh(0.5, 0.5, "de_gennes", N=1.0)),
    ("fh-constant", fh(0.5, 0.5, "constant", N=1.0)),
]
EQ_SCHEMES = ["si-spectral", "si-fd", "explicit"]
EQ_EPS = 1e-3  # phi variance ~1e-4: nonlinear (Hartree) corrections ~ f'''' <dphi^2> / f'' < 1e-3
EQ_DT = 0.01  # discrete-time bias of S_dt vs S_cont <= 3.5 % 2D, 4.5 % 3D (checked below)


@pytest.fixture(scope="module")
def equilibrium_data():
    """Runs shared by the structure-factor and variance tests (cached)."""
    cache = {}

    def get(name, model, scheme, shape):
        key = (name, scheme, shape)
        if key not in cache:
            grid = Grid(shape, 2.0)
            rng = np.random.default_rng(zlib.crc32(repr(key).encode()))  # stable seed
            K2, M_dt, M_cont, A = stationary_expectation(model, grid, scheme, EQ_DT, EQ_EPS)
            lam_min = (1 - np.max(np.where(K2 > 0, A, 0))) / EQ_DT
            t_burn = 4.0 / lam_min  # initial deficit exp(-2 lam t) = 3e-4
            nsamples = 20000
            meas, var, st = equilibrium_run(model, grid, scheme, EQ_DT, EQ_EPS, t_burn, nsamples, rng)
            if scheme != "explicit":
                # the expectation with the stabilisation the stepper settled on
                # (adaptive, from the field's range; it stops rising after the burn-in)
                K2, M_dt, M_cont, A = stationary_expectation(
                    model, grid, scheme, EQ_DT, EQ_EPS, S=st.S, kappa_s=st.kappa_s
                )
            cache[key] = dict(grid=grid, K2=K2, M_dt=M_dt, M_cont=M_cont, A=A,
                              meas=meas, var=var, n=nsamples)
        return cache[key]

    return get


def _mean_variance(d):
    """Variance of the time average of |phihat|^2 per entry (AR(1) statistics).

    For a stationary complex Gaussian AR(1) mode, |x|^2 has variance M^2 and
    autocorrelation A^(2 lag); the average of n consecutive samples has
    variance M^2 (1 + A^2) / (1 - A^2) / n. (A real, self-conjugate mode has
    twice that; the callers account for it.)
    """
    A2 = np.minimum(d["A"] ** 2, 1 - 1e-12)
    return d["M_dt"] ** 2 * (1 + A2) / (1 - A2) / d["n"]


# every scheme in 2D; in 3D the spectral scheme (the other paths share its code)
EQ_RUNS = [(n, m, s, (16, 16)) for n, m in EQ_MODELS for s in EQ_SCHEMES] + [
    (n, m, "si-spectral", (8, 8, 8)) for n, m in EQ_MODELS
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, model, scheme, shape", EQ_RUNS, ids=[f"{r[0]}-{r[2]}-{len(r[3])}d" for r in EQ_RUNS]
)
def test_equilibrium_structure_factor(equilibrium_data, name, model, scheme, shape):
    """<|phihat(k)|^2> dx^d / size = eps / (f'' + 2 kappa0 K^2) on k-shells."""
    d = equilibrium_data(name, model, scheme, shape)
    rep, _ = independent_modes(shape)
    var = _mean_variance(d)
    K = np.sqrt(d["K2"])
    edges = shell_edges(K)
    nshell = 0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = rep & (K >= lo) & (K < hi)
        if sel.sum() < 2:
            continue
        nshell += 1
        meas, exp_dt, exp_cont = d["meas"][sel].sum(), d["M_dt"][sel].sum(), d["M_cont"][sel].sum()
        sigma = math.sqrt(var[sel].sum()) / exp_dt  # relative standard error
        bias = abs(exp_dt / exp_cont - 1)  # discrete-time correction of the shell
        # dt is small: the continuum is within 3.5 % in 2D, 4.5 % in 3D (where
        # K^2 reaches 3 (pi/dx)^2, the 2D maximum being 2 (pi/dx)^2)
        assert bias < 0.045
        # 5 sigma: a false alarm in ~1e-6 per shell; the seed is fixed anyway
        assert abs(meas / exp_dt - 1) < 5 * sigma, (lo, hi, meas / exp_dt, sigma)
        assert abs(meas / exp_cont - 1) < 5 * sigma + bias, (lo, hi, meas / exp_cont, sigma)
    assert nshell >= 4


@pytest.mark.slow
@pytest.mark.parametrize("scheme", EQ_SCHEMES)
@pytest.mark.parametrize("name, model", EQ_MODELS, ids=[m[0] for m in EQ_MODELS])
def test_equilibrium_variance_is_sum_over_modes(equilibrium_data, name, model, scheme):
    """<(phi - phi0)^2> = sum_k S(k) / V (Parseval of the OZ spectrum)."""
    shape = (16, 16)
    d = equilibrium_data(name, model, scheme, shape)
    grid = d["grid"]
    rep, real = independent_modes(shape)
    var = _mean_variance(d)
    # real-space variance = (1/size^2) sum over all k != 0 of |phihat|^2:
    # 2 x every representative of a conjugate pair + the real modes once
    to_var = 1.0 / grid.size**2
    exp_dt = to_var * (2 * d["M_dt"][rep].sum() + d["M_dt"][real].sum())
    exp_cont = to_var * (2 * d["M_cont"][rep].sum() + d["M_cont"][real].sum())
    # continuum sum written directly: sum_k eps / (f'' + 2 kappa0 K^2) / V
    K2_full = k2_symbol(shape, grid.dx, "fd" if scheme != "si-spectral" else "spectral")
    w = np.full(K2_full.shape[-1], 2.0)
    w[0] = w[-1] = 1.0
    S = EQ_EPS / (model.f2(model.phi0) + 2 * model.kappa0 * K2_full)
    S.flat[0] = 0.0
    assert exp_cont == pytest.approx(np.sum(w * S) / (grid.size * grid.cell_volume), rel=1e-12)
    # v = to_var (sum_rep 2 |x|^2 + sum_real |x|^2); real modes fluctuate twice as much
    sigma = to_var * math.sqrt(4 * var[rep].sum() + 2 * var[real].sum())
    bias = abs(exp_dt - exp_cont)
    assert abs(d["var"] - exp_dt) < 5 * sigma, (d["var"], exp_dt, sigma)
    assert abs(d["var"] - exp_cont) < 5 * sigma + bias, (d["var"], exp_cont, sigma, bias)


@pytest.mark.parametrize("shape", [(16, 16), (8, 8, 8)], ids=["2d", "3d"])
@pytest.mark.parametrize("scheme", EQ_SCHEMES)
@pytest.mark.parametrize("name, model", EQ_MODELS, ids=[m[0] for m in EQ_MODELS])
def test_noise_increment_spectrum(name, model, scheme, shape):
    """One step from the uniform state is pure noise: <|dphihat|^2> per mode
    = 2 eps dt K^2 size / (dV D^2) (D = 1 explicit), i.e. the flux variance
    2 eps / (dt dV) per cell and component of conserved (div) noise."""
    grid = Grid(shape, 2.0)
    dt, eps, nrep = 0.05, 1e-3, 400
    rng = np.random.default_rng(99)
    st = make_stepper(scheme, model, grid, dt, noise=eps)
    lap = "fd" if scheme in ("si-fd", "explicit") else "spectral"
    K2 = k2_symbol(shape, grid.dx, lap)
    uniform = np.full(shape, model.phi0)
    st.set_state(uniform)
    if scheme == "explicit":
        D = np.ones_like(K2)
    else:  # one step from a uniform state: the stabilisation set by set_state
        D = si_factors(model, K2, dt, 1.0, S=st.S, kappa_s=st.kappa_s)[1]
    expect = 2 * eps * dt * K2 * grid.size / (grid.cell_volume * D**2)
    acc = np.zeros_like(K2)
    for _ in range(nrep):
        st.set_state(uniform)
        dphi = st.step(1, rng) - model.phi0
        # conserved noise: the increment has zero mean to round-off (k = 0 empty)
        assert abs(dphi.mean()) < 4 * EPS
        acc += np.abs(np.fft.rfftn(dphi)) ** 2
    acc /= nrep
    rep, real = independent_modes(shape)
    K = np.sqrt(K2)
    for lo, hi in zip(shell_edges(K)[:-1], shell_edges(K)[1:]):
        sel = rep & (K >= lo) & (K < hi)
        if not sel.any():
            continue
        # |dphihat|^2 of a complex Gaussian mode is exponential (sd = mean), and
        # the draws are independent: relative sd of the shell sum
        # sqrt(sum expect^2 / nrep) / sum expect; 5 sigma
        sigma = math.sqrt(np.sum(expect[sel] ** 2) / nrep) / expect[sel].sum()
        assert acc[sel].sum() / expect[sel].sum() == pytest.approx(1.0, abs=5 * sigma)
    # real (self-conjugate) modes: chi-square with one degree of freedom, sd = sqrt(2) mean
    sel = real
    sigma = math.sqrt(2 * np.sum(expect[sel] ** 2) / nrep) / expect[sel].sum()
    assert acc[sel].sum() / expect[sel].sum() == pytest.approx(1.0, abs=5 * sigma)


# ---------------------------------------------------------------------------
# 8. bad input and blow-up
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, dx, pattern",
    [
        ((15, 16), 1.0, r"every side must be an even number >= 8"),
        ((6, 6), 1.0, r"every side must be an even number >= 8"),
        ((16, 16, 9), 1.0, r"every side must be an even number >= 8"),
        ((64,), 1.0, r"only 2D and 3D grids are supported"),
        ((8, 8, 8, 8), 1.0, r"only 2D and 3D grids are supported"),
        ((16, 16), 0.0, r"dx=0.0 must be a positive number"),
        ((16, 16), -1.0, r"dx=-1.0 must be a positive number"),
        ((16, 16), float("nan"), r"dx=nan must be a positive number"),
    ],
)
def test_bad_grid(shape, dx, pattern):
    with pytest.raises(ParameterError, match=pattern):
        Grid(shape, dx)


@pytest.mark.parametrize("scheme", ["si-spectral", "explicit"])
@pytest.mark.parametrize("noise", [-1e-4, float("nan"), float("inf")])
def test_bad_noise(scheme, noise):
    m = Landau(0.5)
    with pytest.raises(ParameterError, match=r"noise=.* must be >= 0"):
        make_stepper(scheme, m, Grid((16, 16), 1.0), 0.001, noise=noise)


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan")])
def test_bad_dt(dt):
    with pytest.raises(ParameterError, match=r"dt=.* must be a positive time step"):
        SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), dt)


@pytest.mark.parametrize("name, model, dx", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("factor", [1.0, 1.5, 10.0])
def test_explicit_refuses_unstable_dt(name, model, dx, factor):
    grid = Grid((16, 16), dx)
    lim = explicit_dt_limit(model, grid)
    # the bound is conservative: below the forward-Euler limit of the
    # linearised operator at phi0, 2 / (lam (f''(phi0) + 2 kappa0 lam)), lam = 4d/dx^2
    lam = 8 / dx**2
    assert lim <= 2 / (lam * (model.f2(model.phi0) + 2 * model.kappa0 * lam))
    with pytest.raises(ParameterError, match=rf"unstable for the explicit scheme.*need dt < {lim:.4g}"):
        ExplicitEuler(model, grid, factor * lim)
    ExplicitEuler(model, grid, 0.99 * lim)  # just below is accepted


def test_other_bad_solver_input(rng):
    m, grid = Landau(0.5), Grid((16, 16), 1.0)
    with pytest.raises(ParameterError, match=r"stabilization=-1.0 must be >= 0"):
        SemiImplicitSpectral(m, grid, 0.01, stabilization=-1.0)
    with pytest.raises(ParameterError, match=r"laplacian='fft': choose 'spectral' or 'fd'"):
        SemiImplicitSpectral(m, grid, 0.01, laplacian="fft")
    with pytest.raises(ParameterError, match=r"fft backend='mkl'"):
        SemiImplicitSpectral(m, grid, 0.01, fft="mkl")
    for st in (SemiImplicitSpectral(m, grid, 0.01), ExplicitEuler(m, grid, 0.01)):
        with pytest.raises(SimulationError, match=r"call set_state\(\) before step\(\)"):
            st.step(1)
        with pytest.raises(ParameterError, match=r"state shape \(8, 8\) != grid shape \(16, 16\)"):
            st.set_state(np.full((8, 8), 0.5))
    for st in (SemiImplicitSpectral(m, grid, 0.01, noise=1.0), ExplicitEuler(m, grid, 0.01, noise=1.0)):
        st.set_state(np.full((16, 16), 0.5))
        with pytest.raises(ParameterError, match=r"noise > 0 needs a numpy.random.Generator"):
            st.step(1)
    for amp in (0.0, -0.01, 0.5, 0.6):
        with pytest.raises(ParameterError, match=r"initial amplitude=.* must be > 0 and below"):
            initial_condition(m, grid, rng, amp)


@pytest.mark.parametrize(
    "times, kwargs, pattern",
    [
        ([1.0, 1.0, 2.0], {}, r"strictly increasing"),
        ([2.0, 1.0], {}, r"strictly increasing"),
        ([], {}, r"non-empty"),
        ([-1.0, 1.0], {}, r"times >= 0"),
        ([1.0, 2.0], dict(dt_max=0.001), r"dt_max=0.001 must be >= dt=0.01"),
        ([1.0, 2.0], dict(dt_growth=-0.1), r"dt_growth=-0.1 must be >= 0"),
    ],
)
def test_bad_snapshot_schedule(times, kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        step_schedule(times, 0.01, **kwargs)


@pytest.mark.parametrize("dt_growth, dt_max", [(0.0, None), (0.05, 1.0), (0.5, 100.0)])
def test_step_schedule_lands_on_snapshots(dt_growth, dt_max):
    times = np.array([0.0, 0.3, 1.0, 5.0, 50.0, 400.0])
    n, h = step_schedule(times, 0.01, dt_growth=dt_growth, dt_max=dt_max)
    starts = np.concatenate([[0.0], times[:-1]])
    # the steps add up to every snapshot time (one rounding per product)
    np.testing.assert_allclose(starts + n * h, times, rtol=1e-14, atol=0)
    target = np.clip(dt_growth * starts, 0.01, 0.01 if dt_max is None else dt_max)
    assert np.all(h[n > 0] <= target[n > 0] * (1 + 1e-12))  # never longer than allowed
    assert np.all(h[n > 0] > 0.5 * target[n > 0])  # and the fewest such steps
    assert n[0] == 0  # t = 0 records the initial state


def test_integrate_records_initial_state_and_conserves_mass():
    m, grid = Landau(0.45), Grid((32, 32), 1.0)
    phi0 = initial_condition(m, grid, np.random.default_rng(1), 0.05)
    st = SemiImplicitSpectral(m, grid, 0.1)
    snaps, steps = integrate(st, phi0, [0.0, 1.0, 10.0, 40.0], dt_growth=0.05, dt_max=1.0,
                             dtype=np.float64)
    np.testing.assert_array_equal(snaps[0], phi0)  # t = 0 is the untouched input
    assert steps[0] == 0 and np.all(np.diff(steps) > 0)
    # float64 snapshots: the mean stays phi0 to round-off (bound as in test 1)
    assert np.all(np.abs(snaps.mean(axis=(1, 2)) - 0.45) <= (steps[-1] + 8) * EPS)
    assert st.time == 40.0


@pytest.mark.parametrize("gradient", ["de_gennes", "constant"])
def test_blow_up_raises_simulation_error(gradient):
    """Huge noise on a deep quench drives phi out of (0, 1): log -> NaN."""
    m = fh(3.0, 0.5, gradient)
    grid = Grid((32, 32), 2.0)
    st = SemiImplicitSpectral(m, grid, 0.02 * m.time_scale, noise=10.0)
    st.set_state(np.full(grid.shape, 0.5))
    with pytest.raises(SimulationError, match=r"blew up \(NaN/inf\)"):
        st.step(50, np.random.default_rng(0))
    assert st.phi is None  # the broken state cannot be stepped on
    with pytest.raises(SimulationError, match=r"call set_state"):
        st.step(1)


# ---------------------------------------------------------------------------
# 10. the second-order scheme (SBDF2) and accuracy-controlled steps
# ---------------------------------------------------------------------------
SBDF2_CASES = [
    ("landau-0.5", Landau(0.5), 1.0),
    ("fh-degennes", fh(1.5, 0.45, "de_gennes"), 4.0),
    ("fh-constant", fh(2.0, 0.5, "constant"), 4.0),
]


@pytest.mark.parametrize("name, model, dx", SBDF2_CASES, ids=[c[0] for c in SBDF2_CASES])
def test_second_order_self_convergence(name, model, dx):
    """Fixed steps dt, dt/2, dt/4 against dt/16: the error falls 4x per halving."""
    grid = Grid((32, 32), dx)
    T = 3 * model.time_scale  # linear stage into domain formation
    phi0 = initial_condition(model, grid, np.random.default_rng(5), amplitude=0.05)

    def run(n):
        st = SemiImplicitSpectral(model, grid, T / n, order=2)
        st.set_state(phi0)
        return st.step(n).copy()

    n0 = 60
    ref = run(16 * n0)
    errs = [np.sqrt(np.mean((run(n0 * f) - ref) ** 2)) for f in (1, 2, 4)]
    orders = np.log2(np.array(errs[:-1]) / errs[1:])
    # Richardson against dt/16: the reference's own error inflates the finest
    # difference by <= (1/16 / 1/4)^2 = 6 %, so the observed order of a
    # second-order scheme lies in 1.8-2.2 (measured 1.96-2.05)
    assert np.all((orders > 1.8) & (orders < 2.2)), (orders, errs)


@pytest.mark.parametrize("name, model, dx", SBDF2_CASES[1:], ids=[c[0] for c in SBDF2_CASES[1:]])
def test_second_order_matches_explicit_reference(name, model, dx):
    """Same space discretisation (fd): SBDF2 at a modest step and forward Euler
    at a step 20x below its stability limit give the same field."""
    grid = Grid((32, 32), dx)
    T = 3 * model.time_scale
    phi0 = initial_condition(model, grid, np.random.default_rng(6), amplitude=0.05)
    lim = explicit_dt_limit(model, grid)
    n_ex = int(math.ceil(T / (0.05 * lim)))
    ex = ExplicitEuler(model, grid, T / n_ex)
    ex.set_state(phi0)
    b = ex.step(n_ex)
    si = SemiImplicitSpectral(model, grid, T / 300, laplacian="fd", order=2)
    si.set_state(phi0)
    a = si.step(300)
    # forward Euler at 0.05 of its limit differs from the exact solution by
    # ~dt/T ~ 1e-4 relative; SBDF2 at 300 steps by (1/300)^2 x its constant:
    # both far below 0.5 % of the field's spread (measured < 0.1 %)
    assert np.sqrt(np.mean((a - b) ** 2)) < 5e-3 * b.std()


def test_accuracy_controlled_steps():
    """integrate(accuracy=...) lands on every snapshot, grows the step as the
    domains coarsen, and tightening the accuracy changes L by < 2 %."""
    model = fh(2.0, 0.5, "de_gennes")
    grid = Grid((64, 64), 2.0)
    tau = model.time_scale
    times = tau * np.array([5.0, 20.0, 80.0])
    phi0 = initial_condition(model, grid, np.random.default_rng(8))
    out = {}
    for acc in (0.5, 0.1):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau)
        snaps, steps = integrate(st, phi0, times, accuracy=acc, dt_max=tau)
        out[acc] = (snaps, steps)
        assert st.time == times[-1]
        assert np.all(np.diff(steps) > 0)
    snaps, steps = out[0.5]
    # the step grew during coarsening: fixed steps of the initial 0.02 tau
    # would need 4000 to reach 80 tau; the adaptive run takes < half of that
    # (measured 1596; the gain grows with the run length, ~t^(2/3))
    assert steps[-1] < 2000
    # 5x more accurate steps cost more but change the domain size little:
    # splitting error ~ accuracy^2 for the second-order scheme
    assert out[0.1][1][-1] > 2 * steps[-1]
    L_a = characteristic_length(snaps[-1].astype(float), grid.dx)
    L_b = characteristic_length(out[0.1][0][-1].astype(float), grid.dx)
    # 2 %, the study's criterion: at 80 tau the 128 b box holds only a few
    # domains, so a small change of the pattern moves L by ~1 % (measured 1.2 %)
    assert abs(L_a / L_b - 1) < 0.02, (L_a, L_b)


@pytest.mark.parametrize("noise", [0.0, 1e-4])
def test_second_order_conserves_mass(noise):
    model = fh(2.0, 0.35, "de_gennes")
    grid = Grid((32, 32), 2.0)
    st = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=noise)
    st.set_state(initial_condition(model, grid, np.random.default_rng(9)))
    m0 = st.phi.mean()
    st.step(200, np.random.default_rng(10))
    # conserved noise and a k = 0 mode untouched by every term: round-off only
    assert abs(st.phi.mean() - m0) < 200 * EPS


def test_order_is_validated():
    with pytest.raises(ParameterError, match=r"order=3: choose 1 or 2"):
        SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), 0.1, order=3)
    with pytest.raises(ParameterError, match=r"accuracy=-1"):
        integrate(SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), 0.1),
                  np.full((16, 16), 0.5), [1.0], accuracy=-1)


# ---------------------------------------------------------------------------
# 9. threads, determinism and the counter-based noise generator
# ---------------------------------------------------------------------------
from scattermorph.fft import FFTPair  # noqa: E402


@pytest.fixture
def always_parallel(monkeypatch):
    """Run every pass with >= 2 chunks through the thread pool, and every FFT
    on the threads asked for, however small."""
    from scattermorph import fft as _fft

    monkeypatch.setattr(parallel, "PARALLEL_MIN", 0)
    monkeypatch.setattr(_fft, "FFT_THREADS_MIN_SIZE", 0)


# (256, 256): 2 real chunks, 3 chunks of rows; (40, 40, 40): 2 and 3
DET_SHAPES = [(256, 256), (40, 40, 40)]


@pytest.mark.parametrize("gradient", ["de_gennes", "constant"])
@pytest.mark.parametrize("shape", DET_SHAPES, ids=["2d", "3d"])
def test_same_fields_whatever_the_thread_count(always_parallel, shape, gradient):
    """Same seed, bit-identical fields, splitting rate and local error with 1,
    2 and 3 threads (FFTs and passes), with noise, across a restabilisation."""
    model = fh(2.0, 0.3, gradient)
    grid = Grid(shape, 2.0)
    phi0 = initial_condition(model, grid, np.random.default_rng(4))
    out = []
    for threads in (1, 2, 3):
        st = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=1e-4,
                                  threads=threads)
        st.set_state(phi0)
        rng = np.random.default_rng(5)
        st.step(12, rng)
        out.append((st.phi.copy(), st.splitting_rate(), st.local_error(), st.S, st.kappa_s))
    assert parallel.PARALLEL_MIN == 0 and 2 in parallel._POOLS  # the pool did run
    for other in out[1:]:
        assert np.array_equal(out[0][0], other[0])
        assert out[0][1:] == other[1:]


@pytest.mark.parametrize("tolerance", [None, 3e-3], ids=["rate", "error-control"])
@pytest.mark.parametrize("shape", DET_SHAPES, ids=["2d", "3d"])
def test_safeguarded_run_is_the_same_whatever_the_thread_count(always_parallel, shape, tolerance):
    """The study's scheme (selective stabiliser, tried and taken-back steps)
    at an accuracy high enough that steps are rejected: the same snapshots,
    step counts and rejections with 1 and 2 threads; with error control too
    (its estimate is summed per chunk in chunk order, so it steers both runs
    to the same steps)."""
    model = fh(2.0, 0.25, "de_gennes")
    grid = Grid(shape, 2.0)
    tau = model.time_scale
    phi0 = initial_condition(model, grid, np.random.default_rng(4))
    out = []
    for threads in (1, 2):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau, noise=1e-4, threads=threads,
                                  selective=1.0)
        st.set_state(phi0)
        ctl = StepController(st, 8.0, tau, tolerance=tolerance)
        rng = np.random.default_rng(5)
        fields = []
        for t in (2.0 * tau, 6.0 * tau):
            ctl.advance_to(t, rng)
            fields.append(st.phi.copy())
        out.append((fields, ctl.accepted, ctl.rejected))
    assert out[0][1:] == out[1][1:]
    for a, b in zip(out[0][0], out[1][0]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", ["fftw", "scipy"])
@pytest.mark.parametrize("shape", [(256, 256), (96, 160), (40, 40, 40), (64, 64, 64),
                                   (48, 80, 32)])
def test_fft_pair_is_bit_identical_whatever_the_thread_count(always_parallel, shape, backend):
    """FFTW_ESTIMATE plans (and pocketfft workers) with 1, 2, 3 threads give the
    same bits, forward and inverse: the study's tables must not depend on the
    threads Snakemake grants a job."""
    from scattermorph.fft import HAVE_FFTW

    if backend == "fftw" and not HAVE_FFTW:
        pytest.skip("pyFFTW is not installed")
    x = np.random.default_rng(1).standard_normal(shape)
    res = []
    for threads in (1, 2, 3):
        pair = FFTPair(shape, backend, threads=threads)
        assert pair.threads == threads
        pair.real[...] = x
        spec = pair.forward().copy()
        res.append((spec, pair.inverse().copy()))
    for spec, real in res[1:]:
        assert np.array_equal(spec, res[0][0]) and np.array_equal(real, res[0][1])


def test_fft_pair_ignores_wisdom_of_earlier_plans():
    """FFTW reuses wisdom of FFTW_MEASURE plans for FFTW_ESTIMATE plans of the
    same shape, which changes the round-off (found by bench_simulation.py,
    whose MEASURE plans made its 1- and 2-thread steps differ): FFTPair plans
    with the process's wisdom set aside, and gives it back."""
    pyfftw = pytest.importorskip("pyfftw")
    shape = (64, 64, 64)
    x = np.random.default_rng(2).standard_normal(shape)

    def spectrum(threads):
        pair = FFTPair(shape, "fftw", threads=threads)
        pair.real[...] = x
        return pair.forward().copy()

    before = spectrum(1)
    a = pyfftw.empty_aligned(shape, dtype="float64")
    b = pyfftw.empty_aligned((64, 64, 33), dtype="complex128")
    pyfftw.FFTW(a, b, axes=(0, 1, 2), flags=("FFTW_MEASURE",), threads=1)
    wisdom = pyfftw.export_wisdom()
    assert np.array_equal(spectrum(1), before)
    assert np.array_equal(spectrum(2), before)
    # the process's wisdom is kept (every entry; FFTPair's plans may add some)
    for old, new in zip(wisdom, pyfftw.export_wisdom()):
        assert set(old.splitlines()) <= set(new.splitlines())


@pytest.mark.slow  # measuring threaded FFTW plans on a busy machine takes 10-30 s
@pytest.mark.filterwarnings("ignore:FFTW MEASURE plans")  # a pair may fall back to one thread
def test_measured_plans_give_the_same_fields_whatever_the_thread_count(always_parallel, tmp_path):
    """fft_plan='measure' (simulation.fft_plan: measure): with one wisdom
    cache, 1, 2 and 3 threads give bit-identical fields, and they differ from
    the estimated plans' fields by round-off only. Bound: 1e-12 of the field
    after 12 steps, the transforms' round-off (~1e-16 relative) amplified by
    at most the stable scheme's growth factor over 12 short steps."""
    pytest.importorskip("pyfftw")
    model = fh(2.0, 0.3, "de_gennes")
    grid = Grid((40, 40, 40), 2.0)
    phi0 = initial_condition(model, grid, np.random.default_rng(4))
    out = []
    for threads, plan in [(1, "estimate"), (1, "measure"), (2, "measure"), (3, "measure")]:
        st = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=1e-4,
                                  threads=threads, fft_plan=plan, fft_wisdom=tmp_path)
        assert st.fft.plan == plan and st.fft2.plan == plan
        st.set_state(phi0)
        st.step(12, np.random.default_rng(5))
        out.append(st.phi.copy())
    assert np.array_equal(out[1], out[2]) and np.array_equal(out[1], out[3])
    assert np.max(np.abs(out[1] - out[0])) <= 1e-12


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads(threads):
    with pytest.raises(ParameterError, match=r"threads=.* must be an integer >= 1"):
        SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), 0.1, threads=threads)


NORMALS_N = 1 << 22  # 4.2 M numbers: 5 sigma of the mean is 2.4e-3


@pytest.fixture(scope="module")
def normals():
    key = np.random.default_rng(2021).integers(0, 2**64, size=2, dtype=np.uint64)
    return noise_gen.standard_normals(key, np.empty(NORMALS_N))


def test_generator_is_a_pure_function_of_key_and_index(always_parallel, normals):
    key = np.random.default_rng(2021).integers(0, 2**64, size=2, dtype=np.uint64)
    again = noise_gen.standard_normals(key, np.empty(NORMALS_N), threads=2)
    assert np.array_equal(again, normals)
    part = noise_gen.standard_normals(key, np.empty(1000))
    assert np.array_equal(part, normals[:1000])
    other = noise_gen.standard_normals(key ^ np.uint64(1), np.empty(1000))
    assert not np.any(other == normals[:1000])


def test_generator_moments(normals):
    """Mean, variance, skewness and excess kurtosis of N(0, 1) within 5
    standard errors (sd sqrt(1/n), sqrt(2/n), sqrt(6/n), sqrt(24/n)); the key
    is fixed, so the test is deterministic, and a correct generator fails a
    5 sigma bound with probability ~1e-6 per statistic."""
    x = normals
    n = x.size
    m = x.mean()
    v = x.var()
    z = (x - m) / math.sqrt(v)
    assert abs(m) < 5 * math.sqrt(1 / n)
    assert abs(v - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(z**3)) < 5 * math.sqrt(6 / n)
    assert abs(np.mean(z**4) - 3) < 5 * math.sqrt(24 / n)
    assert np.all(np.isfinite(x))


def test_generator_distribution(normals):
    """Kolmogorov-Smirnov and chi-square (200 equiprobable bins) against the
    normal distribution, p > 1e-4 each (the ziggurat tables, the wedge and
    tail branches all shape the distribution); the tail beyond the
    ziggurat's r = 3.654 (Marsaglia's tail algorithm) and beyond 4.5 hold the
    normal's share of the numbers within 5 Poisson sigma."""
    from scipy import stats

    x = normals
    assert stats.kstest(x, "norm").pvalue > 1e-4
    edges = stats.norm.ppf(np.linspace(0, 1, 201))
    counts = np.histogram(x, bins=edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-4
    for t in (noise_gen._ZIG_R, 4.5):
        expect = x.size * 2 * stats.norm.sf(t)
        got = np.count_nonzero(np.abs(x) > t)
        assert abs(got - expect) < 5 * math.sqrt(expect), (t, got, expect)


def test_generator_has_no_correlations(normals):
    """Pearson correlation of neighbouring numbers (lags 1, 2 and 129, the
    row length of a 256-wide layout), of a number with its neighbour's
    square, and of the streams of two successive steps' keys: |r| < 5 /
    sqrt(n), 5 standard errors of r for independent numbers."""
    x = normals
    n = x.size
    bound = 5 / math.sqrt(n)
    for lag in (1, 2, 129):
        r = np.corrcoef(x[:-lag], x[lag:])[0, 1]
        assert abs(r) < bound, (lag, r)
    r = np.corrcoef(x[:-1], x[1:] ** 2)[0, 1]
    assert abs(r) < bound
    rng = np.random.default_rng(77)
    st = SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), 0.1, noise=1.0)
    a = noise_gen.standard_normals(st._noise_key(rng), np.empty(n))
    b = noise_gen.standard_normals(st._noise_key(rng), np.empty(n))
    assert abs(np.corrcoef(a, b)[0, 1]) < bound


@pytest.mark.parametrize("shape", [(16, 12), (8, 10, 6)], ids=["2d", "3d"])
def test_noise_is_hermitian_white_noise(shape):
    """The drawn half-complex noise is the spectrum of a real field (irfftn
    then rfftn gives it back), the self-conjugate modes are real, and every
    mode has <|w|^2> = 2 (interior modes: Re and Im N(0, 1); plane modes
    (z + conj z_mirror)/sqrt(2): the same; self-conjugate sqrt(2) Re z: 2):
    mean over 4000 draws within 5 sigma (|w|^2 has sd 2 for complex modes,
    2 sqrt(2) for real ones)."""
    st = SemiImplicitSpectral(Landau(0.5), Grid((8, 8), 1.0), 0.1, noise=1.0)
    # draw into the layout of ``shape`` (sides need not be grid-valid here)
    cshape = tuple(shape[:-1]) + (shape[-1] // 2 + 1,)
    rng = np.random.default_rng(3)
    acc = np.zeros(cshape)
    nrep = 4000
    w = np.empty(cshape, dtype=complex)
    _, real = independent_modes(shape)
    real = real.copy()
    real.flat[0] = True
    for _ in range(nrep):
        noise_gen.fill_noise(st._noise_key(rng), w)
        acc += np.abs(w) ** 2
    axes = tuple(range(len(shape)))
    back = np.fft.rfftn(np.fft.irfftn(w, s=shape, axes=axes), s=shape, axes=axes)
    np.testing.assert_allclose(back, w, rtol=0, atol=1e-12)
    assert np.all(w[real].imag == 0)
    acc /= nrep
    sd = np.where(real, 2 * math.sqrt(2), 2.0) / math.sqrt(nrep)
    assert np.all(np.abs(acc - 2.0) < 5 * sd), np.max(np.abs(acc - 2) / sd)


def test_step_adds_the_drawn_noise():
    """One first-order step from a uniform state adds exactly cnoise |K| w /
    D, w the noise _draw_noise gives for the same generator state (the step
    draws it inline, row by row)."""
    model = fh(2.0, 0.4, "de_gennes")
    shape = (24, 16, 20)
    grid = Grid(shape, 2.0)
    dt, eps = 0.01 * model.time_scale, 1e-3
    st = SemiImplicitSpectral(model, grid, dt, noise=eps, order=1)
    uniform = np.full(shape, model.phi0)
    st.set_state(uniform)
    dphi = st.step(1, np.random.default_rng(8)).copy() - model.phi0
    w = st._draw_noise(np.random.default_rng(8))
    K2 = k2_symbol(shape, grid.dx, "spectral")
    D = si_factors(model, K2, dt, 1.0, S=st.S, kappa_s=st.kappa_s)[1]
    cnoise = math.sqrt(eps * dt / grid.cell_volume * grid.size)
    expect = np.fft.irfftn(cnoise * np.sqrt(K2) * w / D, s=shape, axes=(0, 1, 2))
    np.testing.assert_allclose(dphi, expect, rtol=0, atol=1e-12 * np.abs(expect).max() + 4 * EPS)


# ---------------------------------------------------------------------------
# the study's scheme: scale-selective stabiliser, bulk-phase step rate,
# safeguarded steps (issue 13)
# ---------------------------------------------------------------------------
def test_bulk_stiffness_is_that_of_the_coexisting_phases():
    """f'' and kappa at the binodal, checked against the common tangent solved
    here by bisection (independent of model.coexistence's brentq)."""
    m = fh(2.0, 0.25, "de_gennes")
    chin = m.chi * m.N
    a, b = 1e-12, 0.5 - 0.5 * math.sqrt(1 - 2 / chin) - 1e-12
    for _ in range(200):  # ln(p / (1 - p)) = chi N (2 p - 1) on (0, spinodal)
        c = 0.5 * (a + b)
        if math.log(c / (1 - c)) - chin * (2 * c - 1) < 0:
            a = c
        else:
            b = c
    f2 = 1 / (m.N * c * (1 - c)) - 2 * m.chi
    S, kappa = m.bulk_stiffness()
    assert S == pytest.approx(f2, rel=1e-9) and kappa == pytest.approx(1 / (36 * c * (1 - c)), rel=1e-9)
    # the phi^4 model: phases at phi = 0, 1 (psi = -1, 1), f'' = 3 psi^2 - 1 = 2
    assert Landau(0.5, kappa=1.0).bulk_stiffness() == (2.0, 0.5)


@pytest.mark.parametrize("theta", [0.3, 1.0, 4.0])
def test_selective_amplification_factor_is_exact(theta):
    """One step on a tiny multi-mode perturbation: each mode's factor is
    (D_eff - dt K^2 c) / D_eff with D_eff = 1 + dt K^2 L z / (z + theta),
    z = dt K^2 L, L = S + 2 kappa_s K^2 (first-order step; the filter's
    definition written out independently)."""
    model = fh(1.5, 0.5, "de_gennes")
    modes, shape = _linear_case(2)
    grid = Grid(shape, 2.0)
    K2 = mode_k2(modes, shape, 2.0, "spectral")
    dt = 1.0 * model.time_scale
    phi = mode_field(model, shape, modes, 1e-6)
    st = SemiImplicitSpectral(model, grid, dt, order=1, selective=theta)
    st.set_state(phi)
    L = st.S + 2 * st.kappa_s * K2
    z = dt * K2 * L
    D = 1 + dt * K2 * L * z / (z + theta)
    G = 1 - dt * K2 * (model.f2(model.phi0) + 2 * model.kappa0 * K2) / D
    measured = mode_amplitudes(st.step(1), modes, model.phi0) / mode_amplitudes(phi, modes, model.phi0)
    # same error budget as test_linear_amplification_factor_is_exact
    tol = 1e-8 * np.maximum(np.abs(G), 1.0)
    np.testing.assert_array_less(np.abs(measured.real - G), tol)
    # the filter matters for these modes: without it the factors differ
    G0 = 1 - dt * K2 * (model.f2(model.phi0) + 2 * model.kappa0 * K2) / (1 + dt * K2 * L)
    assert np.max(np.abs(G0 - G)) > 1e-3


def test_try_step_and_undo_restore_the_state_bit_for_bit():
    model = fh(2.0, 0.3, "de_gennes")
    grid = Grid((32, 32), 2.0)
    st = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, noise=1e-4, selective=1.0)
    st.set_state(initial_condition(model, grid, np.random.default_rng(3)))
    rng = np.random.default_rng(4)
    st.step(5, rng)
    st.try_step(rng)
    st.accept()
    before = (st.phi.copy(), st.phihat.copy(), st._phihat_prev.copy(), st._muhat_prev.copy(),
              st.time, st.steps, st.S, st._prev_dt)
    state = rng.bit_generator.state
    st.set_dt(3 * st.dt)
    first = st.try_step(rng)
    st.undo()
    after = (st.phi, st.phihat, st._phihat_prev, st._muhat_prev, st.time, st.steps, st.S,
             st._prev_dt)
    for x, y in zip(before[:4], after[:4]):
        np.testing.assert_array_equal(x, y)
    assert before[4:] == after[4:]
    # the same step again, with the same random state, gives the same result
    rng.bit_generator.state = state
    assert st.try_step(rng) == first


def test_try_step_error_is_second_order():
    """err = max |phi' - phi*| ~ dt^2 |phi_tt|: halving the step (in a smooth,
    noise-free stretch of the run) divides it by ~4."""
    model = fh(1.5, 0.5, "de_gennes")
    grid = Grid((32, 32), 2.0)
    tau = model.time_scale
    phi = initial_condition(model, grid, np.random.default_rng(5))
    errs = []
    for dt in (0.02 * tau, 0.01 * tau):
        st = SemiImplicitSpectral(model, grid, dt, selective=1.0)
        st.set_state(phi)
        for _ in range(round(2 * tau / dt)):
            err, _, _ = st.try_step()
            st.accept()
        errs.append(err)
    # leading order 4; the next order and the changing state between the two
    # runs' last steps (same time, 2 tau) allow 3-5
    assert 3.0 < errs[0] / errs[1] < 5.0, errs


def test_admissible_range():
    m = fh(2.0, 0.25, "de_gennes")
    lo, _ = m.coexistence()
    assert admissible_range(m) == pytest.approx((0.25 * lo, 1 - 0.25 * lo))
    assert admissible_range(Landau(0.5)) == (-math.inf, math.inf)


def test_safeguarded_steps_stay_admissible_and_land_on_snapshots():
    """A deep off-critical quench with steps far beyond the study's accuracy:
    steps are rejected and retried (never a blow-up), every stored field lies
    inside the admissible range, and the run lands on every snapshot."""
    model = fh(2.0, 0.25, "de_gennes")
    grid = Grid((48, 48), 2.0)
    tau = model.time_scale
    times = tau * np.array([5.0, 20.0, 60.0])
    st = SemiImplicitSpectral(model, grid, 0.02 * tau, noise=1e-4, selective=1.0)
    rng = np.random.default_rng(6)
    phi0 = initial_condition(model, grid, np.random.default_rng(7))
    ctl = StepController(st, 8.0, tau)
    snaps = []
    st.set_state(phi0)
    for t in times:
        ctl.advance_to(float(t), rng)
        assert st.time == t
        snaps.append(st.phi.copy())
    lo, hi = admissible_range(model)
    assert ctl.rejected > 0  # accuracy 8 is 8x the study's: the safeguard acted
    assert lo < np.min(snaps) and np.max(snaps) < hi


def test_error_control_shortens_the_steps_and_keeps_the_fields():
    """With a tolerance the steps follow the local-error estimate: a tighter
    tolerance takes more steps (the estimate scales as dt^2, so 10x tighter
    about 3.2x more steps where the error rule decides, fewer overall where the
    other caps do), keeping the noise
    record (track_noise) changes no field, and the estimate that drives the
    steps stays near the tolerance (below the rejection bound, 4x)."""
    model = Landau(0.5, kappa=2.5)
    grid = Grid((48, 48), 2.0)
    tau = model.time_scale
    phi0 = initial_condition(model, grid, np.random.default_rng(3))
    steps, errs = {}, {}
    for tol in (1e-3, 1e-4):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau, selective=1.0)
        st.set_state(phi0)
        ctl = StepController(st, 3.0, 10 * tau, tolerance=tol)
        e = []
        for t in np.linspace(1, 30, 30) * tau:
            ctl.advance_to(t)
            e.append(st.last_error / tol)
        steps[tol], errs[tol] = ctl.accepted, max(e)
    assert steps[1e-4] > 2.0 * steps[1e-3]
    assert max(errs.values()) < 4.0
    # the noise record is bookkeeping: same fields with and without it
    fields = []
    for track in (False, True):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau, noise=1e-3, selective=1.0)
        if track:
            st.track_noise()
        st.set_state(phi0)
        ctl = StepController(st, 1.5, tau)
        ctl.advance_to(3 * tau, np.random.default_rng(5))
        fields.append(st.phi.copy())
    np.testing.assert_array_equal(fields[0], fields[1])


def test_error_estimate_sees_through_the_cook_noise():
    """The estimate is of the deterministic dynamics: the noise content of
    each mode (the noise propagated through the scheme's linear part at the
    coexisting phases) is taken out, and the lag-one product of successive
    estimates averages most of what is left. So a noisy run at the study's
    noise takes a small multiple of the steps of the same run without noise.
    Measured, blend phi0 0.5, quench 1.15, 64^2 to 60 tau, the study's
    settings (accuracy 2, tolerance 4e-4): 452 steps against 243 (1.9x); over
    the 2D stand-in of the default sweep at this point, tolerance 2.5e-4:
    4.2x with the noise content taken out but without the lag-one product,
    14x (accuracy 3, tolerance 1e-3, every mode) with only the last step's
    noise taken out, as the estimate did before (docs/model.md). The bound
    3x fails both."""
    model = fh(1.15, 0.5, "de_gennes")
    grid = Grid((64, 64), model.length_scale / 8)
    tau = model.time_scale
    phi0 = initial_condition(model, grid, np.random.default_rng(4))
    steps = {}
    for noise in (0.0, 1e-4):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau, noise=noise, selective=1.0)
        st.set_state(phi0)
        ctl = StepController(st, 2.0, tau, tolerance=4e-4)
        rng = np.random.default_rng(6)
        for t in np.geomspace(5, 60, 12) * tau:
            ctl.advance_to(t, rng)
        steps[noise] = ctl.accepted
    assert steps[1e-4] < 3.0 * steps[0.0], steps


def test_error_control_refuses_a_bad_tolerance():
    st = SemiImplicitSpectral(Landau(0.5), Grid((16, 16), 1.0), 0.1)
    with pytest.raises(ParameterError, match=r"tolerance=0 must be > 0"):
        StepController(st, 1.5, 1.0, tolerance=0)
    with pytest.raises(ParameterError, match=r"tolerance .* needs accuracy and safeguard=True"):
        integrate(st, np.full((16, 16), 0.5), [1.0], tolerance=1e-3)


def test_step_control_gives_up_with_a_clear_message():
    model = fh(2.0, 0.25, "de_gennes")
    grid = Grid((16, 16), 2.0)
    st = SemiImplicitSpectral(model, grid, 0.02 * model.time_scale, selective=1.0)
    st.set_state(initial_condition(model, grid, np.random.default_rng(1)))
    ctl = StepController(st, 1.0, model.time_scale, max_rejects=3)
    ctl.bounds = (0.3, 0.7)  # the field (0.25 +- 0.01) can never be admissible
    with pytest.raises(SimulationError, match=r"step control failed .* 4 steps in a row left the admissible range"):
        ctl.advance_to(model.time_scale)
    assert ctl.rejected == 4 and ctl.accepted == 0


@pytest.mark.slow
def test_selective_scheme_converges_to_its_small_step_reference():
    """Noise-free deep off-critical quench (the stiffest kind of run), 64^2 to
    60 tau: the study's accuracy (1) against 10x smaller steps. Same initial
    field and no noise, so only the time stepping differs. Characteristic
    length within 1 % and area fraction within 0.5 % at every snapshot
    (measured at 128^2 to 200 tau: 0.05 % and < 0.4 replicate std;
    benchmarks/bench_simulation.py section 5), with >= 5x fewer steps."""
    model = fh(2.0, 0.25, "de_gennes")
    grid = Grid((64, 64), 2.0)
    tau = model.time_scale
    times = tau * np.geomspace(5, 60, 6)
    phi0 = initial_condition(model, grid, np.random.default_rng(11))
    out = {}
    for acc in (1.0, 0.1):
        st = SemiImplicitSpectral(model, grid, 0.02 * tau, selective=1.0)
        out[acc] = integrate(st, phi0, times, accuracy=acc, dt_max=tau, safeguard=True)
    (a, na), (b, nb) = out[1.0], out[0.1]
    assert nb[-1] > 5 * na[-1]
    for x, y in zip(a, b):
        Lx = characteristic_length(x.astype(float), grid.dx)
        Ly = characteristic_length(y.astype(float), grid.dx)
        assert abs(Lx / Ly - 1) < 0.01
        assert abs(np.mean(x > model.phi0) / np.mean(y > model.phi0) - 1) < 0.005


class _SteeperLandau(Landau):
    """A phi^4 model with twice the bulk force: a free energy the compiled kernels do not know."""

    def mu_bulk(self, phi):
        return 2.0 * super().mu_bulk(phi)


def test_spectral_stepper_refuses_a_free_energy_it_has_no_kernel_for():
    # its kernels would integrate Landau's f'(phi), not this model's: refused, naming the model
    grid = Grid((16, 16), 1.0)
    with pytest.raises(ParameterError, match=r"model _SteeperLandau: SemiImplicitSpectral computes"):
        SemiImplicitSpectral(_SteeperLandau(0.5), grid, 0.01)
    # the finite-difference reference calls the model's own mu_bulk, so it takes it
    st = ExplicitEuler(_SteeperLandau(0.5), grid, 0.01)
    phi = np.full(grid.shape, 0.75)
    out = st.chemical_potential(phi, np.empty_like(phi))
    np.testing.assert_allclose(out, 2.0 * Landau(0.5).mu_bulk(phi), rtol=1e-12)
