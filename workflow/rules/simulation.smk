# Stage 1: Cahn-Hilliard-Cook simulations. One job per simulation, writing all
# its snapshots, so each job does real work.


wildcard_constraints:
    sim_id="|".join(SIM_IDS + CAL_IDS),


rule simulate_microstructure:
    output:
        sim=f"{RESULTS}/simulations/{{sim_id}}.npz",
    log:
        f"{LOGS}/simulate_microstructure/{{sim_id}}.log",
    benchmark:
        f"{BENCH}/simulate_microstructure/{{sim_id}}.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: sim_threads()
    resources:
        mem_mb=sim_mem_mb,
        runtime=sim_runtime,
    params:
        record=sim_record,
        fft_plan=setting(config, "simulation", "fft_plan"),
        fft_wisdom=setting(config, "simulation", "fft_wisdom"),
        code=code_version("simulate_microstructure.py"),
    script:
        "../scripts/simulate_microstructure.py"


rule index_snapshots:
    input:
        sims=sim_files(),
    output:
        table=f"{RESULTS}/snapshots.csv",
        simulations=f"{RESULTS}/simulations.csv",
    log:
        f"{LOGS}/index_snapshots.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        code=code_version("index_snapshots.py"),
    script:
        "../scripts/index_snapshots.py"


TARGETS += [rules.index_snapshots.output.table]
