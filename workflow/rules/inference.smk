# Stage 6: the inverse problem. The PCA-GP emulator of the
# scale-free features (scattermorph.infer.posterior) is fitted on every run of the
# study (the model `scattermorph infer` uses) and checked on the calibration
# runs, drawn from the prior (inference.calibration_runs; simulated and
# measured by stages 1-2, assembled by assemble_calibration_set): emulator
# validation, simulation-based calibration, identifiability and one example
# posterior. The figures only read the compute rule's files.


rule calibrate_inference:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        held=rules.assemble_calibration_set.output.table,
        held_curves=rules.assemble_calibration_set.output.curves,
    output:
        validation=f"{RESULTS}/inference/emulator_validation.csv",
        calibration=f"{RESULTS}/inference/calibration.csv",
        identifiability=report(
            f"{RESULTS}/inference/identifiability.csv",
            caption="../report/inference_identifiability_table.rst",
            category="6. Inference",
            labels={"table": "calibration and identifiability"},
        ),
        example=f"{RESULTS}/inference/example.json",
        grid=f"{RESULTS}/inference/example_posterior.npz",
    log:
        f"{LOGS}/calibrate_inference.log",
    benchmark:
        f"{BENCH}/calibrate_inference.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=inference_mem_mb,
        runtime=inference_runtime,
    params:
        inference=canonical(config["inference"]),
        feature_grid=canonical(config["learning"]["feature_grid"]),
        seed=inference_seed(),
        code=code_version("calibrate_inference.py"),
    script:
        "../scripts/calibrate_inference.py"


rule plot_inference_calibration:
    input:
        calibration=rules.calibrate_inference.output.calibration,
        identifiability=rules.calibrate_inference.output.identifiability,
    output:
        **figure_outputs(
            "inference_calibration",
            caption="../report/inference_calibration.rst",
            category="6. Inference",
            label="simulation-based calibration",
        ),
    log:
        f"{LOGS}/plot_inference_calibration.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_inference_calibration.py"),
    script:
        "../scripts/plot_inference_calibration.py"


rule plot_inference_identifiability:
    input:
        calibration=rules.calibrate_inference.output.calibration,
        identifiability=rules.calibrate_inference.output.identifiability,
    output:
        **figure_outputs(
            "inference_identifiability",
            caption="../report/inference_identifiability.rst",
            category="6. Inference",
            label="posterior mean vs truth",
        ),
    log:
        f"{LOGS}/plot_inference_identifiability.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_inference_identifiability.py"),
    script:
        "../scripts/plot_inference_identifiability.py"


rule plot_inference_example:
    input:
        example=rules.calibrate_inference.output.example,
        grid=rules.calibrate_inference.output.grid,
    output:
        **figure_outputs(
            "inference_example",
            caption="../report/inference_example.rst",
            category="6. Inference",
            label="example posterior",
        ),
    log:
        f"{LOGS}/plot_inference_example.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_inference_example.py"),
    script:
        "../scripts/plot_inference_example.py"


rule summarise_inference:
    input:
        validation=rules.calibrate_inference.output.validation,
        identifiability=rules.calibrate_inference.output.identifiability,
        example=rules.calibrate_inference.output.example,
    output:
        summary=report(
            f"{RESULTS}/inference/summary.md",
            caption="../report/inference_summary.rst",
            category="6. Inference",
            labels={"figure": "inference summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_inference.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_inference.py"),
    script:
        "../scripts/summarise_inference.py"


TARGETS += [
    rules.plot_inference_calibration.output.figure,
    rules.plot_inference_identifiability.output.figure,
    rules.plot_inference_example.output.figure,
    rules.summarise_inference.output.summary,
]


# The emulator shipped in the repository (models/emulator.npz, used by
# `scattermorph infer` without --study): fitted on every run of the study, as
# `infer --study` fits it, with the fit check's reference distribution; only
# where the config ships the predict model (the 3D default study), so that no
# other study overwrites it.
if config["learning"]["ship_model"]:

    rule ship_emulator:
        input:
            table=rules.assemble_dataset.output.table,
            curves=rules.assemble_dataset.output.curves,
        output:
            emulator="models/emulator.npz",
        log:
            f"{LOGS}/inference/ship_emulator.log",
        benchmark:
            f"{BENCH}/ship_emulator.tsv"
        conda:
            "../../envs/emulator.yaml"
        threads: 1
        resources:
            mem_mb=inference_mem_mb,
            runtime=ship_emulator_runtime,
        params:
            feature_grid=canonical(config["learning"]["feature_grid"]),
            study=config["study"]["name"],
            seed=config["study"]["seed"],
            max_bytes=2000000,
            code=code_version("ship_emulator.py"),
        script:
            "../scripts/ship_emulator.py"

    TARGETS += [rules.ship_emulator.output.emulator]
