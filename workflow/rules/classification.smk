# Stage 4 (issue 5): classifiers that see only part of an image. Labels of the
# full structures; random partial views and their features (one job per view
# kind); bootstrap training fanned out as one job per (view kind, feature set,
# batch of rounds); the decompositions; figures.

from scattermorph.classify import check_classification, section_structures

CLS = config["classification"]
CLS_DIR = f"{RESULTS}/classification"
CLS_KINDS = list(CLS["views"]["kinds"])
CLS_SECTIONS = any(k.startswith("section_") for k in CLS_KINDS)

try:
    check_classification(config)
    SECTION_TABLE = section_structures(config) if CLS_SECTIONS else None
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

SECTION_IDS = (
    list(SECTION_TABLE["struct_id"])
    if CLS_SECTIONS and CLS["sections"]["source"] != "study"
    else []
)
CLS_BATCHES = list(
    range(-(-CLS["bootstrap"]["rounds"] // CLS["bootstrap"]["batch"]))
)


def cls_settings(*keys):
    """The classification config keys a rule uses (so editing another key,
    e.g. the confidence level, does not rerun it)."""
    return canonical({k: CLS[k] for k in keys})


def section_record(wildcards):
    """Parameter record of one 3D structure of the section views."""
    row = SECTION_TABLE.loc[SECTION_TABLE["struct_id"] == wildcards.struct_id]
    rec = row.iloc[0].to_dict()
    return {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in rec.items()}


def section_files(wildcards=None):
    """The 3D structures seen through sections."""
    if CLS["sections"]["source"] == "study":
        return sim_files()
    return expand(f"{CLS_DIR}/structures3d/{{struct_id}}.npz", struct_id=SECTION_IDS)


def section_level():
    """Binarisation level of the 3D structures: a Gaussian-field structure
    is stored as f - u (the phase is > 0); simulations use the study's rule."""
    if CLS["sections"]["source"] == "grf":
        return 0.0
    return config["measurement"]["threshold"]


def _is_section(wildcards):
    return wildcards.kind.startswith("section_")


def view_labels(wildcards):
    if _is_section(wildcards):
        return f"{CLS_DIR}/labels_sections.csv"
    return f"{CLS_DIR}/labels_study.csv"


def view_images(wildcards):
    return section_files() if _is_section(wildcards) else sim_files()


def view_level(wildcards):
    return section_level() if _is_section(wildcards) else config["measurement"]["threshold"]


def view_source_index(wildcards):
    """0: the study's images, 1: the section structures (keys the seeds)."""
    return int(_is_section(wildcards))


def section_runtime(wildcards, attempt):
    """Minutes of one 3D structure: ~85 s per 48^3 run to 20 tau at phi0 = 0.3
    on the shared 2-core machine (measured), scaled by cells and t_max; x3
    margin for deeper off-critical quenches (stiffer, more steps)."""
    s = CLS["sections"]
    cost = 85 * (s["grid"] / 48) ** 3 * (s["t_max"] / 20) / 60
    return int(max(5, 3 * cost) * attempt)


def _n_views(kinds):
    per = CLS["views"]["per_snapshot"]
    n_study = len(SIM_IDS) * config["simulation"]["time"]["n_snapshots"] * per
    n_sec = (
        len(section_files()) * CLS["sections"]["n_snapshots"] * CLS["sections"]["per_snapshot"]
    )
    return len(CLS["views"]["fractions"]) * max(n_study, n_sec)


def features_runtime(wildcards, attempt):
    """Minutes of one view-feature job: a few ms per view (two FFTs of at
    most the image, a 2x2-window pass), 20 ms with margin."""
    return int(max(5, 0.02 * _n_views(CLS_KINDS) / 60) * attempt)


def bootstrap_runtime(wildcards, attempt):
    """Minutes of one bootstrap batch: about 1 s per (round, fraction,
    model) fit with ~1000 training rows (the MLP and forest dominate)."""
    fits = CLS["bootstrap"]["batch"] * len(CLS["views"]["fractions"]) * len(CLS["models"])
    return int(max(5, 2 * fits / 60) * attempt)


def cls_mem_mb(wildcards, attempt):
    """Memory of a classification job: interpreter and scikit-learn (~500 MB)
    plus the feature matrix of every view (raw: 2 raw_grid^2 doubles)."""
    need = 500 + _n_views(CLS_KINDS) * (2 * CLS["raw_grid"] ** 2 + 64) * 8 / 1e6
    return int(need * attempt)


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
        mem_mb=2000,
        runtime=10,
    params:
        level=config["measurement"]["threshold"],
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
        mem_mb=2000,
        runtime=section_runtime,
    params:
        record=section_record,
        sections=canonical(CLS["sections"]),
        seed=config["study"]["seed"],
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
        mem_mb=2000,
        runtime=10,
    params:
        level=section_level(),
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
        settings=cls_settings(
            "label", "views", "sections", "raw_grid", "radii", "test_fraction"
        ),
        seed=config["study"]["seed"],
        level=view_level,
        connectivity=config["measurement"]["connectivity"],
        source_index=view_source_index,
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
        mem_mb=2000,
        runtime=10,
    params:
        confidence=CLS["confidence"],
    script:
        "../scripts/decompose_errors.py"


rule plot_biasvar_vs_fraction:
    input:
        table=rules.decompose_errors.output.table,
    output:
        figure=report(
            f"{RESULTS}/figures/biasvar_vs_fraction.png",
            caption="../report/biasvar_vs_fraction.rst",
            category="4. Partial-view classification",
            labels={"figure": "bias, variance and error vs visible fraction"},
        ),
        provenance=f"{RESULTS}/figures/biasvar_vs_fraction.png.prov.json",
    log:
        f"{LOGS}/plot_biasvar_vs_fraction.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/plot_biasvar_vs_fraction.py"


rule plot_class_errors:
    input:
        table=rules.decompose_errors.output.table,
    output:
        figure=report(
            f"{RESULTS}/figures/class_errors.png",
            caption="../report/class_errors.rst",
            category="4. Partial-view classification",
            labels={"figure": "class-conditional error vs visible fraction"},
        ),
        provenance=f"{RESULTS}/figures/class_errors.png.prov.json",
    log:
        f"{LOGS}/plot_class_errors.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dpi=config["figures"]["dpi"],
        features="physics" if "physics" in CLS["features"] else CLS["features"][0],
    script:
        "../scripts/plot_class_errors.py"


rule plot_complexity_tradeoff:
    input:
        table=rules.decompose_errors.output.complexity,
    output:
        figure=report(
            f"{RESULTS}/figures/complexity_tradeoff.png",
            caption="../report/complexity_tradeoff.rst",
            category="4. Partial-view classification",
            labels={"figure": "bias-variance trade-off vs model complexity"},
        ),
        provenance=f"{RESULTS}/figures/complexity_tradeoff.png.prov.json",
    log:
        f"{LOGS}/plot_complexity_tradeoff.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/plot_complexity_tradeoff.py"


TARGETS += [
    rules.label_snapshots.output.table,
    rules.decompose_errors.output.table,
    rules.plot_biasvar_vs_fraction.output.figure,
    rules.plot_class_errors.output.figure,
    rules.plot_complexity_tradeoff.output.figure,
]
