# Reference structures with analytically known Minkowski densities, for the
# validation of the measurement stage.


rule make_reference_structures:
    output:
        structures=f"{RESULTS}/reference/structures.npz",
        expected=f"{RESULTS}/reference/expected.csv",
    log:
        f"{LOGS}/make_reference_structures.log",
    benchmark:
        f"{BENCH}/make_reference_structures.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=reference_mem_mb,
        runtime=reference_runtime,
    params:
        reference=canonical(config["reference"]),
        seed=config["study"]["seed"],
        dimension=config["study"]["dimension"],
        code=code_version("make_reference_structures.py"),
    script:
        "../scripts/make_reference_structures.py"


TARGETS += [rules.make_reference_structures.output.structures]
