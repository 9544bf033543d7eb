# Stage 2: scattering and Minkowski functionals of every snapshot. One job per
# simulation (all its snapshots), then one dataset for the whole study.


rule measure_snapshots:
    input:
        sim=rules.simulate_microstructure.output.sim,
    output:
        measurements=f"{RESULTS}/measurements/{{sim_id}}.npz",
    log:
        f"{LOGS}/measure_snapshots/{{sim_id}}.log",
    benchmark:
        f"{BENCH}/measure_snapshots/{{sim_id}}.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=measure_mem_mb,
        runtime=measure_runtime,
    params:
        measurement=canonical(config["measurement"]),
        code=code_version("measure_snapshots.py"),
    script:
        "../scripts/measure_snapshots.py"


rule assemble_dataset:
    input:
        measurements=expand(rules.measure_snapshots.output.measurements, sim_id=SIM_IDS),
    output:
        table=f"{RESULTS}/dataset.csv",
        curves=f"{RESULTS}/dataset_sq.npz",
        dropped=f"{RESULTS}/dataset_dropped.csv",
    log:
        f"{LOGS}/assemble_dataset.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        instrument=canonical(config["measurement"]["instrument"]),
        seed=config["study"]["seed"],
        max_length_fraction=config["measurement"]["max_length_fraction"],
        code=code_version("assemble_dataset.py"),
    script:
        "../scripts/assemble_dataset.py"


TARGETS += [rules.assemble_dataset.output.table]


rule assemble_calibration_set:
    input:
        measurements=expand(rules.measure_snapshots.output.measurements, sim_id=CAL_IDS),
    output:
        table=f"{RESULTS}/inference/calibration_set.csv",
        curves=f"{RESULTS}/inference/calibration_set_sq.npz",
        dropped=f"{RESULTS}/inference/calibration_set_dropped.csv",
    log:
        f"{LOGS}/assemble_calibration_set.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        instrument=canonical(config["measurement"]["instrument"]),
        seed=calibration_seed(),
        max_length_fraction=config["measurement"]["max_length_fraction"],
        code=code_version("assemble_dataset.py"),
    script:
        "../scripts/assemble_dataset.py"


rule summarise_dataset:
    input:
        simulations=rules.index_snapshots.output.simulations,
        dataset=rules.assemble_dataset.output.table,
        dropped=rules.assemble_dataset.output.dropped,
    output:
        summary=report(
            f"{RESULTS}/dataset/summary.md",
            caption="../report/dataset_summary.rst",
            category="2. Scattering and Minkowski functionals",
            labels={"figure": "summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_dataset.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("summarise_dataset.py"),
    script:
        "../scripts/summarise_dataset.py"


TARGETS += [rules.summarise_dataset.output.summary]
