# Stage 5b: Gaussian-process emulators of the simulation: a Latin-hypercube
# design over (phi0, quench) run in batches, emulators of the length and the
# Minkowski densities validated on held-out runs, an adaptive design, and the
# blog's 1D Cahn-Hilliard emulator.


wildcard_constraints:
    emu_batch=r"\d{3}",


rule simulate_emulator_batch:
    output:
        table=f"{RESULTS}/emulator/runs/batch{{emu_batch}}.csv",
    log:
        f"{LOGS}/simulate_emulator_batch/{{emu_batch}}.log",
    benchmark:
        f"{BENCH}/simulate_emulator_batch/{{emu_batch}}.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=emulator_mem_mb,
        runtime=emulator_batch_runtime,
    params:
        rows=emulator_batch_rows,
        emulator=canonical(config["emulator"]),
        simulation=canonical(config["simulation"]),
        measurement=canonical(config["measurement"]),
        code=code_version("simulate_emulator_batch.py"),
    script:
        "../scripts/simulate_emulator_batch.py"


rule fit_emulator:
    input:
        batches=expand(
            rules.simulate_emulator_batch.output.table, emu_batch=EMU_BATCHES
        ),
    output:
        runs=f"{RESULTS}/emulator/runs.csv",
        predictions=f"{RESULTS}/emulator/validation.csv",
        metrics=report(
            f"{RESULTS}/emulator/metrics.csv",
            caption="../report/emulator_metrics.rst",
            category="5. Gaussian processes",
            labels={"table": "emulator validation"},
        ),
        speedup=report(
            f"{RESULTS}/emulator/speedup.csv",
            caption="../report/emulator_speedup.rst",
            category="5. Gaussian processes",
            labels={"table": "emulator speed-up"},
        ),
        hyperparameters=f"{RESULTS}/emulator/hyperparameters.csv",
        surface=f"{RESULTS}/emulator/response_surface.npz",
    log:
        f"{LOGS}/fit_emulator.log",
    benchmark:
        f"{BENCH}/fit_emulator.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=emulator_mem_mb,
        runtime=emulator_fit_runtime,
    params:
        emulator=canonical(config["emulator"]),
        dimension=config["study"]["dimension"],
        random_state=emulator_seed(),
        code=code_version("fit_emulator.py"),
    script:
        "../scripts/fit_emulator.py"


rule run_adaptive_design:
    input:
        runs=rules.fit_emulator.output.runs,
    output:
        curve=f"{RESULTS}/emulator/adaptive_curve.csv",
        runs=f"{RESULTS}/emulator/adaptive_runs.csv",
    log:
        f"{LOGS}/run_adaptive_design.log",
    benchmark:
        f"{BENCH}/run_adaptive_design.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=emulator_mem_mb,
        runtime=adaptive_runtime,
    params:
        emulator=canonical(config["emulator"]),
        simulation=canonical(config["simulation"]),
        measurement=canonical(config["measurement"]),
        code=code_version("run_adaptive_design.py"),
    script:
        "../scripts/run_adaptive_design.py"


rule emulate_ch1d:
    output:
        arrays=f"{RESULTS}/emulator/ch1d.npz",
    log:
        f"{LOGS}/emulate_ch1d.log",
    benchmark:
        f"{BENCH}/emulate_ch1d.tsv"
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=emulator_fit_runtime,
    params:
        ch1d=canonical(config["emulator"]["ch1d"]),
        N=config["simulation"]["N"],
        seed=config["study"]["seed"],
        code=code_version("emulate_ch1d.py"),
    script:
        "../scripts/emulate_ch1d.py"


rule plot_emulator_validation:
    input:
        predictions=rules.fit_emulator.output.predictions,
        metrics=rules.fit_emulator.output.metrics,
        speedup=rules.fit_emulator.output.speedup,
    output:
        **figure_outputs(
            "emulator_validation",
            caption="../report/emulator_validation.rst",
            category="5. Gaussian processes",
            label="emulator validation",
        ),
    log:
        f"{LOGS}/plot_emulator_validation.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_emulator_validation.py"),
    script:
        "../scripts/plot_emulator_validation.py"


rule plot_emulator_response:
    input:
        surface=rules.fit_emulator.output.surface,
    output:
        **figure_outputs(
            "emulator_response",
            caption="../report/emulator_response.rst",
            category="5. Gaussian processes",
            label="emulated response surfaces",
        ),
    log:
        f"{LOGS}/plot_emulator_response.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_emulator_response.py"),
    script:
        "../scripts/plot_emulator_response.py"


rule plot_adaptive_design:
    input:
        curve=rules.run_adaptive_design.output.curve,
        added=rules.run_adaptive_design.output.runs,
        runs=rules.fit_emulator.output.runs,
    output:
        **figure_outputs(
            "emulator_adaptive_design",
            caption="../report/emulator_adaptive_design.rst",
            category="5. Gaussian processes",
            label="adaptive vs random design",
        ),
    log:
        f"{LOGS}/plot_adaptive_design.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        n_initial=config["emulator"]["adaptive"]["n_initial"],
        code=code_version("plot_adaptive_design.py"),
    script:
        "../scripts/plot_adaptive_design.py"


rule plot_ch1d_emulator:
    input:
        arrays=rules.emulate_ch1d.output.arrays,
    output:
        **figure_outputs(
            "emulator_ch1d",
            caption="../report/emulator_ch1d.rst",
            category="5. Gaussian processes",
            label="1D Cahn-Hilliard emulator",
        ),
    log:
        f"{LOGS}/plot_ch1d_emulator.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_ch1d_emulator.py"),
    script:
        "../scripts/plot_ch1d_emulator.py"


TARGETS += [
    rules.plot_emulator_validation.output.figure,
    rules.plot_emulator_response.output.figure,
    rules.plot_adaptive_design.output.figure,
    rules.plot_ch1d_emulator.output.figure,
]


rule summarise_emulator:
    input:
        metrics=rules.fit_emulator.output.metrics,
        speedup=rules.fit_emulator.output.speedup,
        adaptive=rules.run_adaptive_design.output.curve,
        ch1d=rules.emulate_ch1d.output.arrays,
        # the inference stage's scattering emulator (inference.smk, included after this file)
        inference_validation=f"{RESULTS}/inference/emulator_validation.csv",
    output:
        summary=report(
            f"{RESULTS}/emulator/summary.md",
            caption="../report/emulator_summary.rst",
            category="5. Gaussian processes",
            labels={"figure": "emulator summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_emulator.log",
    conda:
        "../../envs/emulator.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_emulator.py"),
    script:
        "../scripts/summarise_emulator.py"


TARGETS += [rules.summarise_emulator.output.summary]
