"""Rule plot_morphology_gallery: last snapshot of one run per composition
(3D: shaded interface of the minority phase over the three mid-planes)."""

from _bootstrap import job

from scattermorph.plots.morphology import plot_gallery
from scattermorph.plots.save import save_job_figure
from scattermorph.sim.run import load_simulation

with job(snakemake, __file__, record=False) as sm:
    fields, titles, dx = [], [], []
    for path in sm.input.sims:
        phi, times, meta = load_simulation(path)
        p = meta["params"]
        dx.append(p["dx"])  # per run: runs of a sweep may have their own cell size
        fields.append(phi[-1])
        quench = f", $\\chi/\\chi_s$ = {p['quench']:g}" if p["model"] == "flory_huggins" else ""
        titles.append(f"$\\phi_0$ = {p['phi0']:g}{quench}\n$t$ = {times[-1] / meta['derived']['time_scale_tau']:.3g} $\\tau$")
    fig = plot_gallery(fields, titles, dx, suptitle="Late-stage morphologies: droplets to co-continuous",
                       level=sm.params.level)
    save_job_figure(fig, sm, __file__)
