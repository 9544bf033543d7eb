"""Scores of a trained model on test sets: predictions, R^2, errors, coverage.

:func:`predict_structures` applies a :class:`~scattermorph.predict.model.FunctionalModel`
to every curve of a set as ``scattermorph predict`` does (the scale-free
features of the curve, the same refusal for too little coverage of the model's
q/q1 window, and the standard deviations raised to the prior's where the curve
is out of the model's domain), and returns one row per structure and
functional, in density units and in the model's dimensionless space
(density / q1^p, where q1 is the curve's first-moment wavenumber).
:func:`score_table` condenses them per set and functional.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from scattermorph.errors import ParameterError
from scattermorph.learn.features import from_scale_free, scale_free_targets
from scattermorph.predict.model import FunctionalModel

__all__ = ["Z68", "Z95", "predict_structures", "interval_scores", "score_table"]

#: half-widths, in standard deviations, of the central 68 % and 95 % normal intervals
Z68 = float(norm.ppf(0.84))
Z95 = float(norm.ppf(0.975))


def predict_structures(model: FunctionalModel, q, s_q, table: pd.DataFrame, *, keep=()) -> pd.DataFrame:
    """Predictions of every functional of every structure, next to its truth.

    Parameters
    ----------
    model : FunctionalModel
        A scale-free model (any q unit: the curves' unit is the densities').
    q : (B,) ndarray
        The curves' q grid.
    s_q : (rows, B) ndarray
        The curves (NaN = empty bin).
    table : DataFrame
        ``rows`` rows holding the true densities (columns ``model.targets``,
        in the length unit of ``q``) and ``set``, ``structure``.
    keep : sequence of str
        Further columns of ``table`` to carry into the result.

    Returns
    -------
    DataFrame
        One row per structure and functional: ``set``, ``structure``,
        ``functional``, ``truth``, ``mean``, ``std`` (density units),
        ``y_true``, ``y_mean``, ``y_std`` (model space, dimensionless),
        ``q1``, ``coverage``, ``refused`` (the curve covers too little of the
        model's window: ``predict`` would refuse it), ``in_domain``, and
        ``keep``.

    Raises
    ------
    ParameterError
        A model that is not scale-free, or a table whose length differs from the curves'.
    """
    if model.kind != "scale_free":
        raise ParameterError(f"the transfer scores need a scale_free model, got feature kind {model.kind!r}")
    s_q = np.atleast_2d(np.asarray(s_q, dtype=float))
    if len(table) != s_q.shape[0]:
        raise ParameterError(f"{len(table)} table rows but {s_q.shape[0]} curves: give one curve per structure")
    X, q1, cov, n_in = model.featurise(q, s_q)
    res = model.predict_features(X)
    refused = model.too_narrow(n_in, cov)  # what predict refuses
    std = model.prior_floored_std(res)  # predict's std: at least the prior's out of the domain
    frames = []
    for j, name in enumerate(model.targets):
        truth = table[name].to_numpy(dtype=float)
        frames.append(pd.DataFrame({
            "set": table["set"].to_numpy(), "structure": table["structure"].to_numpy(), "functional": name,
            "truth": truth, "mean": from_scale_free(res["mean"][:, j], q1, name, model.ndim),
            "std": from_scale_free(std[:, j], q1, name, model.ndim),
            "y_true": scale_free_targets(truth, q1, name, model.ndim), "y_mean": res["mean"][:, j],
            "y_std": std[:, j], "q1": q1, "coverage": cov, "refused": refused, "in_domain": res["in_domain"],
            **{k: table[k].to_numpy() for k in keep},
        }))
    return pd.concat(frames, ignore_index=True)


def interval_scores(truth, mean, std) -> dict:
    """R^2, median relative error, 68/95 % coverage and width of normal intervals.

    Parameters
    ----------
    truth, mean, std : (n,) array_like
        True values, predictive means and standard deviations (one unit).

    Returns
    -------
    dict
        ``n``; ``r2`` (1 - SS_res / SS_tot about the truths' mean; NaN for
        fewer than 2 values or no spread); ``median_rel_error``
        (median |mean - truth| / |truth|); ``coverage_68``, ``coverage_95``
        (fractions of truths inside mean +- z std, z the normal quantiles);
        ``median_rel_width_95`` (median half-width z95 std / |truth|);
        ``median_abs_z``.
    """
    t, m, s = (np.asarray(a, dtype=float) for a in (truth, mean, std))
    n = t.size
    if n == 0:
        return {"n": 0, "r2": np.nan, "median_rel_error": np.nan, "coverage_68": np.nan, "coverage_95": np.nan,
                "median_rel_width_95": np.nan, "median_abs_z": np.nan}
    r = m - t
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(r) / np.abs(t)
        z = np.abs(r) / s
        width = Z95 * s / np.abs(t)
    return {"n": int(n), "r2": 1 - float(np.sum(r**2)) / ss_tot if n > 1 and ss_tot > 0 else np.nan,
            "median_rel_error": float(np.median(rel)), "coverage_68": float(np.mean(z <= Z68)),
            "coverage_95": float(np.mean(z <= Z95)), "median_rel_width_95": float(np.median(width)),
            "median_abs_z": float(np.median(z))}


def score_table(predictions: pd.DataFrame, *, std="std", by=("set", "functional"), where="answered") -> pd.DataFrame:
    """:func:`interval_scores` per group of :func:`predict_structures` rows.

    Parameters
    ----------
    predictions : DataFrame
        Rows of :func:`predict_structures` (``truth``, ``mean``, the ``std``
        column, ``refused``, ``in_domain``).
    std : str
        The column of standard deviations to score (e.g. one after a
        discrepancy term).
    by : sequence of str
        Grouping columns.
    where : {"answered", "in_domain", "all"}
        The rows scored: those ``predict`` answers (not refused), those also
        inside the model's domain, or all. Each group also counts its
        ``refused`` and ``out_of_domain`` rows (of all its rows).

    Returns
    -------
    DataFrame
        One row per group: ``by``, ``n_all``, ``refused``, ``out_of_domain``
        and the keys of :func:`interval_scores` over the rows scored.
    """
    masks = {"answered": lambda d: ~d["refused"], "in_domain": lambda d: ~d["refused"] & d["in_domain"],
             "all": lambda d: np.ones(len(d), dtype=bool)}
    if where not in masks:
        raise ParameterError(f"where={where!r}: choose one of {sorted(masks)}")
    rows = []
    for key, group in predictions.groupby(list(by), sort=False):
        sel = group[masks[where](group)]
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "n_all": len(group), "refused": int(group["refused"].sum()),
                     "out_of_domain": int((~group["in_domain"]).sum()),
                     **interval_scores(sel["truth"], sel["mean"], sel[std])})
    return pd.DataFrame(rows)
