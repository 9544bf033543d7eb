"""Rule plot_morphology_gallery: last snapshot of one run per composition
(3D: shaded interface of the minority phase over the three mid-planes)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import _bootstrap  # this checkout's library

from scattermorph.plots.morphology import plot_gallery
from scattermorph.plots.save import save_job_figure
from scattermorph.sim.run import load_simulation

fields, titles, dx = [], [], []
for path in snakemake.input.sims:
    phi, times, meta = load_simulation(path)
    p = meta["params"]
    dx.append(p["dx"])  # per run: runs of a sweep may have their own cell size
    fields.append(phi[-1])
    quench = f", $\\chi/\\chi_s$ = {p['quench']:g}" if p["model"] == "flory_huggins" else ""
    titles.append(f"$\\phi_0$ = {p['phi0']:g}{quench}\n$t$ = {times[-1] / meta['derived']['time_scale_tau']:.3g} $\\tau$")
fig = plot_gallery(fields, titles, dx, suptitle="Late-stage morphologies: droplets to co-continuous",
                   level=snakemake.params.level)
save_job_figure(fig, snakemake, __file__)
