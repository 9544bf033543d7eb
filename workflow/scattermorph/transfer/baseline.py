"""The same-simulator reference: the shipped model's recipe scored on held-out runs.

The shipped model is fitted on every run of the study, so it has no held-out
runs of its own. :func:`same_simulator_predictions` refits its recipe (feature
grid, kernel, restarts, seed) on the study's training runs only and predicts
the held-out runs with :func:`~scattermorph.transfer.score.predict_structures`,
so the cross-simulator scores stand next to same-simulator ones made by the
same code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph.errors import ParameterError
from scattermorph.predict.fit import fit_models
from scattermorph.predict.model import FunctionalModel
from scattermorph.transfer.score import predict_structures

__all__ = ["SAME_SIMULATOR", "refit_recipe", "same_simulator_predictions"]

#: the set name of the same-simulator held-out rows
SAME_SIMULATOR = "same_simulator"


def refit_recipe(model: FunctionalModel, q, s_q, table: pd.DataFrame, groups=None) -> FunctionalModel:
    """A model with ``model``'s recipe fitted on other curves.

    Parameters
    ----------
    model : FunctionalModel
        The scale-free model whose features, kernel, restarts and seed are reused.
    q : (B,) ndarray
    s_q : (rows, B) ndarray
    table : DataFrame
        The densities (columns ``model.targets``), in q's length unit.
    groups : (rows,) array_like, optional
        Run of every row (the domain thresholds are cross-validated by run).

    Returns
    -------
    FunctionalModel
    """
    t = model.training
    f = model.features
    return fit_models(q, s_q, table, model.ndim, list(model.targets), kernel=t["kernel"], ard=bool(t["ard"]),
                      restarts=int(t["restarts"]), random_state=int(t["random_state"]), feature_kind=f["kind"],
                      n_points=int(f["n_points"]), x_range=tuple(f["x_range"]), groups=groups,
                      q_unit=f["q_unit"], noise=bool(t.get("noise", True)), scaling=t.get("scaling", "global"))


def same_simulator_predictions(model: FunctionalModel, q, s_q, table: pd.DataFrame, split: pd.DataFrame):
    """Held-out predictions of ``model``'s recipe refitted on the training runs.

    Parameters
    ----------
    model : FunctionalModel
        The shipped (scale-free) model.
    q, s_q, table
        The study's dataset (:func:`scattermorph.measure.snapshots.load_dataset`):
        q grid, curves and one row per snapshot with ``sim_id``, ``snapshot``
        and the densities.
    split : DataFrame
        The learning stage's split: ``sim_id`` and ``subset`` (``train`` or ``test``).

    Returns
    -------
    predictions : DataFrame
        :func:`~scattermorph.transfer.score.predict_structures` rows of the
        held-out runs, ``set`` = :data:`SAME_SIMULATOR`, with ``sim_id``,
        ``model``, ``phi0``, ``quench`` and ``time_over_tau``.
    refit : FunctionalModel
        The model fitted on the training runs.

    Raises
    ------
    ParameterError
        A split without both subsets, or with runs missing from the dataset.
    """
    subset = table["sim_id"].map(dict(zip(split["sim_id"], split["subset"], strict=True)))
    if subset.isna().any() or not {"train", "test"} <= set(subset):
        raise ParameterError("the split must give every dataset run a subset, 'train' and 'test' both present: "
                             "use the learning stage's split.csv of the same study")
    train = (subset == "train").to_numpy()
    s_q = np.asarray(s_q, dtype=float)
    refit = refit_recipe(model, q, s_q[train], table[train].reset_index(drop=True),
                         groups=table["sim_id"][train].to_numpy())
    test = table[~train].reset_index(drop=True).assign(
        set=SAME_SIMULATOR, structure=lambda d: d["sim_id"] + "_s" + d["snapshot"].astype(str))
    keep = [c for c in ("sim_id", "model", "phi0", "quench", "time_over_tau") if c in test.columns]
    return predict_structures(refit, q, s_q[~train], test, keep=keep), refit
