"""Summary page of the inference stage: the tables of
:mod:`scattermorph.infer.stage` in numbers (Markdown), one function per
section: the emulator's held-out check, calibration on runs drawn from the
prior, identifiability, and one example posterior.
"""

from __future__ import annotations

import pandas as pd

from scattermorph._markdown import _need, _section, fmt, md_table
from scattermorph.errors import InputFileError
from scattermorph.gp.summary import scattering_emulator_section
from scattermorph.infer import posterior as inf

__all__ = ["inference_summary"]


def _interval(pair, spec=".3g"):
    return f"[{fmt(pair[0], spec)}, {fmt(pair[1], spec)}]"


def inference_summary(*, validation: pd.DataFrame, identifiability: pd.DataFrame, example: dict,
                      sources: dict) -> str:
    """The inference stage in numbers (Markdown).

    Parameters
    ----------
    validation : DataFrame
        ``emulator_validation.csv``.
    identifiability : DataFrame
        ``identifiability.csv`` (:func:`scattermorph.infer.stage.identifiability_table`).
    example : dict
        ``example.json`` (:func:`scattermorph.infer.stage.example_posterior`).
    sources : dict
        ``{"validation", "identifiability", "example"}`` paths as shown.

    Returns
    -------
    str
        Sections: the emulator's held-out check; calibration (coverage of the
        HPD and central intervals with both bands, SBC rank counts with the
        band of one bin); identifiability (width ratios, RMS error, median
        posterior correlations); the example's intervals and implied densities
        against the truth.
    """
    _need(identifiability, ["parameter", "label", "inferred", "n", "n_runs", "level", "coverage_hpd",
                            "coverage_central", "band_lo", "band_hi", "band_runs_lo", "band_runs_hi",
                            "n_eff", "band_eff_lo", "band_eff_hi", "rank_counts", "rank_band", "rank_band_eff",
                            "width_ratio", "sd_ratio", "rms_error", "prior_lo",
                            "prior_hi"] + [f"corr_{p}" for p in inf.PARAMS], sources["identifiability"])
    ident = identifiability.set_index("parameter").reindex(list(inf.PARAMS))
    if ident["label"].isna().any():
        raise InputFileError(f"{sources['identifiability']} lacks a row per parameter {list(inf.PARAMS)}")
    inferred = ident["inferred"].astype(str).eq("True")
    pct = f"{fmt(100 * float(ident.iloc[0]['level']), '.0f')} %"
    lines = ["# Inferring the blend's parameters from a curve: summary"]
    lines += scattering_emulator_section(validation, sources["validation"])
    lines += _calibration_section(ident, inferred, pct, sources["identifiability"])
    lines += _identifiability_section(ident, inferred, pct, sources["identifiability"])
    lines += _example_section(example, pct, sources["example"])
    return "\n".join(lines) + "\n"


def _calibration_section(ident: pd.DataFrame, inferred: pd.Series, pct: str, source: str) -> list[str]:
    """Coverage of the HPD and central intervals with their bands, and the SBC rank counts."""
    first = ident.iloc[0]
    crows = []
    for name, r in ident.iterrows():
        if not inferred[name]:
            crows.append((r["label"], "fixed", "", "", "", "", ""))
            continue
        inside = r["band_eff_lo"] <= r["coverage_hpd"] <= r["band_eff_hi"]
        crows.append((r["label"], fmt(r["coverage_hpd"], ".2f"), fmt(r["coverage_central"], ".2f"),
                      f"{r['band_lo']:.2f}-{r['band_hi']:.2f}",
                      f"{r['band_eff_lo']:.2f}-{r['band_eff_hi']:.2f} (n_eff {fmt(r['n_eff'], '.0f')})",
                      "yes" if inside else "no", f"{r['rank_counts']} (band {r['rank_band_eff']})"))
    note = (f"Posterior of each of the {int(first['n'])} snapshots of the {int(first['n_runs'])} calibration runs, "
            f"whose phi0, chi/chi_s and log t are drawn uniformly over the study's range (the prior), with the "
            f"emulator trained on every run of the study. Coverage: fraction of truths inside the highest-density "
            f"(HPD) or central {pct} interval. Bands: central 95 % binomial range of the coverage for independent "
            f"snapshots, and for Kish's effective sample size n_eff (the snapshots of one run share its deviation "
            f"from the emulator; n_eff from their rank's intra-run correlation): judge by the latter. SBC ranks: "
            f"counts of the truth's posterior quantile per bin (low to high) and the 95 % range of one bin under "
            f"uniformity for n_eff draws (Talts et al. 2018).")
    if (~inferred).any():
        note += (" fixed: the parameter has one value in the study, so it is not inferred.")
    return _section("Calibration on runs drawn from the prior",
                    md_table(["parameter", f"HPD {pct} coverage", f"central {pct} coverage", "band (snapshots)",
                              "band (effective n)", "HPD inside the effective band", "SBC rank counts"], crows),
                    f"From `{source}`.", note=note)


