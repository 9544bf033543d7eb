"""The stage's tables, summary page and figures: the strong-form truth against
the conservative form, the tiny configuration's tables (slow), the summary's
checks and the figures built from small tables."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scattermorph.dynamics.library import STRONG_TERMS
from scattermorph.dynamics.strong import strong_terms
from scattermorph.dynamics.study import cahn_table, forecast_table, recovery_tables, strong_truth
from scattermorph.dynamics.summary import dynamics_summary
from scattermorph.errors import InputFileError
from scattermorph.fft import rfft_wavevectors
from scattermorph.sim.free_energy import Landau

ROOT = Path(__file__).resolve().parents[2]


def test_strong_truth_is_the_landau_equation_expanded():
    # lap g(phi) - kappa lap^2 phi computed spectrally against the strong-form
    # terms (finite differences) weighted by strong_truth: a smooth field on a
    # fine grid (k dx = 0.2), so the stencils' O((k dx)^2) error is ~1e-2 relative
    n, dx = 64, 0.5
    x = np.arange(n) * dx
    k = 2 * np.pi * 2 / (n * dx)
    phi = 0.5 + 0.2 * np.cos(k * x)[:, None] * np.cos(k * x)[None, :]
    model = Landau(phi0=0.5, kappa=1.3)
    k2 = sum(q**2 for q in rfft_wavevectors(phi.shape, dx))
    g = 2 * phi - 6 * phi**2 + 4 * phi**3
    exact = np.fft.irfftn(-k2 * np.fft.rfftn(g) - model.kappa * k2**2 * np.fft.rfftn(phi), s=phi.shape,
                          axes=(0, 1))
    approx = np.tensordot(strong_truth(model), strong_terms(phi, dx), 1)
    assert len(strong_truth(model)) == len(STRONG_TERMS)
    assert np.abs(approx - exact).max() < 0.03 * np.abs(exact).max()


@pytest.mark.slow
def test_tiny_configuration_tables():
    # the tiny study's section (a few seconds): noise-free recovery within
    # 1 % for both models (measured 2e-3 at its short series), weak-form mass
    # drift 0, and the weak form forecasts S(q) better than the strong form
    cfg = yaml.safe_load((ROOT / "config/tiny.yaml").read_text())["dynamics"]
    coef, summ, blend, curves = recovery_tables(cfg, 7, log=lambda s: None)
    clean = summ[(summ.condition == "noise-free") & (summ.method == "weak")]
    assert (clean.max_rel_error < 0.01).all() and (clean.spurious == 0).all()
    assert (summ[summ.method == "weak"].mass_drift == 0).all()
    assert blend.quench.iloc[0] == pytest.approx(1.5, rel=0.01)
    fc = forecast_table(cfg, 7, log=lambda s: None)
    last = fc[fc.t_tau == fc.t_tau.max()].groupby(["model", "forecaster"]).sq.mean()
    for model in ("landau", "blend"):
        assert last[(model, "weak SINDy")] < last[(model, "strong SINDy")]
    table, series = cahn_table(cfg, 7, log=lambda s: None)
    ideal = table[(table.condition == "ideal") & (table.quantity == "quench")].iloc[0]
    assert ideal.recovered == pytest.approx(1.5, rel=0.05)
    assert {"q", "t", "s_qt", "rate"} <= set(series)


def _tables():
    coef = pd.DataFrame({"model": "landau", "condition": ["noise-free", "thermal noise"], "method": "weak",
                         "term": "lap(u)", "truth": -1.0, "recovered": [-1.0001, -0.98], "sd": [1e-5, 0.01]})
    summ = pd.DataFrame({"model": "landau", "condition": ["noise-free", "noise-free"], "method": ["weak", "strong"],
                         "max_rel_error": [1e-4, 0.99], "spurious": [0, 4], "mass_drift": [0.0, 0.06]})
    blend = pd.DataFrame({"condition": ["noise-free"], "quench_truth": [1.5], "quench": [1.50007],
                          "quench_sd": [1e-5], "mu_error": [1e-4], "degennes_ratio": [1.0001]})
    fc = pd.DataFrame({"model": "landau", "forecaster": "weak SINDy", "run": 0, "t_tau": [0.0, 5.0, 10.0, 20.0],
                       "sq": [0.0, 0.1, 0.2, 0.3], "area": 0.0, "perimeter": 0.0, "euler": 0.01})
    cahn = pd.DataFrame({"condition": ["ideal"], "quantity": ["quench"], "truth": [1.5], "recovered": [1.517],
                         "sd": [0.008]})
    return dict(coefficients=coef, summary=summ, blend=blend, forecast=fc, cahn=cahn)


def test_summary_reports_the_tables():
    t = _tables()
    page = dynamics_summary(**t, sources={k: f"{k}.csv" for k in t})
    assert "| landau | lap(u) | -1 | -1.0001 | 1e-05 |" in page
    assert "| noise-free | 1.5 | 1.5 | 1e-05 |" in page
    assert "| ideal | quench | 1.5 | 1.517 | 0.008 |" in page
    assert page == dynamics_summary(**t, sources={k: f"{k}.csv" for k in t})


def test_summary_names_a_missing_column():
    t = _tables()
    t["blend"] = t["blend"].drop(columns="mu_error")
    with pytest.raises(InputFileError, match="blend.csv lacks the column"):
        dynamics_summary(**t, sources={k: f"{k}.csv" for k in t})


def test_figures_draw_from_small_tables():
    from scattermorph.plots.dynamics import plot_cahn, plot_dynamics_forecast, plot_dynamics_recovery

    t = _tables()
    curves = pd.DataFrame({"condition": "noise-free", "phi": np.linspace(0.1, 0.9, 5),
                           "mu_true": np.linspace(-1, 1, 5), "mu_recovered": np.linspace(-1, 1, 5)})
    assert len(plot_dynamics_recovery(t["summary"], curves).axes) == 2
    assert len(plot_dynamics_forecast(t["forecast"]).axes) == 2
    q = np.linspace(0, 0.5, 6)
    a = {"q": q, "t": np.arange(3.0), "s_qt": np.ones((3, 6)), "rate": 0.1 - q**2, "rate_se": 0.01 + 0 * q,
         "intercept": 0.1, "slope": -1.0, "k_critical": 0.3}
    assert len(plot_cahn(a).axes) == 2


def test_window_longer_than_a_subsampled_series_is_refused():
    from scattermorph.dynamics.study import check_dynamics
    from scattermorph.errors import ParameterError

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["dynamics"]
    check_dynamics(cfg)
    cfg["degradation"]["time_stride"] = [20]
    with pytest.raises(ParameterError, match="dynamics.library.window = 21"):
        check_dynamics(cfg)
