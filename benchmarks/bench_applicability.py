"""Error rates of the applicability check (``scattermorph.sas.applicability``).

Prints two tables and writes them as CSV under ``benchmarks/results/``:

1. The study's own simulated curves, as measured: every curve in q windows
   (the whole curve, [0.5, 2], [0.3, 1.5], [0.7, 3] q_peak), each with every flat
   background (0, 10, 50, 100 % of I at the window's largest q), a resolution
   dQ/q drawn from {0, 2, 5, 10} % and a noise level drawn from 1-5 % (relative
   plus counting-like, :func:`scattermorph.sas.measured.as_measured`). The
   thresholds were tuned on the simulations of even ``sim_index`` (``--split
   tune``); the held-out odd ones are the default. Target: at most 2 % refused
   or flagged.
2. Curves of other structures computed by sasmodels
   (``tests/data/sasmodels_curves.npz``, ``benchmarks/make_sasmodels_curves.py``),
   each with ``--draws`` random draws of resolution, noise and background: per
   family n, refused, flagged, passed and the reasons. Target: at least 99 %
   refused or flagged outside ``teubner_strey`` and ``spinodal`` (the
   neighbours, reported on their own; see docs/predict.md).

Run from the repository root::

    .venv/bin/python benchmarks/bench_applicability.py [--dataset results/default] [--split held_out|tune|all]

A fresh draw (new resolution, noise and background draws; new sasmodels curves) to check the rates
of thresholds tuned on the default one::

    python benchmarks/make_sasmodels_curves.py --seed 20261208 --out /tmp/fresh.npz   # with sasmodels
    .venv/bin/python benchmarks/bench_applicability.py --seed 2412 --sasmodels /tmp/fresh.npz

The CSV rows keep each curve's window, background, resolution, noise, verdict, reason codes and the
diagnostics behind them (``KEPT``), so every false flag can be traced to its condition.

Without ``--dataset`` the simulated curves are the shipped model's training
curves (the default study's, with their simulation groups).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from scattermorph.sas.applicability import assess_curve
from scattermorph.sas.measured import as_measured

#: q windows in units of the curve's peak (:func:`smoothed_peak`)
WINDOWS = {"whole": None, "[0.5, 2]": (0.5, 2.0), "[0.3, 1.5]": (0.3, 1.5), "[0.7, 3]": (0.7, 3.0)}
BACKGROUNDS = (0.0, 0.1, 0.5, 1.0)
RESOLUTIONS = (0.0, 0.02, 0.05, 0.1)
NEIGHBOURS = ("teubner_strey", "spinodal")
SEED = 24


def smoothed_peak(q, s_q, width=0.1):
    """q of the maximum of ln S smoothed with a Gaussian of ``width`` in ln q.

    A 64^3 box has few Fourier modes per bin near the peak, so S(q) scatters by
    tens of per cent from bin to bin (sampling noise a macroscopic sample
    averages away); the highest bin is often a spike beside the maximum a
    scientist would read off the curve. Windows are placed around this one.
    """
    good = np.isfinite(s_q) & (s_q > 0)
    lq, ls = np.log(q[good]), np.log(s_q[good])
    w = np.exp(-0.5 * ((lq[:, None] - lq[None, :]) / width) ** 2)
    return float(np.exp(lq[np.argmax(w @ ls / w.sum(1))]))


def study_curves(dataset=None):
    """q (B,), S(q) (n, B), q_peak (n, smoothed_peak), group (n,) of the study's curves."""
    if dataset is None:
        from scattermorph.predict.modelfile import load_shipped_model

        model, _ = load_shipped_model()
        q, s_q, groups = model.curves["q"], model.curves["s_q"], model.curves["groups"]
    else:
        z = np.load(Path(dataset) / "dataset_sq.npz", allow_pickle=False)
        q, s_q = z["q"], z["s_q"]
        groups = pd.read_csv(Path(dataset) / "dataset.csv")["sim_index"].to_numpy()
    q_peak = np.array([smoothed_peak(q, row) for row in s_q])
    return q, s_q, q_peak, np.asarray(groups)


