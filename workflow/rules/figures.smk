# Figures: each reads arrays and tables written by the compute rules.


rule plot_morphology_gallery:
    input:
        sims=gallery_files(),
    output:
        **figure_outputs(
            "morphology_gallery",
            caption="../report/morphology_gallery.rst",
            category="1. Microstructures",
            label="morphology gallery",
        ),
    log:
        f"{LOGS}/plot_morphology_gallery.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=structure_figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        level=config["measurement"]["threshold"],
        code=code_version("plot_morphology_gallery.py"),
    script:
        "../scripts/plot_morphology_gallery.py"


rule plot_coarsening:
    input:
        sims=coarsening_files(),
        table=rules.index_snapshots.output.table,
    output:
        **figure_outputs(
            "coarsening",
            caption="../report/coarsening.rst",
            category="1. Microstructures",
            label="coarsening series",
        ),
    log:
        f"{LOGS}/plot_coarsening.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=structure_figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        level=config["measurement"]["threshold"],
        code=code_version("plot_coarsening.py"),
    script:
        "../scripts/plot_coarsening.py"


rule plot_motivating_pair:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        labels=f"{CLS_DIR}/labels_study.csv",
        sims=sim_files(),
    output:
        **figure_outputs(
            "motivating_pair",
            caption="../report/motivating_pair.rst",
            category="2. Scattering and Minkowski functionals",
            label="same S(q) peak, different structures",
        ),
    log:
        f"{LOGS}/plot_motivating_pair.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=structure_figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        level=config["measurement"]["threshold"],
        code=code_version("plot_motivating_pair.py"),
    script:
        "../scripts/plot_motivating_pair.py"


rule plot_functionals_vs_time:
    input:
        table=rules.assemble_dataset.output.table,
    output:
        **figure_outputs(
            "functionals_vs_time",
            caption="../report/functionals_vs_time.rst",
            category="2. Scattering and Minkowski functionals",
            label="functionals vs time",
        ),
    log:
        f"{LOGS}/plot_functionals_vs_time.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_functionals_vs_time.py"),
    script:
        "../scripts/plot_functionals_vs_time.py"


rule plot_scaling_collapse:
    input:
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
    output:
        **figure_outputs(
            "scaling_collapse",
            caption="../report/scaling_collapse.rst",
            category="2. Scattering and Minkowski functionals",
            label="dynamic scaling",
        ),
    log:
        f"{LOGS}/plot_scaling_collapse.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        sims=coarsening_sims(),
        code=code_version("plot_scaling_collapse.py"),
    script:
        "../scripts/plot_scaling_collapse.py"


rule plot_euler_vs_composition:
    input:
        table=rules.assemble_dataset.output.table,
    output:
        **figure_outputs(
            "euler_vs_composition",
            caption="../report/euler_vs_composition.rst",
            category="2. Scattering and Minkowski functionals",
            label="Euler characteristic vs composition",
        ),
    log:
        f"{LOGS}/plot_euler_vs_composition.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=figure_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_euler_vs_composition.py"),
    script:
        "../scripts/plot_euler_vs_composition.py"


TARGETS += [
    rules.plot_morphology_gallery.output.figure,
    rules.plot_coarsening.output.figure,
    rules.plot_motivating_pair.output.figure,
    rules.plot_functionals_vs_time.output.figure,
    rules.plot_scaling_collapse.output.figure,
    rules.plot_euler_vs_composition.output.figure,
]
