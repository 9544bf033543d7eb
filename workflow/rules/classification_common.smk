# Helpers of the classification stage (workflow/rules/classification.smk):
# its config checks, the 3D structures of the section views, resources.

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
CLS_BATCHES = list(range(-(-CLS["bootstrap"]["rounds"] // CLS["bootstrap"]["batch"])))


def cls_settings(*keys):
    """The classification config keys a rule uses (so editing another key,
    e.g. the confidence level, does not rerun it)."""
    return canonical({k: CLS[k] for k in keys})


def section_record(wildcards):
    """Parameter record of one 3D structure of the section views."""
    row = SECTION_TABLE.loc[SECTION_TABLE["struct_id"] == wildcards.struct_id]
    rec = row.iloc[0].to_dict()
    return {
        k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in rec.items()
    }


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
    return (
        section_level()
        if _is_section(wildcards)
        else config["measurement"]["threshold"]
    )


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
        len(section_files())
        * CLS["sections"]["n_snapshots"]
        * CLS["sections"]["per_snapshot"]
    )
    return len(CLS["views"]["fractions"]) * max(n_study, n_sec)


def features_runtime(wildcards, attempt):
    """Minutes of one view-feature job: a few ms per view (two FFTs of at
    most the image, a 2x2-window pass), 20 ms with margin."""
    return int(max(5, 0.02 * _n_views(CLS_KINDS) / 60) * attempt)


def bootstrap_runtime(wildcards, attempt):
    """Minutes of one bootstrap batch: about 1 s per (round, fraction,
    model) fit with ~1000 training rows (the MLP and forest dominate)."""
    fits = (
        CLS["bootstrap"]["batch"] * len(CLS["views"]["fractions"]) * len(CLS["models"])
    )
    return int(max(5, 2 * fits / 60) * attempt)


def cls_mem_mb(wildcards, attempt):
    """Memory of a classification job: interpreter and scikit-learn (~500 MB)
    plus the feature matrix of every view (raw: 2 raw_grid^2 doubles)."""
    need = 500 + _n_views(CLS_KINDS) * (2 * CLS["raw_grid"] ** 2 + 64) * 8 / 1e6
    return int(need * attempt)
