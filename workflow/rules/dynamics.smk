# Stage 7: the blend's equation of motion learnt from dense time series of
# its own runs (weak-form SINDy in a conservative library against plain
# strong-form SINDy), forecasts of held-out runs against a Fourier-space
# linear operator and Cahn's linear theory, and the Cahn plot from
# time-resolved S(q, t). The stage makes its own short 2D (and 3D) runs from
# config dynamics; it reads nothing from the other stages.

from scattermorph.dynamics.study import check_dynamics

try:
    check_dynamics(config["dynamics"])
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None


rule recover_dynamics:
    output:
        coefficients=f"{RESULTS}/dynamics/coefficients.csv",
        summary=f"{RESULTS}/dynamics/fit_summary.csv",
        blend=f"{RESULTS}/dynamics/blend.csv",
        curves=f"{RESULTS}/dynamics/mu_curves.csv",
    log:
        f"{LOGS}/recover_dynamics.log",
    benchmark:
        f"{BENCH}/recover_dynamics.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=dynamics_mem_mb,
        runtime=dynamics_runtime,
    params:
        **dynamics_params(),
        code=code_version("recover_dynamics.py"),
    script:
        "../scripts/recover_dynamics.py"


rule forecast_dynamics:
    output:
        forecast=f"{RESULTS}/dynamics/forecast.csv",
    log:
        f"{LOGS}/forecast_dynamics.log",
    benchmark:
        f"{BENCH}/forecast_dynamics.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=dynamics_mem_mb,
        runtime=dynamics_runtime,
    params:
        **dynamics_params(),
        code=code_version("forecast_dynamics.py"),
    script:
        "../scripts/forecast_dynamics.py"


rule analyse_cahn:
    output:
        table=f"{RESULTS}/dynamics/cahn.csv",
        series=f"{RESULTS}/dynamics/cahn_series.npz",
    log:
        f"{LOGS}/analyse_cahn.log",
    benchmark:
        f"{BENCH}/analyse_cahn.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=dynamics_mem_mb,
        runtime=small_runtime,
    params:
        **dynamics_params(),
        code=code_version("analyse_cahn.py"),
    script:
        "../scripts/analyse_cahn.py"


rule plot_dynamics_recovery:
    input:
        summary=rules.recover_dynamics.output.summary,
        curves=rules.recover_dynamics.output.curves,
    output:
        **figure_outputs(
            "dynamics_recovery",
            caption="../report/dynamics_recovery.rst",
            category="7. Dynamics",
            label="recovered equation of motion",
        ),
    log:
        f"{LOGS}/plot_dynamics_recovery.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_dynamics_recovery.py"),
    script:
        "../scripts/plot_dynamics_recovery.py"


rule plot_dynamics_forecast:
    input:
        forecast=rules.forecast_dynamics.output.forecast,
    output:
        **figure_outputs(
            "dynamics_forecast",
            caption="../report/dynamics_forecast.rst",
            category="7. Dynamics",
            label="forecast errors",
        ),
    log:
        f"{LOGS}/plot_dynamics_forecast.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_dynamics_forecast.py"),
    script:
        "../scripts/plot_dynamics_forecast.py"


rule plot_cahn:
    input:
        series=rules.analyse_cahn.output.series,
    output:
        **figure_outputs(
            "dynamics_cahn",
            caption="../report/dynamics_cahn.rst",
            category="7. Dynamics",
            label="Cahn plot",
        ),
    log:
        f"{LOGS}/plot_cahn.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_cahn.py"),
    script:
        "../scripts/plot_cahn.py"


rule summarise_dynamics:
    input:
        coefficients=rules.recover_dynamics.output.coefficients,
        summary=rules.recover_dynamics.output.summary,
        blend=rules.recover_dynamics.output.blend,
        forecast=rules.forecast_dynamics.output.forecast,
        cahn=rules.analyse_cahn.output.table,
    output:
        summary=report(
            f"{RESULTS}/dynamics/summary.md",
            caption="../report/dynamics_summary.rst",
            category="7. Dynamics",
            labels={"figure": "dynamics summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_dynamics.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_dynamics.py"),
    script:
        "../scripts/summarise_dynamics.py"


if config["dynamics"]["enabled"]:
    TARGETS += [
        rules.plot_dynamics_recovery.output.figure,
        rules.plot_dynamics_forecast.output.figure,
        rules.plot_cahn.output.figure,
        rules.summarise_dynamics.output.summary,
    ]
