"""Rule forecast_dynamics: learnt equations and baselines forecasting held-out runs."""

from _bootstrap import job

from scattermorph.dynamics.study import forecast_table

with job(snakemake, __file__) as sm:
    forecast_table(sm.params.dynamics, sm.params.seed).to_csv(sm.output.forecast, index=False)