def sasmodels_curves(path="tests/data/sasmodels_curves.npz"):
    """[(family, q, I, parameters)] of the stored sasmodels curves, and the file's metadata."""
    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    out = []
    for j, rec in enumerate(meta["curves"]):
        q = np.geomspace(z["q_min"][j], z["q_max"][j], int(z["n_points"][j]))
        log_i = z["log10_intensity"][z["offsets"][j]:z["offsets"][j + 1]].astype(float)
        out.append((rec["family"], q, 10 ** log_i, rec["parameters"]))
    return out, meta


#: diagnostics kept in the CSV tables (what each reason measured)
KEPT = ("q_peak", "half_low", "half_high", "tail_slope", "tail_slope_error", "low_q_slope", "n_secondary_maxima",
        "peak_over_low_end", "peak_over_high_end",
        "tail_rms_over_noise", "background_bound", "noise_ln")


def assess_measured(q, intensity, rng, *, window=None, background=0.0):
    """Verdict, reason codes, diagnostics and the drawn (resolution, noise) of one curve made measured with a
    random resolution and noise (None: window too small)."""
    resolution, noise = float(rng.choice(RESOLUTIONS)), float(rng.uniform(0.01, 0.05))
    m = as_measured(q, intensity, rng, window=window, resolution=resolution, noise=noise, background=background)
    if m is None:
        return None
    a = assess_curve(m[0], m[1], m[2], dq=m[3])
    return a.verdict, [c for c, _ in a.reasons], a.diagnostics, (resolution, noise)


def _kept(diag):
    """The diagnostics of ``KEPT`` (NaN where not measured), and the low-q ratios."""
    out = {k: (np.nan if diag.get(k) is None else diag[k]) for k in KEPT}
    out.update({f"low_q_ratio_{x}": v for x, v in (diag.get("low_q_ratio") or {}).items()})
    return out


def study_table(split="held_out", dataset=None, seed=SEED) -> pd.DataFrame:
    """One row per (curve, window, background) of the chosen simulations."""
    q, s_q, q_peak, groups = study_curves(dataset)
    times = (pd.read_csv(Path(dataset) / "dataset.csv")["time_over_tau"].to_numpy() if dataset is not None
             else np.full(len(s_q), np.nan))
    codes = np.unique(groups, return_inverse=True)[1]
    pick = {"tune": codes % 2 == 0, "held_out": codes % 2 == 1, "all": np.ones(codes.size, bool)}[split]
    rng = np.random.default_rng(seed)
    rows = []
    for i in np.flatnonzero(pick):
        finite = q[np.isfinite(s_q[i])]
        for wname, w in WINDOWS.items():
            window = None if w is None else (w[0] * q_peak[i], w[1] * q_peak[i])
            for bg in BACKGROUNDS:
                res = assess_measured(q, s_q[i], rng, window=window, background=bg)
                if res is None:
                    continue
                # the box reaches the window's low end (else the simulation, not the window, cuts the peak)
                reached = finite[0] <= 1.05 * (window[0] if window else finite[0])
                rows.append({"row": i, "group": groups[i], "time_over_tau": times[i], "window": wname,
                             "background": bg, "resolution": res[3][0], "noise": res[3][1], "verdict": res[0],
                             "codes": ",".join(res[1]), "box_reaches_window": bool(reached), **_kept(res[2])})
    return pd.DataFrame(rows)


