# Stage 3: learning the Minkowski functionals from S(q). The dataset is split
# by simulation once; every (input, model) pair is cross-validated on the
# training simulations in its own job; the comparison picks one model per
# functional; the held-out simulations score it (and nothing else chooses).


wildcard_constraints:
    features="|".join(config["learning"]["features"]),
    model="|".join(config["learning"]["models"]),


rule split_dataset:
    input:
        table=rules.assemble_dataset.output.table,
    output:
        split=f"{RESULTS}/learning/split.csv",
    log:
        f"{LOGS}/learning/split_dataset.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        test_fraction=config["learning"]["test_fraction"],
        seed=config["study"]["seed"],
        code=code_version("split_dataset.py"),
    script:
        "../scripts/split_dataset.py"


rule cross_validate_models:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
    output:
        metrics=f"{RESULTS}/learning/cv/{{features}}/{{model}}.csv",
        predictions=f"{RESULTS}/learning/cv/{{features}}/{{model}}_predictions.csv",
    log:
        f"{LOGS}/learning/cross_validate_models/{{features}}_{{model}}.log",
    benchmark:
        f"{BENCH}/cross_validate_models/{{features}}_{{model}}.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=learning_keys("feature_grid", "cv_folds", "restarts"),
        seed=config["study"]["seed"],
        code=code_version("cross_validate_models.py"),
    script:
        "../scripts/cross_validate_models.py"


rule compare_models:
    input:
        metrics=expand(
            rules.cross_validate_models.output.metrics,
            features=config["learning"]["features"],
            model=config["learning"]["models"],
        ),
        predictions=expand(
            rules.cross_validate_models.output.predictions,
            features=config["learning"]["features"],
            model=config["learning"]["models"],
        ),
    output:
        comparison=f"{RESULTS}/learning/comparison.csv",
        selection=f"{RESULTS}/learning/selection.csv",
    log:
        f"{LOGS}/learning/compare_models.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        learning=canonical(config["learning"]),
        code=code_version("compare_models.py"),
    script:
        "../scripts/compare_models.py"


rule test_selected_models:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
        selection=rules.compare_models.output.selection,
        comparison=rules.compare_models.output.comparison,
        cv=cv_prediction_files(),
    output:
        predictions=f"{RESULTS}/learning/test_predictions.csv",
        baseline_predictions=f"{RESULTS}/learning/test_predictions_baseline.csv",
        factors=f"{RESULTS}/learning/calibration_factors.csv",
        metrics=f"{RESULTS}/learning/test_metrics.csv",
        targets=f"{RESULTS}/learning/targets.csv",
    log:
        f"{LOGS}/learning/test_selected_models.log",
    benchmark:
        f"{BENCH}/test_selected_models.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        code=code_version("test_selected_models.py"),
    script:
        "../scripts/test_selected_models.py"


rule compute_learning_curves:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
        selection=rules.compare_models.output.selection,
    output:
        curves=f"{RESULTS}/learning/learning_curves.csv",
    log:
        f"{LOGS}/learning/compute_learning_curves.log",
    benchmark:
        f"{BENCH}/compute_learning_curves.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        code=code_version("compute_learning_curves.py"),
    script:
        "../scripts/compute_learning_curves.py"


rule test_extrapolation:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        selection=rules.compare_models.output.selection,
    output:
        predictions=f"{RESULTS}/learning/extrapolation.csv",
    log:
        f"{LOGS}/learning/test_extrapolation.log",
    benchmark:
        f"{BENCH}/test_extrapolation.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        code=code_version("test_extrapolation.py"),
    script:
        "../scripts/test_extrapolation.py"


rule test_instrument_robustness:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
        selection=rules.compare_models.output.selection,
    output:
        metrics=f"{RESULTS}/learning/robustness.csv",
    log:
        f"{LOGS}/learning/test_instrument_robustness.log",
    benchmark:
        f"{BENCH}/test_instrument_robustness.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        code=code_version("test_instrument_robustness.py"),
    script:
        "../scripts/test_instrument_robustness.py"