def _identifiability_section(ident: pd.DataFrame, inferred: pd.Series, pct: str, source: str) -> list[str]:
    """Width ratios, RMS error and median posterior correlations per parameter."""
    irows = []
    for name, r in ident.iterrows():
        if not inferred[name]:
            irows.append((r["label"], f"{fmt(r['prior_lo'])} (fixed)", "", "", "", "", ""))
            continue
        others = [f"{inf.PARAM_LABELS[o]} {fmt(r[f'corr_{o}'], '+.2f')}" for o in inf.PARAMS
                  if o != name and inferred[o]]
        irows.append((r["label"], f"{fmt(r['prior_lo'])}-{fmt(r['prior_hi'])}", fmt(r["width_ratio"], ".2f"),
                      fmt(r["sd_ratio"], ".2f"), fmt(r["rms_error"], ".3g"), "; ".join(others) or "n/a",
                      "yes" if r["width_ratio"] < 0.5 else "weakly" if r["width_ratio"] < 0.8 else "no"))
    return _section("Identifiability",
                    md_table(["parameter", "prior range", f"{pct} width / prior width", "sd / prior sd",
                              "RMS error of the mean", "median posterior correlation", "identified"], irows),
                    f"From `{source}`.",
                    note="Medians over the calibration snapshots. Identified: the central interval is under half the "
                         "prior's width (weakly: under 0.8).")


def _example_section(example: dict, pct: str, source: str) -> list[str]:
    """The example's intervals against the truth, and the densities it implies."""
    ids = example["ids"]
    post = example["posterior"]["params"]
    fixed = set(example.get("fixed", []))
    erows = []
    for name in inf.PARAMS:
        p = post[name]
        if name in fixed:
            erows.append((inf.PARAM_LABELS[name], fmt(p["truth"]), "fixed", "", "", ""))
            continue
        erows.append((inf.PARAM_LABELS[name], fmt(p["truth"]), fmt(p["mean"]), _interval(p["central"]),
                      _interval(p["hpd"]), "yes" if p["covered_hpd"] else "no"))
    frows = [(name, fmt(f["true"]), f"{fmt(f['mean'])} +- {fmt(f['std'], '.2g')}", fmt(f["z"], "+.2f"))
             for name, f in sorted(example["functionals"].items())]
    return _section(
        f"Example: {ids['sim_id']}, snapshot {ids['snapshot']} (t/tau = {fmt(ids['time_over_tau'])})",
        md_table(["parameter", "truth", "posterior mean", f"central {pct}", f"HPD {pct} (hull)", "HPD covers"],
                 erows) + [""]
        + md_table(["Minkowski density (b^-p)", "truth", "posterior mean +- std", "z"], frows),
        f"From `{source}`.",
        note="The calibration snapshot nearest the centre of the prior box; its densities are implied by the "
             "posterior through one GP per density (z = (truth - mean) / std).")
