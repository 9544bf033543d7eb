"""The transfer stage end to end: set files, the scores, the leave-one-set-out
table and the summary page.

The rules run :func:`scattermorph.transfer.sets.run_set` once per set (one
job per set, :func:`save_set`), then :func:`score_stage` on every set with the
study's scale-free model and its same-simulator held-out rows
(:func:`scattermorph.transfer.baseline.same_simulator_predictions`), and
:func:`summary_markdown` on the tables it wrote.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from scattermorph._io import atomic_write
from scattermorph._markdown import md_table
from scattermorph.errors import InputFileError
from scattermorph.predict.model import FunctionalModel
from scattermorph.transfer.baseline import SAME_SIMULATOR
from scattermorph.transfer.discrepancy import DISCREPANCY_KINDS, RULES, fit_discrepancy, leave_one_set_out
from scattermorph.transfer.score import predict_structures, score_table

__all__ = ["KEEP_COLUMNS", "stated_domain", "save_set", "load_set", "score_stage", "summary_markdown"]

#: columns of the set tables carried into the predictions
KEEP_COLUMNS = ("kind", "model", "time_over_tau", "phi0", "quench", "L_over_box")


def stated_domain(predictions: pd.DataFrame, domain: dict, time_range) -> np.ndarray:
    """Whether each row lies inside the model's stated domain, in physical terms.

    A run of the training free energy (``model`` ``flory_huggins``) whose
    composition and quench lie in the ranges the model states
    (``FunctionalModel.training["study_domain"]``: ``phi0``, ``quench``) and
    whose snapshot time lies in the study's snapshot range (tau); anything
    else (another free energy, no simulation at all) is outside.

    Parameters
    ----------
    predictions : DataFrame
        Rows with ``model``, ``phi0``, ``quench``, ``time_over_tau`` (missing columns: outside).
    domain : dict
        ``phi0`` and ``quench`` as ``[lo, hi]``.
    time_range : (float, float)
        Snapshot times (tau) of the study.

    Returns
    -------
    (rows,) ndarray of bool
    """
    def between(col, lo, hi):
        if col not in predictions:
            return np.zeros(len(predictions), dtype=bool)
        v = pd.to_numeric(predictions[col], errors="coerce").to_numpy(dtype=float)
        # a float-rounding margin: 30.000000000000004 tau is the study's 30 tau
        tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
        return (v >= lo - tol) & (v <= hi + tol)

    fh = predictions["model"].eq("flory_huggins").to_numpy() if "model" in predictions else False
    return (fh & between("phi0", *domain["phi0"]) & between("quench", *domain["quench"])
            & between("time_over_tau", *time_range))


def save_set(path, table: pd.DataFrame, q, s_q) -> None:
    """Write one set's table and curves (``.npz``: ``q``, ``s_q`` and the table as JSON), atomically."""
    text = table.to_json(orient="split", index=False, double_precision=15)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, q=np.asarray(q, dtype=float), s_q=np.asarray(s_q, dtype=float),
                                table=np.array(text))

    atomic_write(path, write)


