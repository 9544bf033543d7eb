"""The study's measurement of windows and backgrounds (rule evaluate_windows) on a small synthetic family."""

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import ParameterError
from scattermorph.learn.summary import windows_markdown
from scattermorph.predict.evaluate import evaluate_windows, windows_table

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

Q = np.geomspace(0.004, 5.0, 160)


def _family_table():
    """8 "simulations" of 4 snapshots: peaked curves whose tail exponent m sets the densities."""
    rng = np.random.default_rng(2)
    rows, curves = [], []
    for sim in range(8):
        m = rng.uniform(3.0, 4.5)
        for k, qp in enumerate(np.geomspace(0.2, 0.05, 4)):
            x = Q / qp
            curves.append(x ** 2 / (1 + x ** (2 + m)))
            rows.append({"sim_id": f"s{sim}", "time": float(k), "area_density": 0.2 + 0.1 * (m - 3),
                         "perimeter_density": (1 + 0.3 * (m - 3)) * qp, "euler_density": (m - 3.5) * qp ** 2})
    return pd.DataFrame(rows), np.array(curves)


@pytest.mark.slow
def test_evaluate_windows_rows_and_table():
    table, s_q = _family_table()
    test = table["sim_id"].isin(["s1", "s4", "s6"]).to_numpy()
    rows = evaluate_windows(Q, s_q, table, ~test, test, 2, windows=[(0.3, 5.0), (0.5, 2.0)], backgrounds=[0.0, 0.5],
                            noise=0.01, kernel="squared_exponential", restarts=0, seed=3, n_points=16,
                            x_range=(0.3, 5.0), per_simulation=1, n_draws=5, tail=8.0)
    # 3 test simulations x 1 snapshot x (2 windows x 2 levels + the full window given 0 + the tail window x 2
    # levels: every curve reaches 8 q1) x 3 functionals
    assert len(rows) == 3 * 1 * 7 * 3
    given = rows[~rows["background_fitted"]]
    assert set(given["window_lo"]) == {0.3} and set(given["background_level"]) == {0.0}
    assert np.all(given["background_est"] == 0) and np.all(given["background_sigma"] == 0)
    cut = rows[(rows["window_lo"] == 0.5) & rows["background_fitted"]]
    # refitted on a window inside the model's (its edges in units of the cut curve's own q1 there)
    assert np.all(cut["refit_lo"] > 0.3) and np.all(cut["refit_hi"] < 5.0)
    full = rows[(rows["window_lo"] == 0.3) & rows["background_fitted"]]
    assert np.all(full["refit_lo"] == 0.3) and np.all(full["refit_hi"] == 5.0)  # the base model
    tail = rows[rows["window_hi"] == 8.0]
    # the curves reach far beyond 3 q1: the background comes from the tail fit I = A q^-p + B, here with the
    # exact power law x^-m of the family (m in [3, 4.5]) plus 1 % noise: within 4 of its own sigmas
    assert np.all(tail["background_method"] == "tail")
    assert np.all(np.abs(tail["background_est"] - tail["background"]) < 4 * tail["background_sigma"])
    # its level scales I at the model's upper edge 5 q1 (the full window's last point), not at 8 q1
    edge = rows[(rows["window_hi"] == 5.0)].groupby("row")["i_top"].first()
    np.testing.assert_array_equal(tail["i_top"].to_numpy(), edge.loc[tail["row"]].to_numpy())
    tab = windows_table(rows)
    assert len(tab) == 7 * 3 and set(tab["window"]) == {"[0.3, 5]", "[0.5, 2]", "[0.3, 8]"}
    assert tab.loc[tab["window"] == "[0.3, 8]", "b_tail"].eq(1).all()
    text = "\n".join(windows_markdown(tab))
    assert "| [0.3, 8] | 0.5 | area_density |" in text and "tail fit |" in text
    assert tab["refused"].between(0, 1).all()
    assert tab.loc[tab["refused"] == 0, "r2"].notna().all()  # every curve answered: scored
    with pytest.raises(ParameterError, match="no predictions"):
        windows_table(rows.iloc[:0])