def family_table(draws=2, seed=SEED, path="tests/data/sasmodels_curves.npz") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per family: n, refused, flagged, passed, reasons; and the rows."""
    curves, _ = sasmodels_curves(path)
    rng = np.random.default_rng(seed)
    rows = []
    for j, (family, q, intensity, pars) in enumerate(curves):
        for _ in range(draws):
            bg = float(rng.choice(BACKGROUNDS))
            verdict, codes, diag, (res, noise) = assess_measured(q, intensity, rng, background=bg)
            rows.append({"curve": j, "family": family, "verdict": verdict, "codes": ",".join(codes), "background": bg,
                         "resolution": res, "noise": noise, "q_min": q[0], "q_max": q[-1],
                         "parameters": json.dumps(pars), **_kept(diag)})
    rows = pd.DataFrame(rows)
    table = []
    for family, g in rows.groupby("family", sort=False):
        reasons = Counter(c for cs in g.codes for c in cs.split(",") if c)
        table.append({"family": family, "n": len(g), "refused": int((g.verdict == "refused").sum()),
                      "flagged": int((g.verdict == "flagged").sum()), "passed": int((g.verdict == "ok").sum()),
                      "reasons": ", ".join(f"{k} {v}" for k, v in reasons.most_common())})
    return pd.DataFrame(table), rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=None, help="study results folder (dataset_sq.npz, dataset.csv)")
    ap.add_argument("--split", default="held_out", choices=["held_out", "tune", "all"])
    ap.add_argument("--draws", type=int, default=2, help="measured versions of each sasmodels curve")
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the resolution, noise and background draws")
    ap.add_argument("--sasmodels", default="tests/data/sasmodels_curves.npz", help="curves of other structures "
                    "(benchmarks/make_sasmodels_curves.py; a new --seed there makes a fresh draw)")
    ap.add_argument("--skip-study", action="store_true", help="only the sasmodels table")
    ap.add_argument("--csv", default="benchmarks/results/applicability")
    args = ap.parse_args(argv)
    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not args.skip_study:
        _print_study(study_table(args.split, args.dataset, args.seed), args.split, out)
    table, rows = family_table(args.draws, args.seed, args.sasmodels)
    _print_families(table, rows, args.draws, out)
    print(f"\n{time.perf_counter() - t0:.1f} s")


def _print_study(st, split, out):
    """Table 1: rates by window and background, reasons, and where the box reaches the window."""
    st.to_csv(f"{out}_study.csv", index=False)
    bad = st.verdict != "ok"
    print(f"1. the study's curves ({split} simulations, {st.row.nunique()} curves, {len(st)} measured "
          f"versions): {100 * bad.mean():.2f} % refused or flagged (target <= 2 %)")
    print(st.assign(bad=bad).pivot_table(index="window", columns="background", values="bad", aggfunc="mean")
          .mul(100).round(2).to_string())
    print("reasons:", dict(Counter(c for cs in st.codes[bad] for c in cs.split(",") if c)))
    full = st.box_reaches_window
    print(f"   where the simulation box reaches the window's low end: {100 * bad[full].mean():.2f} % of "
          f"{int(full.sum())}; where it does not (late curves, the box's lowest q above the window's, so less of "
          f"the peak's low side than the window gives): {100 * bad[~full].mean():.2f} % of {int((~full).sum())}")


def _print_families(table, rows, draws, out):
    """Table 2: per family refused, flagged, passed; the rate outside the neighbours; the neighbours."""
    rows.to_csv(f"{out}_sasmodels.csv", index=False)
    print(f"\n2. curves of other structures (sasmodels, {draws} measured versions each)")
    print(table.to_string(index=False))
    others = rows[~rows.family.isin(NEIGHBOURS)]
    print(f"refused or flagged, all families but {', '.join(NEIGHBOURS)}: "
          f"{100 * (others.verdict != 'ok').mean():.2f} % of {len(others)} (target >= 99 %)")
    for fam in NEIGHBOURS:
        g = rows[rows.family == fam]
        print(f"{fam}: {100 * (g.verdict != 'ok').mean():.1f} % refused or flagged of {len(g)}")


if __name__ == "__main__":
    main()
