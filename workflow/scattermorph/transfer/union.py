"""A model trained on the union of simulators, scored leave-one-set-out.

Does a model that saw the other simulators, quench depths and stages of
coarsening predict a simulator it never saw better than the study-only model?
:func:`union_leave_one_out` answers it set by set: for every test set the
study model's recipe (:func:`~scattermorph.transfer.baseline.refit_recipe`:
features, kernel, restarts, seed) is refitted on the study's curves plus every
*other* set, and scored on the held-out set beside the study-only model
(:func:`~scattermorph.transfer.score.predict_structures`, as ``predict``
scores it). For the study's own simulator the same is done on its held-out
runs: training runs alone (the same-simulator reference) against training runs
plus every set.

The model is scale-free: it reads the curve's shape on q/q1 and predicts the
densities made dimensionless with the curve's own q1 (density / q1^p), so
curves in different length units (the study's 1/b, the sets' 1/cell) train
together as long as each row's q and densities share one unit.
:func:`stack_curves` puts them on the union of their q grids, each curve
holding its own points and NaN (an empty bin, skipped by the features)
elsewhere: every curve's features are exactly those on its own grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph.errors import ParameterError
from scattermorph.predict.model import FunctionalModel
from scattermorph.transfer.baseline import SAME_SIMULATOR, refit_recipe
from scattermorph.transfer.score import predict_structures, score_table

__all__ = ["TRAININGS", "stack_curves", "row_groups", "union_leave_one_out", "union_scores"]

#: the two trainings compared: the study's simulator only, and the study plus the other sets
TRAININGS = ("study", "union")


def stack_curves(sources):
    """Curves of several q grids on the union grid.

    Parameters
    ----------
    sources : sequence of (table, q, s_q)
        ``q`` (B_k,) increasing, ``s_q`` (rows_k, B_k), ``table`` rows_k rows.

    Returns
    -------
    table : DataFrame
        The tables, concatenated (index reset).
    q : (B,) ndarray
        The sorted union of the grids (B <= sum of B_k).
    s_q : (rows, B) ndarray
        Each curve at its own q points, NaN at the others.

    Raises
    ------
    ParameterError
        No sources, or a table whose length differs from its curves'.
    """
    if not sources:
        raise ParameterError("no curves to stack: give at least one (table, q, s_q)")
    grids = [np.asarray(q, dtype=float) for _, q, _ in sources]
    q_all = np.unique(np.concatenate(grids))
    blocks = []
    for (table, _, s_q), q in zip(sources, grids, strict=True):
        s_q = np.atleast_2d(np.asarray(s_q, dtype=float))
        if len(table) != s_q.shape[0] or s_q.shape[1] != q.size:
            raise ParameterError(f"{len(table)} table rows, curves of shape {s_q.shape} on {q.size} q points: "
                                 "give one curve per row on its own q grid")
        block = np.full((s_q.shape[0], q_all.size), np.nan)
        block[:, np.searchsorted(q_all, q)] = s_q
        blocks.append(block)
    table = pd.concat([t for t, _, _ in sources], ignore_index=True)
    return table, q_all, np.vstack(blocks)


def row_groups(table: pd.DataFrame) -> np.ndarray:
    """The independent unit of every row: ``set:run`` (``sim_id``), else ``set:realisation``, else ``set:structure``.

    Snapshots of one run (or cuts of one random field) are not independent:
    the domain thresholds are cross-validated by these groups.
    """
    out = []
    for row in table.to_dict("records"):
        for key in ("sim_id", "realisation", "structure"):
            value = row.get(key)
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                out.append(f"{row.get('set', '')}:{value}")
                break
        else:
            raise ParameterError("a row has no sim_id, realisation or structure: label every row with its run")
    return np.asarray(out)


def _train_test(study, split):
    table, q, s_q = study
    subset = table["sim_id"].map(dict(zip(split["sim_id"], split["subset"], strict=True)))
    if subset.isna().any() or not {"train", "test"} <= set(subset):
        raise ParameterError("the split must give every study run a subset, 'train' and 'test' both present: "
                             "use the learning stage's split.csv of the same study")
    s_q = np.asarray(s_q, dtype=float)
    train, test = (subset == "train").to_numpy(), (subset == "test").to_numpy()
    held = table[test].reset_index(drop=True).assign(
        set=SAME_SIMULATOR, structure=lambda d: d["sim_id"] + "_s" + d["snapshot"].astype(str))
    return (table[train].reset_index(drop=True).assign(set="study"), q, s_q[train]), (held, q, s_q[test])


def union_leave_one_out(model: FunctionalModel, study, sets, *, split=None, train_on=None, keep=(), log=None):
    """Predictions of every held-out set by the study-only and the union-trained model.

    Parameters
    ----------
    model : FunctionalModel
        The study's scale-free model (trained on every study run); its recipe is refitted.
    study : (table, q, s_q)
        The study's dataset (rows with ``sim_id`` and the densities, in q's length unit).
    sets : sequence of (table, q, s_q)
        The test sets (:func:`scattermorph.transfer.stage.load_set`), each table with ``set``.
    split : DataFrame, optional
        ``sim_id``, ``subset`` of the study: its ``test`` runs are then held
        out too (set :data:`~scattermorph.transfer.baseline.SAME_SIMULATOR`),
        scored by the recipe refitted on the ``train`` runs alone and on them
        plus every set.
    train_on : sequence of str, optional
        The sets that may join the training (default every set): the others are scored only.
    keep : sequence of str
        Columns of the tables to carry into the predictions.
    log : callable, optional
        Called with a line per fit.

    Returns
    -------
    DataFrame
        :func:`~scattermorph.transfer.score.predict_structures` rows of every
        held-out set, twice: ``training`` = ``study`` and ``union``, and
        ``n_train`` (curves the model was fitted on).
    """
    names = [str(t["set"].iloc[0]) for t, _, _ in sets]
    train_on = set(names if train_on is None else train_on)
    if unknown := train_on - set(names):
        raise ParameterError(f"train_on names sets {sorted(unknown)} that are not given: choose from {names}")
    study = (study[0].assign(set="study"), study[1], study[2])
    held = list(zip(names, sets, strict=True))
    base = {name: model for name in names}
    train_for = {name: [study] + [s for n, s in held if n != name and n in train_on] for name in names}
    if split is not None:
        study_train, study_test = _train_test(study, split)
        held.append((SAME_SIMULATOR, study_test))
        base[SAME_SIMULATOR] = refit_recipe(model, study_train[1], study_train[2], study_train[0],
                                            groups=row_groups(study_train[0]))
        train_for[SAME_SIMULATOR] = [study_train] + [s for n, s in zip(names, sets, strict=True) if n in train_on]
    frames = []
    for name, (table, q, s_q) in held:
        table_u, q_u, s_u = stack_curves(train_for[name])
        union = refit_recipe(model, q_u, s_u, table_u, groups=row_groups(table_u))
        cols = [c for c in keep if c in table.columns]
        for training, fitted in zip(TRAININGS, (base[name], union), strict=True):
            frames.append(predict_structures(fitted, q, s_q, table, keep=cols).assign(
                training=training, n_train=int(fitted.X.shape[0])))
        if log is not None:
            log(f"{name}: union model on {union.X.shape[0]} curves")
    return pd.concat(frames, ignore_index=True)


def union_scores(predictions: pd.DataFrame, *, where="answered") -> pd.DataFrame:
    """:func:`~scattermorph.transfer.score.score_table` of :func:`union_leave_one_out` per set, functional and training.

    Returns
    -------
    DataFrame
        One row per set and functional: ``set``, ``functional`` and, for each
        training ``t`` of :data:`TRAININGS`, ``<metric>_<t>`` for ``n``,
        ``out_of_domain``, ``r2``, ``median_rel_error``, ``coverage_68``,
        ``coverage_95`` and ``median_rel_width_95``.
    """
    scores = score_table(predictions, by=("set", "functional", "training"), where=where)
    metrics = ["n", "out_of_domain", "r2", "median_rel_error", "coverage_68", "coverage_95", "median_rel_width_95"]
    wide = scores.pivot(index=["set", "functional"], columns="training", values=metrics)
    wide.columns = [f"{m}_{t}" for m, t in wide.columns]
    wide = wide.reset_index()
    # the sets and functionals in the order of the predictions, not alphabetical
    rank = {c: wide[c].map({v: i for i, v in enumerate(dict.fromkeys(predictions[c]))}) for c in ("set", "functional")}
    wide = wide.iloc[np.lexsort((rank["functional"], rank["set"]))]
    return wide[["set", "functional"] + [f"{m}_{t}" for m in metrics for t in TRAININGS]].reset_index(drop=True)
