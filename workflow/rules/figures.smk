# Figures: each reads arrays and tables written by the compute rules.


rule plot_morphology_gallery:
    input:
        sims=gallery_files(),
    output:
        figure=report(
            f"{RESULTS}/figures/morphology_gallery.png",
            caption="../report/morphology_gallery.rst",
            category="1. Microstructures",
            labels={"figure": "morphology gallery"},
        ),
    log:
        f"{LOGS}/plot_morphology_gallery.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/plot_morphology_gallery.py"


rule plot_coarsening:
    input:
        sims=coarsening_files(),
        table=rules.index_snapshots.output.table,
    output:
        figure=report(
            f"{RESULTS}/figures/coarsening.png",
            caption="../report/coarsening.rst",
            category="1. Microstructures",
            labels={"figure": "coarsening series"},
        ),
    log:
        f"{LOGS}/plot_coarsening.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/plot_coarsening.py"
