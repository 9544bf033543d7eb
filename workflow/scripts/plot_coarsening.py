"""Rule plot_coarsening: snapshots of one run and L(t) of the shown runs
(3D: shaded interfaces over the xy mid-planes)."""

import numpy as np
import pandas as pd
from _bootstrap import job

from scattermorph.plots.morphology import plot_coarsening
from scattermorph.plots.save import save_job_figure
from scattermorph.sim.run import load_simulation

with job(snakemake, __file__, record=False) as sm:
    table = pd.read_csv(sm.input.table)
    series, shown = [], None
    for path in sm.input.sims:
        phi, times, meta = load_simulation(path)
        rows = table[table["sim_id"] == meta["sim_id"]].sort_values("snapshot")
        label = f"$\\phi_0$ = {meta['params']['phi0']:g}"
        series.append((label, rows["time_over_tau"].to_numpy(), rows["characteristic_length"].to_numpy()))
        if shown is None:
            pick = np.unique(np.linspace(0, len(times) - 1, 5).round().astype(int))
            tau = meta["derived"]["time_scale_tau"]
            shown = ([phi[i] for i in pick], [times[i] / tau for i in pick], meta)
    fields, ftimes, meta = shown
    title = f"Coarsening of run {meta['sim_id']} (top) and characteristic length (bottom)"
    fig = plot_coarsening(fields, ftimes, series, meta["params"]["dx"], title=title,
                          level=sm.params.level)
    save_job_figure(fig, sm, __file__)
