"""The transfer stage's files and its stated domain."""

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import InputFileError
from scattermorph.transfer.stage import load_set, save_set, stated_domain


def test_set_file_round_trip(tmp_path):
    table = pd.DataFrame({"set": ["a", "a"], "structure": ["x", "y"], "volume_density": [0.3, 1 / 3],
                          "quench": [np.nan, 1.5]})
    s_q = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, 5.0]])
    save_set(tmp_path / "a.npz", table, [0.1, 0.2, 0.3], s_q)
    t, q, s = load_set(tmp_path / "a.npz")
    pd.testing.assert_frame_equal(t, table)
    assert np.array_equal(s, s_q, equal_nan=True) and q.tolist() == [0.1, 0.2, 0.3]


def test_bad_set_file_is_refused(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="make_transfer_set"):
        load_set(tmp_path / "bad.npz")


def test_stated_domain():
    rows = pd.DataFrame({"model": ["flory_huggins"] * 4 + ["landau", None],
                         "phi0": [0.3, 0.3, 0.3, 0.55, 0.3, np.nan], "quench": [1.5, 2.0, 1.15, 1.5, np.nan, np.nan],
                         "time_over_tau": [30.000000000000004, 10, 2, 10, 10, np.nan]})
    got = stated_domain(rows, {"phi0": [0.2, 0.5], "quench": [1.15, 1.5]}, (5.0, 60.0))
    assert got.tolist() == [True, False, False, False, False, False]
    assert not stated_domain(rows[["phi0"]], {"phi0": [0.2, 0.5], "quench": [1.15, 1.5]}, (5, 60)).any()
