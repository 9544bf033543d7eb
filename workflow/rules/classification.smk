# Stage 4: classifiers that see only part of an image. Labels of the
# full structures; random partial views and their features (one job per view
# kind); bootstrap training fanned out as one job per (view kind, feature set,
# batch of rounds); the decompositions; figures.


wildcard_constraints:
    kind="|".join(CLS_KINDS),
    features="|".join(CLS["features"]),
    batch=r"\d+",
    struct_id="|".join(SECTION_IDS) if SECTION_IDS else "none",


rule label_snapshots:
    input:
        sims=sim_files(),
    output:
        table=f"{CLS_DIR}/labels_study.csv",
    log:
        f"{LOGS}/label_snapshots.log",
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        level=config["measurement"]["threshold"],
        code=code_version("label_structures.py"),
    script:
        "../scripts/label_structures.py"


rule make_section_structure:
    output:
        structure=f"{CLS_DIR}/structures3d/{{struct_id}}.npz",
    log:
        f"{LOGS}/make_section_structure/{{struct_id}}.log",
    benchmark:
        f"{BENCH}/make_section_structure/{{struct_id}}.tsv"
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=section_runtime,
    params:
        record=section_record,
        sections=canonical(CLS["sections"]),
        seed=config["study"]["seed"],
        code=code_version("make_section_structure.py"),
    script:
        "../scripts/make_section_structure.py"


rule label_sections:
    input:
        sims=section_files(),
    output:
        table=f"{CLS_DIR}/labels_sections.csv",
    log:
        f"{LOGS}/label_sections.log",
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        level=section_level(),
        code=code_version("label_structures.py"),
    script:
        "../scripts/label_structures.py"


rule compute_view_features:
    input:
        labels=view_labels,
        images=view_images,
    output:
        features=f"{CLS_DIR}/features/{{kind}}.npz",
    log:
        f"{LOGS}/compute_view_features/{{kind}}.log",
    benchmark:
        f"{BENCH}/compute_view_features/{{kind}}.tsv"
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=cls_mem_mb,
        runtime=features_runtime,
    params:
        settings=view_settings,
        seed=config["study"]["seed"],
        level=view_level,
        connectivity=config["measurement"]["connectivity"],
        source_index=view_source_index,
        code=code_version("compute_view_features.py"),
    script:
        "../scripts/compute_view_features.py"


rule bootstrap_classifiers:
    input:
        features=rules.compute_view_features.output.features,
    output:
        predictions=f"{CLS_DIR}/predictions/{{kind}}_{{features}}_b{{batch}}.npz",
    log:
        f"{LOGS}/bootstrap_classifiers/{{kind}}_{{features}}_b{{batch}}.log",
    benchmark:
        f"{BENCH}/bootstrap_classifiers/{{kind}}_{{features}}_b{{batch}}.tsv"
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=cls_mem_mb,
        runtime=bootstrap_runtime,
    params:
        settings=cls_settings("bootstrap", "models", "hyper", "views"),
        seed=config["study"]["seed"],
        source_index=view_source_index,
        code=code_version("bootstrap_classifiers.py"),
    script:
        "../scripts/bootstrap_classifiers.py"


rule sweep_complexity:
    input:
        features=f"{CLS_DIR}/features/{CLS['complexity']['kind']}.npz",
    output:
        predictions=f"{CLS_DIR}/complexity/b{{batch}}.npz",
    log:
        f"{LOGS}/sweep_complexity/b{{batch}}.log",
    benchmark:
        f"{BENCH}/sweep_complexity/b{{batch}}.tsv"
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=cls_mem_mb,
        runtime=bootstrap_runtime,
    params:
        settings=cls_settings("bootstrap", "complexity", "hyper", "views"),
        seed=config["study"]["seed"],
        source_index=int(CLS["complexity"]["kind"].startswith("section_")),
        code=code_version("sweep_complexity.py"),
    script:
        "../scripts/sweep_complexity.py"


rule decompose_errors:
    input:
        predictions=expand(
            rules.bootstrap_classifiers.output.predictions,
            kind=CLS_KINDS,
            features=CLS["features"],
            batch=CLS_BATCHES,
        ),
        sweep=expand(rules.sweep_complexity.output.predictions, batch=CLS_BATCHES),
    output:
        table=f"{CLS_DIR}/biasvar.csv",
        complexity=f"{CLS_DIR}/complexity.csv",
    log:
        f"{LOGS}/decompose_errors.log",
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        confidence=CLS["confidence"],
        code=code_version("decompose_errors.py"),
    script:
        "../scripts/decompose_errors.py"


rule plot_biasvar_vs_fraction:
    input:
        table=rules.decompose_errors.output.table,
    output:
        **figure_outputs(
            "biasvar_vs_fraction",
            caption="../report/biasvar_vs_fraction.rst",
            category="4. Partial-view classification",
            label="bias, variance and error vs visible fraction",
        ),
    log:
        f"{LOGS}/plot_biasvar_vs_fraction.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_biasvar_vs_fraction.py"),
    script:
        "../scripts/plot_biasvar_vs_fraction.py"


rule plot_class_errors:
    input:
        table=rules.decompose_errors.output.table,
    output:
        **figure_outputs(
            "class_errors",
            caption="../report/class_errors.rst",
            category="4. Partial-view classification",
            label="class-conditional error vs visible fraction",
        ),
    log:
        f"{LOGS}/plot_class_errors.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        features="physics" if "physics" in CLS["features"] else CLS["features"][0],
        code=code_version("plot_class_errors.py"),
    script:
        "../scripts/plot_class_errors.py"


rule plot_complexity_tradeoff:
    input:
        table=rules.decompose_errors.output.complexity,
    output:
        **figure_outputs(
            "complexity_tradeoff",
            caption="../report/complexity_tradeoff.rst",
            category="4. Partial-view classification",
            label="bias-variance trade-off vs model complexity",
        ),
    log:
        f"{LOGS}/plot_complexity_tradeoff.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_complexity_tradeoff.py"),
    script:
        "../scripts/plot_complexity_tradeoff.py"


TARGETS += [
    rules.label_snapshots.output.table,
    rules.decompose_errors.output.table,
    rules.plot_biasvar_vs_fraction.output.figure,
    rules.plot_class_errors.output.figure,
    rules.plot_complexity_tradeoff.output.figure,
]


rule summarise_classification:
    input:
        unpack(summary_label_tables),
        table=rules.decompose_errors.output.table,
    output:
        summary=report(
            f"{CLS_DIR}/summary.md",
            caption="../report/classification_summary.rst",
            category="4. Partial-view classification",
            labels={"figure": "summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_classification.log",
    conda:
        "../../envs/classification.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        label=CLS["label"],
        code=code_version("summarise_classification.py"),
    script:
        "../scripts/summarise_classification.py"


TARGETS += [rules.summarise_classification.output.summary]