def load_set(path):
    """Inverse of :func:`save_set`: ``(table, q, s_q)``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            table = pd.read_json(io.StringIO(str(z["table"])), orient="split")
            q, s_q = z["q"], z["s_q"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputFileError(f"{path}: not a transfer set file ({exc}); rerun the make_transfer_set rule") from None
    if len(table) != s_q.shape[0]:
        raise InputFileError(f"{path}: {len(table)} rows but {s_q.shape[0]} curves; rerun make_transfer_set")
    return table, q, s_q


def score_stage(model: FunctionalModel, sets, same=None, *, time_range, target=0.9) -> dict:
    """Predictions, scores and leave-one-set-out discrepancy tables of every set.

    Parameters
    ----------
    model : FunctionalModel
        The study's scale-free model (the shipped one for the default study).
    sets : iterable of (table, q, s_q)
        The sets (:func:`load_set`).
    same : DataFrame, optional
        Same-simulator held-out predictions (:func:`~scattermorph.transfer.baseline.same_simulator_predictions`):
        scored beside the sets and taking part in the leave-one-set-out as one set.
    time_range : (float, float)
        The study's snapshot times (tau): with the model's compositions and
        quenches, its stated domain (:func:`stated_domain`).
    target : float
        Coverage of the 95 % intervals the discrepancy term must reach.

    Returns
    -------
    dict of DataFrame
        ``predictions`` (every row, :func:`~scattermorph.transfer.score.predict_structures`),
        ``scores`` (rows ``predict`` answers) and ``scores_in_domain`` per set
        and functional (:func:`~scattermorph.transfer.score.score_table`),
        ``loo`` (:func:`~scattermorph.transfer.discrepancy.leave_one_set_out`
        on the answered rows inside the model's domain, every kind and rule:
        each set scored with the term fitted on the other sets' rows inside the
        stated domain), and ``discrepancy`` (the parameters fitted on every
        cross-simulator set's rows inside both domains: ``kind``, ``rule``,
        ``functional``, ``parameter``).
    """
    frames = []
    for table, q, s_q in sets:
        keep = [c for c in KEEP_COLUMNS if c in table.columns]
        frames.append(predict_structures(model, q, s_q, table, keep=keep))
    if same is not None:
        frames.append(same.assign(kind="same_simulator"))
    pred = pd.concat(frames, ignore_index=True)
    pred["stated_domain"] = stated_domain(pred, model.training["study_domain"], time_range)
    inside = pred[~pred["refused"] & pred["in_domain"]]
    loo = pd.concat([leave_one_set_out(inside, kind=k, target=target, ndim=model.ndim, rule=r,
                                       fit_rows=inside["stated_domain"].to_numpy())
                     for k in DISCREPANCY_KINDS for r in RULES], ignore_index=True)
    cross = inside[(inside["set"] != SAME_SIMULATOR) & inside["stated_domain"]]
    # no cross-simulator set inside the stated domain: no term (empty table, said in the summary)
    disc = pd.DataFrame([{"kind": k, "rule": r, "functional": f, "parameter": v}
                         for k in DISCREPANCY_KINDS for r in RULES
                         for f, v in fit_discrepancy(cross, kind=k, target=target, rule=r).items()],
                        columns=["kind", "rule", "functional", "parameter"])
    return {"predictions": pred, "scores": score_table(pred, where="answered"),
            "scores_in_domain": score_table(pred, where="in_domain"), "loo": loo, "discrepancy": disc}


def _scores_section(scores: pd.DataFrame) -> list[str]:
    rows = [[r.set, r.functional, r.n_all, r.refused, r.out_of_domain, r.n, r.r2, r.median_rel_error,
             r.coverage_68, r.coverage_95, r.median_rel_width_95] for r in scores.itertuples()]
    return md_table(["set", "functional", "curves", "refused", "out of domain", "n scored", "R^2",
                     "median rel. error", "68 % coverage", "95 % coverage", "95 % half-width / |truth|"], rows)


def _loo_section(loo: pd.DataFrame, kind: str, rule: str) -> list[str]:
    sel = loo[(loo["kind"] == kind) & (loo["rule"] == rule)]
    rows = [[r.set, r.functional, r.n, r.parameter, r.own_parameter, r.coverage_68_before, r.coverage_68_after,
             r.coverage_95_before, r.coverage_95_after, r.width_95_before, r.width_95_after, r.width_ratio]
            for r in sel.itertuples()]
    return md_table(["held-out set", "functional", "n", "parameter (other sets)", "own need", "cov 68 before", "cov 68 after",
                     "cov 95 before", "cov 95 after", "half-width before", "half-width after", "width ratio"], rows)


def summary_markdown(scores: pd.DataFrame, scores_in_domain: pd.DataFrame, loo: pd.DataFrame,
                     discrepancy: pd.DataFrame, *, sources: dict, target: float = 0.9) -> str:
    """The stage's summary page (Markdown).

    Parameters
    ----------
    scores, scores_in_domain, loo, discrepancy : DataFrame
        The tables of :func:`score_stage` (as written to CSV).
    sources : dict of str -> str
        File each table was read from, by the keys above.
    target : float
        The discrepancy's coverage target.

    Returns
    -------
    str
    """
    lines = ["# Cross-simulator transfer: summary", "",
             "The study's scale-free model applied to structures it never trained on (docs/transfer.md): each "
             "set changes one thing of the training simulator, or leaves simulations altogether. "
             f"`{SAME_SIMULATOR}` is the model's recipe refitted on the training runs and scored on the "
             "held-out runs of the study's own simulator; `control` the study's simulator on the sets' box "
             "and seeds. Densities in cell units; scores over the curves `scattermorph predict` answers "
             "(not refused), out-of-domain curves (flagged by predict) included, with the std raised to "
             "the prior's as predict does.", ""]
    lines += ["## Scores per set (answered curves)", ""] + _scores_section(scores) + ["", f"From `{sources['scores']}`."]
    lines += ["", "## Scores per set (inside the model's domain only)", ""] + _scores_section(scores_in_domain)
    lines += ["", f"From `{sources['scores_in_domain']}`."]
    for kind in DISCREPANCY_KINDS:
        for rule in RULES:
            what = ("each of the other sets" if rule == "every" else "the other sets on average (each set weighing the same)")
            form = "sigma' = s sigma" if kind == "scale" else "sigma'^2 = sigma^2 + delta^2 (dimensionless densities)"
            lines += ["", f"## Leave-one-set-out discrepancy: {kind}, {rule}", "",
                      f"{form}; the parameter of each held-out set is the smallest that gives {what} a 95 % "
                      f"coverage of at least {target:g} (inside the domain); the held-out set is then scored "
                      "with it.", ""] + _loo_section(loo, kind, rule)
    lines += ["", f"From `{sources['loo']}`.", "", "## Discrepancy fitted on every cross-simulator set", ""]
    if discrepancy.empty:
        lines += ["No cross-simulator set has curves inside the model's stated domain: no term is fitted "
                  "(a held-out set with no other set to fit on shows NaN above, its intervals unchanged)."]
    else:
        lines += md_table(["kind", "rule", "functional", "parameter"],
                          [[r.kind, r.rule, r.functional, r.parameter] for r in discrepancy.itertuples()])
    lines += ["", f"From `{sources['discrepancy']}`."]
    return "\n".join(lines) + "\n"

