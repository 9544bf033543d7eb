"""Rule plot_motivating_pair: droplets vs co-continuous with the same S(q) peak.

The pair is chosen from the dataset and the study's connectivity labels
(scattermorph.measure.snapshots.select_motivating_pair); 3D structures are drawn as
shaded interfaces over their mid-planes (scattermorph.plots.structures).
"""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph.errors import ParameterError
from scattermorph.measure.snapshots import load_dataset, select_motivating_pair
from scattermorph.plots.morphology import plot_motivating_pair
from scattermorph.plots.save import save_job_figure
from scattermorph.sim.run import load_simulation

with job(snakemake, __file__, record=False) as sm:
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    labels = pd.read_csv(sm.input.labels)
    try:  # droplets and networks by both labels, else by percolation alone (small boxes)
        rows = select_motivating_pair(table, labels)
    except ParameterError as exc:
        print(f"{exc}\n-> the pair is chosen by the percolation label alone", file=sys.stderr)
        rows = select_motivating_pair(table, labels, criterion="percolation")
    by_id = {p.rsplit("/", 1)[-1].removesuffix(".npz"): p for p in sm.input.sims}
    images, titles, recs = [], [], []
    for r in rows:
        rec = table.iloc[r]
        phi, _, _ = load_simulation(by_id[rec["sim_id"]])
        images.append(phi[int(rec["snapshot"])])
        recs.append(rec)
        titles.append(f"$\\phi_0$ = {rec['phi0']:g}, $t$ = {rec['time_over_tau']:.3g} $\\tau$\n"
                      f"$q_{{peak}}$ = {rec['q_peak']:.4f} $b^{{-1}}$")
        print(f"row {r}: {rec['sim_id']} snapshot {rec['snapshot']} q_peak {rec['q_peak']:.5f}", file=sys.stderr)
    dx = [rec["dx"] for rec in recs]  # per run: runs of a sweep may have their own cell size
    fig = plot_motivating_pair(images, arrays["q"], arrays["s_q"][list(rows)], recs, dx, titles,
                               level=sm.params.level)
    save_job_figure(fig, sm, __file__)
