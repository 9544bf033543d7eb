"""The union-trained model scored leave-one-set-out: stacking, groups, what each model saw."""

import copy

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import ParameterError
from scattermorph.learn.features import density_power, window_curve
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.transfer.baseline import SAME_SIMULATOR, refit_recipe
from scattermorph.transfer.union import row_groups, stack_curves, union_leave_one_out, union_scores


def _curve(q, q0):
    """A curve peaked near q0 with a q^-6 tail, positive everywhere."""
    x = q / q0
    return x**2 / (1 + (x**2 - 1) ** 2) / (1 + x**4)


def test_stack_curves_keeps_each_curve_on_its_own_points():
    qa = np.geomspace(0.01, 1.0, 60)
    qb = np.geomspace(0.05, 5.0, 45)  # another unit: overlaps qa in value only
    sa = np.stack([_curve(qa, 0.1), _curve(qa, 0.15)])
    sb = _curve(qb, 1.2)[None]
    ta, tb = pd.DataFrame({"set": ["a", "a"]}), pd.DataFrame({"set": ["b"]})
    table, q, s_q = stack_curves([(ta, qa, sa), (tb, qb, sb)])
    assert np.all(np.diff(q) > 0) and q.size == np.unique(np.concatenate([qa, qb])).size
    assert list(table["set"]) == ["a", "a", "b"]
    # each curve holds its own values at its own q and nothing elsewhere
    np.testing.assert_array_equal(s_q[0, np.isin(q, qa)], sa[0])
    np.testing.assert_array_equal(s_q[2, np.isin(q, qb)], sb[0])
    assert np.isnan(s_q[0, ~np.isin(q, qa)]).all() and np.isnan(s_q[2, ~np.isin(q, qb)]).all()
    # so the window and q1 the features are built on are those of the curve's own grid, bit for bit
    for row, (qq, ss) in zip((0, 2), ((qa, sa[0]), (qb, sb[0])), strict=True):
        own, stacked = window_curve(qq, ss, 3, (0.3, 3.0)), window_curve(q, s_q[row], 3, (0.3, 3.0))
        assert own[2] == stacked[2]
        np.testing.assert_array_equal(own[0], stacked[0])


def test_stack_curves_rejects_a_table_of_another_length():
    q = np.geomspace(0.01, 1, 20)
    with pytest.raises(ParameterError, match="one curve per row"):
        stack_curves([(pd.DataFrame({"set": ["a"] * 3}), q, np.ones((2, 20)))])
    with pytest.raises(ParameterError, match="no curves"):
        stack_curves([])


def test_row_groups_take_the_run_then_the_realisation_then_the_structure():
    table = pd.DataFrame({"set": ["s", "s", "g", "b"], "sim_id": ["r1", "r1", np.nan, np.nan],
                          "realisation": [np.nan, np.nan, 2, np.nan], "structure": ["x", "y", "z", "w"]})
    assert list(row_groups(table)) == ["s:r1", "s:r1", "g:2.0", "b:w"]
    with pytest.raises(ParameterError, match="label every row"):
        row_groups(pd.DataFrame({"set": ["s"]}))


@pytest.fixture(scope="module")
def small_union():
    """Four runs of the shipped model's training curves as a study, and two test sets of one
    other run each: set ``a`` in a length unit 2.5 times the study's (q / 2.5, densities
    times 2.5^p; the scale-free model must not care), set ``b`` as the study's. The recipe
    is the shipped one for the volume density alone (one GP per fit keeps the tests short)."""
    shipped = copy.copy(load_shipped_model()[0])
    shipped.targets = ["volume_density"]
    c = shipped.curves
    g = c["groups"]

    def part(runs, scale, name):
        keep = np.isin(g, runs)
        values = c["values"][keep][:, :1] * np.array([scale ** density_power(t, shipped.ndim) for t in shipped.targets])
        table = pd.DataFrame(values, columns=shipped.targets)
        table["sim_id"] = [f"run{int(v)}" for v in g[keep]]
        table["snapshot"] = table.groupby("sim_id").cumcount()
        table["structure"] = table["sim_id"] + "_s" + table["snapshot"].astype(str)
        return table.assign(set=name), c["q"] / scale, c["s_q"][keep]

    study = part([0, 12, 24, 36], 1.0, "study")
    sets = [part([6], 2.5, "a"), part([30], 1.0, "b")]
    model = refit_recipe(shipped, study[1], study[2], study[0], groups=row_groups(study[0]))
    return model, study, sets


@pytest.mark.slow
def test_without_other_sets_the_union_model_is_the_study_model(small_union):
    model, study, sets = small_union
    pred = union_leave_one_out(model, study, sets, train_on=[])
    st, un = (pred[pred["training"] == t].reset_index(drop=True) for t in ("study", "union"))
    # the same recipe on the same curves is the same deterministic fit
    np.testing.assert_allclose(un["mean"], st["mean"], rtol=1e-9)
    np.testing.assert_allclose(un["std"], st["std"], rtol=1e-9)
    assert (un["n_train"] == len(study[0])).all()


@pytest.mark.slow
def test_a_held_out_set_never_trains_the_model_that_scores_it(small_union):
    model, study, sets = small_union
    runs = sorted(set(study[0]["sim_id"]))
    split = pd.DataFrame({"sim_id": runs, "subset": ["train", "test"] * (len(runs) // 2)})
    pred = union_leave_one_out(model, study, sets, split=split)
    n = {name: len(t) for t, _, _ in sets for name in [t["set"].iloc[0]]}
    n_study_train = int(study[0]["sim_id"].isin(split.loc[split["subset"] == "train", "sim_id"]).sum())
    union = pred[pred["training"] == "union"].groupby("set")["n_train"].first()
    assert union["a"] == len(study[0]) + n["b"] and union["b"] == len(study[0]) + n["a"]
    assert union[SAME_SIMULATOR] == n_study_train + n["a"] + n["b"]
    # the study-only model of the same-simulator rows saw the training runs alone
    same = pred[(pred["set"] == SAME_SIMULATOR) & (pred["training"] == "study")]
    assert (same["n_train"] == n_study_train).all()
    scores = union_scores(pred)
    assert set(scores["set"]) == {"a", "b", SAME_SIMULATOR}
    assert (scores["n_study"] == scores["n_union"]).all()


def test_train_on_must_name_given_sets(small_union):
    model, study, sets = small_union
    with pytest.raises(ParameterError, match="not given"):
        union_leave_one_out(model, study, sets, train_on=["nope"])


def test_union_scores_put_each_training_in_its_own_columns():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    rows = []
    for training, mean in (("study", truth * 1.1), ("union", truth)):  # study 10 % high, union exact
        rows.append(pd.DataFrame({"set": ["z"] * 4, "structure": list("abcd"), "functional": "volume_density",
                                  "truth": truth, "mean": mean, "std": 0.05 * truth, "refused": False,
                                  "in_domain": True, "training": training}))
    scores = union_scores(pd.concat(rows, ignore_index=True))
    row = scores.iloc[0]
    assert row["median_rel_error_study"] == pytest.approx(0.1) and row["median_rel_error_union"] == 0.0
    assert row["r2_union"] == 1.0 and row["r2_study"] < 1.0
    # the study rows miss by 0.1 truth = 2 std: outside the 68 % (0.99 std) and the 95 % (1.96 std) intervals
    assert row["coverage_68_study"] == 0.0 and row["coverage_95_study"] == 0.0
    assert row["coverage_68_union"] == 1.0 and row["n_study"] == row["n_union"] == 4
