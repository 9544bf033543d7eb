"""The same-simulator reference: the shipped recipe refitted on training runs only."""

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import ParameterError
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.transfer.baseline import SAME_SIMULATOR, same_simulator_predictions


@pytest.fixture(scope="module")
def small_study():
    """Eight runs of the shipped model's own training curves (96 snapshots), as a dataset."""
    model = load_shipped_model()[0]
    c = model.curves
    keep = np.isin(c["groups"], np.arange(0, 48, 6))
    table = pd.DataFrame(c["values"][keep], columns=model.targets)
    table["sim_id"] = [f"run{int(g)}" for g in c["groups"][keep]]
    table["snapshot"] = table.groupby("sim_id").cumcount()
    return model, c["q"], c["s_q"][keep], table


@pytest.mark.slow
def test_held_out_runs_only(small_study):
    model, q, s_q, table = small_study
    runs = sorted(set(table["sim_id"]))
    split = pd.DataFrame({"sim_id": runs, "subset": ["train", "test"] * (len(runs) // 2)})
    pred, refit = same_simulator_predictions(model, q, s_q, table, split)
    test_runs = set(split.loc[split["subset"] == "test", "sim_id"])
    # predictions of the held-out runs only, by a model fitted on the training runs only
    assert set(pred["sim_id"]) == test_runs and (pred["set"] == SAME_SIMULATOR).all()
    assert refit.X.shape[0] == int((~table["sim_id"].isin(test_runs)).sum())
    assert refit.training["kernel"] == model.training["kernel"]
    assert len(pred) == len(model.targets) * int(table["sim_id"].isin(test_runs).sum())


def test_split_must_cover_the_runs(small_study):
    model, q, s_q, table = small_study
    with pytest.raises(ParameterError, match="split"):
        same_simulator_predictions(model, q, s_q, table, pd.DataFrame({"sim_id": ["run0"], "subset": ["train"]}))
