"""Rule plot_scaling_collapse: S(q) q1^d against q/q1 over time for one run."""

from _bootstrap import job

from scattermorph.measure.snapshots import load_dataset
from scattermorph.plots.morphology import plot_scaling_collapse
from scattermorph.plots.save import save_job_figure

with job(snakemake, __file__, record=False) as sm:
    table, arrays = load_dataset(sm.input.table, sm.input.curves)
    sim_id = sm.params.sims[-1]  # the most symmetric composition
    rows = table[table["sim_id"] == sim_id].sort_values("snapshot")
    fig = plot_scaling_collapse(
        arrays["q"],
        arrays["s_q"][rows["row"].to_numpy()],
        rows["L_first_moment"].to_numpy(),
        rows["time_over_tau"].to_numpy(),
        ndim=int(rows["dimension"].iloc[0]),
        title=f"Dynamic scaling of run {sim_id}",
    )
    save_job_figure(fig, sm, __file__)
