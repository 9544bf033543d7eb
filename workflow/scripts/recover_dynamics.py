"""Rule recover_dynamics: the recovered-coefficient tables of the dynamics stage."""

from _bootstrap import job

from scattermorph.dynamics.study import recovery_tables

with job(snakemake, __file__) as sm:
    coefficients, summary, blend, curves = recovery_tables(sm.params.dynamics, sm.params.seed)
    coefficients.to_csv(sm.output.coefficients, index=False)
    summary.to_csv(sm.output.summary, index=False)
    blend.to_csv(sm.output.blend, index=False)
    curves.to_csv(sm.output.curves, index=False)