rule evaluate_windows:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
        comparison=rules.compare_models.output.comparison,
    output:
        metrics=f"{RESULTS}/learning/windows.csv",
        predictions=f"{RESULTS}/learning/windows_predictions.csv",
    log:
        f"{LOGS}/learning/evaluate_windows.log",
    benchmark:
        f"{BENCH}/evaluate_windows.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=learning_keys("windows", "feature_grid", "restarts"),
        seed=config["study"]["seed"],
        code=code_version("evaluate_windows.py"),
    script:
        "../scripts/evaluate_windows.py"


rule evaluate_paper_protocol:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
    output:
        splits=f"{RESULTS}/learning/paper_protocol.csv",
    log:
        f"{LOGS}/learning/evaluate_paper_protocol.log",
    benchmark:
        f"{BENCH}/evaluate_paper_protocol.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        code=code_version("evaluate_paper_protocol.py"),
    script:
        "../scripts/evaluate_paper_protocol.py"


# Figures of the learning stage: they read the tables above only.


rule plot_parity:
    input:
        predictions=rules.test_selected_models.output.predictions,
        metrics=rules.test_selected_models.output.metrics,
        table=rules.assemble_dataset.output.table,
    output:
        **figure_outputs(
            "parity",
            caption="../report/parity.rst",
            category="3. Learning",
            label="parity plots",
        ),
    log:
        f"{LOGS}/plot_parity.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_parity.py"),
    script:
        "../scripts/plot_parity.py"


rule plot_error_vs_euler:
    input:
        predictions=rules.test_selected_models.output.predictions,
    output:
        **figure_outputs(
            "error_vs_euler",
            caption="../report/error_vs_euler.rst",
            category="3. Learning",
            label="error vs Euler characteristic",
        ),
    log:
        f"{LOGS}/plot_error_vs_euler.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_error_vs_euler.py"),
    script:
        "../scripts/plot_error_vs_euler.py"


rule plot_calibration:
    input:
        predictions=rules.test_selected_models.output.predictions,
        selection=rules.compare_models.output.selection,
        cv=cv_prediction_files(),
    output:
        **figure_outputs(
            "calibration",
            caption="../report/calibration.rst",
            category="3. Learning",
            label="calibration",
        ),
    log:
        f"{LOGS}/plot_calibration.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        targets=canonical(config["learning"]["targets"]),
        code=code_version("plot_calibration.py"),
    script:
        "../scripts/plot_calibration.py"


rule plot_learning_curves:
    input:
        curves=rules.compute_learning_curves.output.curves,
    output:
        **figure_outputs(
            "learning_curves",
            caption="../report/learning_curves.rst",
            category="3. Learning",
            label="learning curves",
        ),
    log:
        f"{LOGS}/plot_learning_curves.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_learning_curves.py"),
    script:
        "../scripts/plot_learning_curves.py"


rule plot_extrapolation:
    input:
        predictions=rules.test_extrapolation.output.predictions,
    output:
        **figure_outputs(
            "extrapolation",
            caption="../report/extrapolation.rst",
            category="3. Learning",
            label="extrapolation",
        ),
    log:
        f"{LOGS}/plot_extrapolation.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_extrapolation.py"),
    script:
        "../scripts/plot_extrapolation.py"


rule plot_model_comparison:
    input:
        comparison=rules.compare_models.output.comparison,
        selection=rules.compare_models.output.selection,
    output:
        **figure_outputs(
            "model_comparison",
            caption="../report/model_comparison.rst",
            category="3. Learning",
            label="model comparison",
        ),
        table=report(
            f"{RESULTS}/figures/model_comparison.html",
            caption="../report/model_comparison_table.rst",
            category="3. Learning",
            labels={"figure": "model comparison (table)"},
        ),
    log:
        f"{LOGS}/plot_model_comparison.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_model_comparison.py"),
    script:
        "../scripts/plot_model_comparison.py"


