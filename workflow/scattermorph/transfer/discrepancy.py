"""A model-discrepancy term learned across simulators, scored leave-one-set-out.

A model trained on one simulator is wrong in a way its own predictive standard
deviation does not know (Kennedy & O'Hagan 2001, J. R. Stat. Soc. B 63, 425:
the model-discrepancy term). Two one-parameter forms per functional, both in
the model's dimensionless space ``y = density / q1^p``:

- ``scale``: ``sigma' = s sigma`` with ``s >= 1`` (variance inflation);
- ``additive``: ``sigma'^2 = sigma^2 + delta^2`` with ``delta >= 0`` (a
  constant discrepancy, which covers a systematic error where the GP's own
  standard deviation is small).

The parameter of a set is the smallest one whose 95 % intervals hold at least
``target`` of that set's truths; it is exact: each truth is covered from
``s_i = |r_i| / (z95 sigma_i)`` (or ``delta_i^2 = r_i^2 / z95^2 - sigma_i^2``)
on, and the set's parameter is the ``ceil(target n)``-th smallest of them.
Fitted on several sets, the parameter is the largest of theirs, so that every
one of them reaches the target (``rule="every"``), or the smallest whose
coverage averaged over the sets, each set weighing the same whatever its
size, reaches it (``rule="mean"``: narrower, but a set unlike the others may
stay under the target). :func:`leave_one_set_out` scores each set with
the parameter fitted on the other sets only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scattermorph.errors import ParameterError
from scattermorph.learn.features import from_scale_free
from scattermorph.transfer.score import Z95, interval_scores

__all__ = ["DISCREPANCY_KINDS", "RULES", "required_parameter", "fit_discrepancy", "inflate", "leave_one_set_out"]

#: the forms of the discrepancy term
DISCREPANCY_KINDS = ("scale", "additive")
#: how the sets a term is fitted on must reach the target: each of them, or on average over the sets
RULES = ("every", "mean")
# a truth on the interval's edge is covered: the parameter is raised past the
# round-off of sigma' = s sigma, which could otherwise leave it just outside
_EDGE = 1 + 1e-12


def _check(kind: str, target: float, rule: str = "every") -> None:
    if rule not in RULES:
        raise ParameterError(f"discrepancy rule {rule!r}: choose one of {list(RULES)}")
    if kind not in DISCREPANCY_KINDS:
        raise ParameterError(f"discrepancy kind {kind!r}: choose one of {list(DISCREPANCY_KINDS)}")
    if not 0 < target <= 1:
        raise ParameterError(f"coverage target {target!r} must lie in (0, 1]")


def required_parameter(residual, std, *, kind="scale", target=0.9) -> float:
    """The smallest parameter whose 95 % intervals cover ``target`` of the values.

    Parameters
    ----------
    residual, std : (n,) array_like
        ``mean - truth`` and the predictive standard deviation (model space).
    kind : {"scale", "additive"}
    target : float
        Fraction of the values to cover, in (0, 1].

    Returns
    -------
    float
        ``s >= 1`` (scale) or ``delta >= 0`` (additive, units of the residual);
        1 or 0 for no values.
    """
    _check(kind, target)
    need = _needs(residual, std, kind)
    floor = 1.0 if kind == "scale" else 0.0
    if need.size == 0:
        return floor
    k = math.ceil(target * need.size - 1e-9)  # the k-th smallest covers k of n values
    return float(max(floor, _EDGE * np.sort(need)[k - 1]))


def _needs(residual, std, kind) -> np.ndarray:
    """The parameter from which each value is covered by its 95 % interval."""
    r, s = np.abs(np.asarray(residual, dtype=float)), np.asarray(std, dtype=float)
    if kind == "scale":
        return r / (Z95 * s)
    return np.sqrt(np.maximum((r / Z95) ** 2 - s**2, 0.0))


def _mean_rule(group: pd.DataFrame, kind: str, target: float) -> float:
    """The smallest parameter whose coverage, averaged over the sets of ``group``, reaches ``target``."""
    needs = [np.sort(_needs(g["y_mean"] - g["y_true"], g["y_std"], kind)) for _, g in group.groupby("set", sort=False)]
    floor = 1.0 if kind == "scale" else 0.0
    # the mean coverage steps up only at a value's own parameter: try them in order
    for p in np.unique(np.concatenate([[floor], *needs])):
        if p < floor:
            continue
        mean = np.mean([np.searchsorted(n, _EDGE * p, side="right") / n.size for n in needs])
        if mean >= target - 1e-12:
            return float(_EDGE * p)
    return float(_EDGE * max(n[-1] for n in needs))


def fit_discrepancy(predictions: pd.DataFrame, *, kind="scale", target=0.9, sets=None, rule="every") -> dict:
    """The discrepancy parameter per functional that meets ``target`` on every set given.

    Parameters
    ----------
    predictions : DataFrame
        Rows of :func:`~scattermorph.transfer.score.predict_structures` to fit on
        (``set``, ``functional``, ``y_true``, ``y_mean``, ``y_std``).
    kind, target
        As :func:`required_parameter`.
    sets : sequence of str, optional
        The sets to fit on (default all in ``predictions``).
    rule : {"every", "mean"}
        Every set reaches ``target`` (the largest of the sets' parameters), or
        the sets' coverages averaged (each set weighing the same) do.

    Returns
    -------
    dict of str -> float
        Per functional, the parameter.
    """
    _check(kind, target, rule)
    use = predictions if sets is None else predictions[predictions["set"].isin(list(sets))]
    out = {}
    for name, group in use.groupby("functional", sort=False):
        if rule == "mean":
            out[name] = _mean_rule(group, kind, target)
            continue
        per_set = [required_parameter(g["y_mean"] - g["y_true"], g["y_std"], kind=kind, target=target)
                   for _, g in group.groupby("set", sort=False)]
        out[name] = max(per_set)
    return out


def inflate(predictions: pd.DataFrame, parameters: dict, *, kind="scale", ndim=3) -> np.ndarray:
    """The standard deviations (density units) after the discrepancy term.

    Parameters
    ----------
    predictions : DataFrame
        Rows of :func:`~scattermorph.transfer.score.predict_structures`.
    parameters : dict of str -> float
        Per functional (:func:`fit_discrepancy`).
    kind : {"scale", "additive"}
    ndim : int

    Returns
    -------
    (rows,) ndarray
    """
    _check(kind, 0.9)
    out = np.empty(len(predictions))
    for name, idx in predictions.groupby("functional", sort=False).indices.items():
        p = float(parameters[name])
        y_std = predictions["y_std"].to_numpy(dtype=float)[idx]
        y_new = p * y_std if kind == "scale" else np.hypot(y_std, p)
        out[idx] = from_scale_free(y_new, predictions["q1"].to_numpy(dtype=float)[idx], name, ndim)
    return out


def leave_one_set_out(predictions: pd.DataFrame, *, kind="scale", target=0.9, ndim=3, rule="every",
                      fit_rows=None) -> pd.DataFrame:
    """Each set scored with the discrepancy term fitted on the other sets only.

    Parameters
    ----------
    predictions : DataFrame
        Rows of :func:`~scattermorph.transfer.score.predict_structures`, the
        rows to fit and score (e.g. those inside the model's domain).
    kind, target, ndim, rule
        As :func:`fit_discrepancy` and :func:`inflate`.
    fit_rows : (rows,) array_like of bool, optional
        The rows the term may be fitted on (default all): e.g. those inside
        the model's stated domain, so that sets outside it are scored but
        never shape the term. A set is never fitted on its own rows; where no
        other set has rows to fit on, its ``parameter`` is NaN and its
        intervals are left as they were (``_after`` equals ``_before``).

    Returns
    -------
    DataFrame
        One row per set and functional: ``set``, ``functional``, ``kind``, ``rule``,
        ``parameter`` (fitted without the set), ``own_parameter`` (what the set
        alone would need: for comparison only, never used), ``fitted_on`` (the other sets,
        comma-separated), ``n``, ``r2``, ``median_rel_error``,
        ``coverage_68_before``/``_after``, ``coverage_95_before``/``_after``,
        ``width_95_before``/``_after`` (median half-width over |truth|) and
        ``width_ratio`` (median of std after over std before).
    """
    names = list(dict.fromkeys(predictions["set"]))
    if len(names) < 2:
        raise ParameterError(f"leave-one-set-out needs at least two sets, got {names}")
    usable = predictions if fit_rows is None else predictions[np.asarray(fit_rows, dtype=bool)]
    rows = []
    for held in names:
        others = [s for s in dict.fromkeys(usable["set"]) if s != held]
        mine = predictions[predictions["set"] == held]
        if others:
            params = fit_discrepancy(usable, kind=kind, target=target, sets=others, rule=rule)
            mine = mine.assign(std_after=inflate(mine, params, kind=kind, ndim=ndim))
        else:
            # no other set inside the stated domain: the term is not determined
            # for this set (NaN), and its intervals are reported unchanged
            params = dict.fromkeys(mine["functional"].unique(), np.nan)
            mine = mine.assign(std_after=mine["std"])
        for name, g in mine.groupby("functional", sort=False):
            before = interval_scores(g["truth"], g["mean"], g["std"])
            post = interval_scores(g["truth"], g["mean"], g["std_after"])
            own = required_parameter(g["y_mean"] - g["y_true"], g["y_std"], kind=kind, target=target)
            rows.append({"set": held, "functional": name, "kind": kind, "rule": rule, "parameter": params[name],
                         "own_parameter": own,
                         "fitted_on": ",".join(others), "n": before["n"], "r2": before["r2"],
                         "median_rel_error": before["median_rel_error"],
                         "coverage_68_before": before["coverage_68"], "coverage_68_after": post["coverage_68"],
                         "coverage_95_before": before["coverage_95"], "coverage_95_after": post["coverage_95"],
                         "width_95_before": before["median_rel_width_95"],
                         "width_95_after": post["median_rel_width_95"],
                         "width_ratio": float(np.median(g["std_after"] / g["std"]))})
    return pd.DataFrame(rows)
