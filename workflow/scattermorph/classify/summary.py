"""Summary page of the partial-view classification: labels, and the bias and variance of the best model per view and visible fraction."""

from __future__ import annotations

import pandas as pd

from scattermorph._markdown import _need, _section, _source, fmt, md_table
from scattermorph.classify.labels import LABEL_CRITERIA, MIN_CLASS_SHARE, class_balance
from scattermorph.errors import InputFileError


def classification_summary(*, biasvar: pd.DataFrame, labels: dict, sources: dict,
                           label: str = "percolation") -> str:
    """Partial-view classification in numbers.

    Parameters
    ----------
    biasvar : DataFrame
        ``biasvar.csv``: one row per (``kind``, ``features``, ``model``,
        ``fraction``) with the Domingos (2000) terms ``loss``, ``bias``,
        ``net_variance`` (= variance_unbiased - variance_biased, so loss =
        bias + net_variance with zero noise) and the class-conditional
        errors ``error_0``/``error_1`` (droplets / co-continuous) with their
        Wilson intervals ``error_c_lo``, ``error_c_hi`` and ``fisher_p``.
    labels : dict name -> DataFrame
        Label tables (``labels_study.csv``, ``labels_sections.csv``) with
        ``label_percolation``, ``labels_agree`` and (when written)
        ``label_euler``.
    sources : dict
        ``{"biasvar": path, <name of each label table>: path}``.
    label : {"percolation", "euler"}
        The label the classifiers were trained on (``classification.label``).

    Returns
    -------
    str
        Markdown: the class balance of both labels per label table, which
        label was used and why (with its reference), and a warning line for
        every table whose minority class under the used label is below
        :data:`scattermorph.classify.labels.MIN_CLASS_SHARE`; for every view kind,
        feature set and visible fraction the model of lowest loss with its
        bias and net variance; the class-conditional errors of the same
        models.
    """
    if label not in LABEL_CRITERIA:
        raise InputFileError(f"label={label!r}: choose one of {sorted(LABEL_CRITERIA)}")
    cols = ["kind", "features", "model", "fraction", "loss", "bias", "net_variance", "error_0", "error_0_lo",
            "error_0_hi", "error_1", "error_1_lo", "error_1_hi", "fisher_p"]
    _need(biasvar, cols, sources["biasvar"])
    lines = ["# Partial-view classification: summary"]
    lines += _labels_section(labels, sources, label)
    bv = biasvar.sort_values(["kind", "features", "fraction", "loss", "model"], kind="mergesort")
    best = bv.groupby(["kind", "features", "fraction"], sort=True).head(1)
    lines += _biasvar_section(best, sources["biasvar"])
    lines += _class_errors_section(best, sources["biasvar"])
    return "\n".join(lines) + "\n"


def _labels_section(labels: dict, sources: dict, label: str) -> list[str]:
    """Class balance of both labels per label table, the label used, and a
    warning paragraph for every table whose minority class is too small."""
    lrows, warn = [], []
    for name in sorted(labels):
        t = labels[name]
        _need(t, ["label_percolation", "labels_agree", f"label_{label}"], sources[name])
        agree = t["labels_agree"].astype(str).eq("True")
        n_eul = int((t["label_euler"] == 1).sum()) if "label_euler" in t else None
        share = class_balance(t, label)
        lrows.append((name, len(t), int((t["label_percolation"] == 1).sum()),
                      "n/a" if n_eul is None else n_eul, fmt(agree.mean(), ".3f"), fmt(share, ".2f")))
        if not share >= MIN_CLASS_SHARE:
            warn.append(_imbalance_warning(name, t, share, label))
    if not lrows:
        return []
    note = f"Label used: **{label}**: {LABEL_CRITERIA[label]}"
    lines = _section("Labels", md_table(["images", "structures", "co-continuous (percolating)",
                                         "co-continuous (Euler <= 0)",
                                         "agreement with the Euler-sign label",
                                         f"minority class share ({label})"], lrows),
                     _source(*(sources[n] for n in sorted(labels))), note=note)
    for w in warn:  # one paragraph each
        lines += ["", w]
    return lines


def _imbalance_warning(name: str, t: pd.DataFrame, share: float, label: str) -> str:
    """The warning of a label table whose minority class under ``label`` is
    below :data:`MIN_CLASS_SHARE`, with the fix."""
    other = "euler" if label == "percolation" else "percolation"
    alt = class_balance(t, other) if f"label_{other}" in t else float("nan")
    fix = (f"the {other} label gives {fmt(alt, '.2f')}: set classification.label: {other}"
           if alt >= MIN_CLASS_SHARE else
           "neither label is balanced: add structures of the missing class (lower or higher "
           "phi0, other times or quench depths)")
    return (f"**Warning**: {name}: the minority class under the {label} label is "
            f"{fmt(share, '.2f')} of the structures, below {MIN_CLASS_SHARE:.2f}; {fix}.")


def _biasvar_section(best: pd.DataFrame, source: str) -> list[str]:
    """Loss, bias and net variance of the best model per view, features and fraction."""
    rows = []
    for r in best.itertuples():
        share = r.bias / r.loss if r.loss > 0 else float("nan")
        rows.append((r.kind, r.features, fmt(r.fraction, ".3g"), r.model, fmt(r.loss, ".3f"), fmt(r.bias, ".3f"),
                     fmt(r.net_variance, ".3f"), fmt(share, ".2f")))
    return _section(
        "Bias and variance of the best model per view and visible fraction",
        md_table(["view", "features", "visible fraction", "best model", "0-1 loss", "bias", "net variance",
                  "bias share"], rows),
        _source(source),
        note="Domingos (2000) decomposition with zero noise: loss = bias + net variance; "
             "best = lowest loss among the models.")


def _class_errors_section(best: pd.DataFrame, source: str) -> list[str]:
    """Class-conditional errors (Wilson intervals, Fisher's p) of the same models."""
    crows = [(r.kind, r.features, fmt(r.fraction, ".3g"), r.model,
              f"{r.error_0:.3f} ({r.error_0_lo:.3f}-{r.error_0_hi:.3f})",
              f"{r.error_1:.3f} ({r.error_1_lo:.3f}-{r.error_1_hi:.3f})", fmt(r.fisher_p, ".2g"))
             for r in best.itertuples()]
    return _section(
        "Class-conditional errors of the same models",
        md_table(["view", "features", "visible fraction", "model", "error on droplets (95 % CI)",
                  "error on co-continuous (95 % CI)", "Fisher p"], crows),
        _source(source), note="Wilson intervals; Fisher's exact test of equal error rates.")
