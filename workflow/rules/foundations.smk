# Stage 5a: Gaussian-process foundations on Treloar's (1944) rubber data: the
# blog's tutorial (few-point predictions, posterior, mean functions) and the
# choice of hyper-parameters (LOOCV vs marginal likelihood maps).


rule predict_gp_tutorial:
    input:
        data=treloar_data(),
    output:
        arrays=f"{RESULTS}/foundations/tutorial.npz",
    log:
        f"{LOGS}/predict_gp_tutorial.log",
    benchmark:
        f"{BENCH}/predict_gp_tutorial.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        foundations=canonical(config["foundations"]),
        random_state=foundations_seed(),
        code=code_version("predict_gp_tutorial.py"),
    script:
        "../scripts/predict_gp_tutorial.py"


rule map_gp_hyperparameters:
    input:
        data=treloar_data(),
    output:
        maps=f"{RESULTS}/foundations/hyperparameter_maps.npz",
        optima=report(
            f"{RESULTS}/foundations/gp_optima.csv",
            caption="../report/gp_optima.rst",
            category="5. Gaussian processes",
            labels={"table": "hyper-parameter optima"},
        ),
        check=f"{RESULTS}/foundations/loo_check.csv",
    log:
        f"{LOGS}/map_gp_hyperparameters.log",
    benchmark:
        f"{BENCH}/map_gp_hyperparameters.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        foundations=canonical(config["foundations"]),
        random_state=foundations_seed(),
        code=code_version("map_gp_hyperparameters.py"),
    script:
        "../scripts/map_gp_hyperparameters.py"


rule plot_gp_few_points:
    input:
        arrays=rules.predict_gp_tutorial.output.arrays,
    output:
        **figure_outputs(
            "gp_few_points",
            caption="../report/gp_few_points.rst",
            category="5. Gaussian processes",
            label="GP from 1, 2, 3 points",
        ),
    log:
        f"{LOGS}/plot_gp_few_points.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_gp_few_points.py"),
    script:
        "../scripts/plot_gp_few_points.py"


rule plot_gp_posterior:
    input:
        arrays=rules.predict_gp_tutorial.output.arrays,
    output:
        **figure_outputs(
            "gp_posterior",
            caption="../report/gp_posterior.rst",
            category="5. Gaussian processes",
            label="GP posterior and mean functions",
        ),
    log:
        f"{LOGS}/plot_gp_posterior.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_gp_posterior.py"),
    script:
        "../scripts/plot_gp_posterior.py"


rule plot_gp_hyperparameter_maps:
    input:
        maps=rules.map_gp_hyperparameters.output.maps,
        optima=rules.map_gp_hyperparameters.output.optima,
    output:
        **figure_outputs(
            "gp_hyperparameter_maps",
            caption="../report/gp_hyperparameter_maps.rst",
            category="5. Gaussian processes",
            label="LOOCV and marginal likelihood maps",
        ),
    log:
        f"{LOGS}/plot_gp_hyperparameter_maps.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_gp_hyperparameter_maps.py"),
    script:
        "../scripts/plot_gp_hyperparameter_maps.py"


TARGETS += [
    rules.plot_gp_few_points.output.figure,
    rules.plot_gp_posterior.output.figure,
    rules.plot_gp_hyperparameter_maps.output.figure,
    rules.map_gp_hyperparameters.output.check,
]


rule summarise_foundations:
    input:
        optima=rules.map_gp_hyperparameters.output.optima,
        check=rules.map_gp_hyperparameters.output.check,
        tutorial=rules.predict_gp_tutorial.output.arrays,
    output:
        summary=report(
            f"{RESULTS}/foundations/summary.md",
            caption="../report/foundations_summary.rst",
            category="5. Gaussian processes",
            labels={"figure": "foundations summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_foundations.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_foundations.py"),
    script:
        "../scripts/summarise_foundations.py"


TARGETS += [rules.summarise_foundations.output.summary]