rule plot_paper_protocol:
    input:
        splits=rules.evaluate_paper_protocol.output.splits,
    output:
        **figure_outputs(
            "paper_protocol",
            caption="../report/paper_protocol.rst",
            category="3. Learning",
            label="paper's protocol",
        ),
    log:
        f"{LOGS}/plot_paper_protocol.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_paper_protocol.py"),
    script:
        "../scripts/plot_paper_protocol.py"


rule plot_robustness:
    input:
        metrics=rules.test_instrument_robustness.output.metrics,
    output:
        **figure_outputs(
            "robustness",
            caption="../report/robustness.rst",
            category="3. Learning",
            label="instrument robustness",
        ),
    log:
        f"{LOGS}/plot_robustness.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_robustness.py"),
    script:
        "../scripts/plot_robustness.py"


TARGETS += [
    rules.compare_models.output.comparison,
    rules.test_selected_models.output.targets,
    rules.compute_learning_curves.output.curves,
    rules.test_extrapolation.output.predictions,
    rules.test_instrument_robustness.output.metrics,
    rules.evaluate_windows.output.metrics,
    rules.evaluate_paper_protocol.output.splits,
    rules.plot_parity.output.figure,
    rules.plot_error_vs_euler.output.figure,
    rules.plot_calibration.output.figure,
    rules.plot_learning_curves.output.figure,
    rules.plot_extrapolation.output.figure,
    rules.plot_model_comparison.output.figure,
    rules.plot_paper_protocol.output.figure,
    rules.plot_robustness.output.figure,
    rules.plot_model_comparison.output.table,
]


rule summarise_learning:
    input:
        targets=rules.test_selected_models.output.targets,
        metrics=rules.test_selected_models.output.metrics,
        comparison=rules.compare_models.output.comparison,
        paper=rules.evaluate_paper_protocol.output.splits,
        extrapolation=rules.test_extrapolation.output.predictions,
        robustness=rules.test_instrument_robustness.output.metrics,
        windows=rules.evaluate_windows.output.metrics,
        split=rules.split_dataset.output.split,
    output:
        summary=report(
            f"{RESULTS}/learning/summary.md",
            caption="../report/learning_summary.rst",
            category="3. Learning",
            labels={"figure": "summary (numbers)"},
        ),
    log:
        f"{LOGS}/learning/summarise_learning.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_learning.py"),
    script:
        "../scripts/summarise_learning.py"


TARGETS += [rules.summarise_learning.output.summary]


rule train_user_model:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        comparison=rules.compare_models.output.comparison,
    output:
        model=f"{RESULTS}/models/scale_free_gp.npz",
    log:
        f"{LOGS}/learning/train_user_model.log",
    benchmark:
        f"{BENCH}/train_user_model.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=learning_runtime,
    params:
        learning=canonical(config["learning"]),
        seed=config["study"]["seed"],
        study=config["study"]["name"],
        code=code_version("train_user_model.py"),
    script:
        "../scripts/train_user_model.py"


TARGETS += [rules.train_user_model.output.model]

# The model shipped in the repository (models/default.npz, used by
# `scattermorph predict` without --model): only where the config says so
# (the 3D default study), so that no other study overwrites it.
if config["learning"]["ship_model"]:

    rule ship_model:
        input:
            model=rules.train_user_model.output.model,
        output:
            model="models/default.npz",
        log:
            f"{LOGS}/learning/ship_model.log",
        conda:
            "../../envs/figures.yaml"
        threads: 1
        resources:
            mem_mb=table_mem_mb,
            runtime=small_runtime,
        params:
            max_bytes=2000000,
        script:
            "../scripts/ship_model.py"

    TARGETS += [rules.ship_model.output.model]
