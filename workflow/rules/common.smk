# Helpers shared by the stage files (paths, the simulation table, resources).
# Rules call these named functions; no lambdas in rules.

import math

from snakemake.exceptions import WorkflowError

from scattermorph import seeds
from scattermorph.config import setting
from scattermorph.errors import ParameterError
from scattermorph.plan import plan
from scattermorph.provenance.codedeps import code_digest
from scattermorph.sim.free_energy import model_class
from scattermorph.sim.sweep import run_spec
from scattermorph.transfer.sets import transfer_settings

NAME = config["study"]["name"]
RESULTS = f"results/{NAME}"
LOGS = f"logs/{NAME}"
BENCH = f"benchmarks/results/{NAME}"

# Every stage's checks of the configuration before any job runs (the schema
# checks types and bounds; these check spinodal, step and box size per
# simulation, and the measurement and learning sections against the sweep).
try:
    PLAN = plan(config)
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

SIMS = PLAN.simulations
SIM_IDS = list(SIMS["sim_id"])
# Runs drawn from the inference prior (inference.calibration_runs): simulated
# and measured like the sweep's, kept out of the study's dataset, and used
# only to calibrate the inference (simulation-based calibration).
CAL_SIMS = PLAN.calibration
CAL_IDS = list(CAL_SIMS["sim_id"])


def code_version(script):
    """Digest of the code a job runs (scattermorph.provenance.codedeps.code_digest): the
    script (a file name in workflow/scripts) and every library file it
    imports, transitively. Each script-running rule passes it as the param
    `code`, because Snakemake reruns a job whose params changed: so an edit
    of a library module reruns the jobs that run it, and through their new
    outputs everything downstream, and no other job."""
    return code_digest(Path(workflow.basedir) / "workflow/scripts" / script)


def calibration_seed():
    """Seed of the calibration runs' instrument noise: their own stream's
    seed, so it never repeats the study dataset's draws."""
    return int(CAL_SIMS["seed"].iloc[0]) if CAL_IDS else config["study"]["seed"]


def canonical(section):
    """A config section with its keys sorted at every level. Snakemake detects
    changed params by their text, so key order must not depend on how the
    config file was written (a reordered YAML file must not rerun jobs)."""
    if isinstance(section, dict):
        return {k: canonical(section[k]) for k in sorted(section)}
    if isinstance(section, list):
        return [canonical(v) for v in section]
    return section


def learning_keys(*keys):
    """Only the given keys of config learning (canonical), as a job's params,
    so that its rerun trigger and audit record change with those keys only,
    not with every edit of the section (editing a target must not rerun the
    cross-validation)."""
    return canonical({k: config["learning"][k] for k in keys})


def sim_record(wildcards):
    """Parameter record of one simulation (a row of the simulation table, or
    of the calibration runs' table), as the row holds it."""
    table = CAL_SIMS if wildcards.sim_id in CAL_IDS else SIMS
    return run_spec(table, wildcards.sim_id).as_params()


def figure_outputs(name, caption, category, label):
    """Outputs of a figure rule: the PNG (a report item with its caption), a
    PDF copy, and the provenance sidecar of each (the record is also embedded
    in both files; scattermorph.plots.save.save_job_figure writes all four)."""
    png = f"{RESULTS}/figures/{name}.png"
    pdf = f"{RESULTS}/figures/{name}.pdf"
    return {
        "figure": report(
            png, caption=caption, category=category, labels={"figure": label}
        ),
        "provenance": f"{png}.prov.json",
        "pdf": pdf,
        "pdf_provenance": f"{pdf}.prov.json",
    }


def sim_files(wildcards=None):
    """Every simulation file of the study."""
    return expand(f"{RESULTS}/simulations/{{sim_id}}.npz", sim_id=SIM_IDS)


# Resources. Convention, for all rules of all stages -
# * `threads:` what the script really uses (1 unless it parallelises).
# * `resources: mem_mb=..., runtime=...` (MB, minutes) always through
#   job_mem_mb(need_mb, attempt) and job_runtime(minutes, attempt): `need` is
#   the script's own cost measured from benchmark: files (max_rss, s), as a
#   named function of (wildcards, attempt) when it scales with the config
#   (grid, dimension, snapshots, sample sizes; e.g. sim_mem_mb below), else a
#   small named function returning job_mem_mb(<measured MB>, attempt) (e.g.
#   small_runtime). No bare numbers: the helpers add what a cluster job runs
#   besides the script and scale with `attempt`, so a job that SLURM kills for
#   time or memory is retried (profiles/slurm: retries) with more.
# * `benchmark:` on every rule whose cost scales with the config;
#   benchmarks/check_resources.py compares benchmarks with these declarations.
# * batching: a cluster job should do minutes of work, not seconds (each
#   costs ~20 s of sbatch, queue and Snakemake start-up): one simulation with
#   all its snapshots, one bootstrap batch (batch size in config). Chains of
#   short jobs on one input go into one job through `groups:` in
#   profiles/slurm/config.yaml (simulate + measure per simulation); keep
#   group-components at 1 (grouped jobs run in series while SLURM holds CPUs
#   and memory for all of them at once: measured).

# A SLURM job runs two Snakemake processes besides the script (the jobstep
# Snakemake in the batch step and the one srun starts), ~230 MB each
# (measured: max RSS of `snakemake` running one job of the tiny study; SLURM
# killed the tiny simulations declared at 401 MB at 420-433 MB).
JOB_SNAKEMAKE_MB = 500
# The script's interpreter with numpy, scipy, numba, pyfftw, pandas imported
# (measured: 177 MB for the imports alone; 191-243 MB max_rss of the tiny
# simulation and measurement jobs).
JOB_PYTHON_MB = 350
# Start-up of a job (queueing aside): Snakemake builds the DAG again inside
# the job, numba compiles or loads its cache; no job is declared shorter.
JOB_MIN_MINUTES = 5
# Margin on measured costs: other jobs on a node, slower CPUs, noise.
JOB_MARGIN = 2.0


def job_mem_mb(need_mb, attempt=1):
    """mem_mb of a job whose script needs ``need_mb`` MB beyond the Python
    interpreter: interpreter, the job's Snakemake processes, a margin on the
    measured need; ``attempt`` times that on retry."""
    return int((JOB_SNAKEMAKE_MB + JOB_PYTHON_MB + JOB_MARGIN * need_mb) * attempt)


def job_runtime(minutes, attempt=1):
    """runtime (minutes) of a job measured at ``minutes``: a margin, at least
    JOB_MIN_MINUTES, ``attempt`` times that on retry."""
    return int(max(JOB_MIN_MINUTES, math.ceil(JOB_MARGIN * minutes)) * attempt)


def _cells():
    """Cells of one simulated field (grid^dimension)."""
    return config["simulation"]["grid"] ** config["study"]["dimension"]


def _snapshots():
    return config["simulation"]["time"]["n_snapshots"]


def sim_steps():
    """Time steps of the longest simulation of the sweep: SIM_STEPS_MEASURED
    of the config's stabiliser at its reference accuracy to t_max = 200 tau,
    nearly linear in t_max and in 1 / accuracy. The adaptive step follows the
    domain size, not the box or the dimension (48^3 and 64^2 runs of the same
    parameters: 13,483 and 15,234 steps)."""
    t = config["simulation"]["time"]
    steps, accuracy = SIM_STEPS_MEASURED[setting(config, "simulation", "stabilizer")]
    return steps * (accuracy / t["accuracy"]) * (t["t_max"] / 200.0)


# Steps to 200 tau of the stiffest run of config/paper.yaml (phi0 = 0.2, chi =
# 2 chi_s), per stabiliser, with the accuracy they were measured at. selective
# (the study's scheme): 12,640-12,822 steps in four 128^2 replicates with noise
# (section 5 of benchmarks/bench_simulation.py), rounded up. uniform (the
# earlier scheme): 273,509 steps measured on a 64^2 run by
# benchmarks/bench_job_cost.py. Every simulation job is declared at this bound.
# The cost of one de Gennes step: ~0.2 ms of Python per step plus 70-95 ns of
# CPU per cell in 2D and 3D, 128^2 to 128^3 (bench_job_cost.py).
SIM_STEPS_MEASURED = {"selective": (13000, 1.5), "uniform": (275000, 0.25)}
SIM_STEP_SECONDS = 2e-4
SIM_CELL_STEP_SECONDS = 90e-9
# Work space of the stepper: 108 B per cell measured at 128^3 (max RSS 403 MB
# less the interpreter), i.e. ~14 float64 fields.
SIM_BYTES_PER_CELL = 112


def sim_threads():
    """Threads of a simulation job: config simulation.threads (default 1).
    Snakemake lowers it to --cores; the SLURM executor plugin asks for
    --cpus-per-task = threads. Results do not depend on it (the stepper is
    bit-identical whatever its thread count)."""
    return int(setting(config, "simulation", "threads"))


def sim_mem_mb(wildcards, attempt):
    """Memory of one simulation job: the stepper's work space and the float32
    snapshot stack."""
    need = (SIM_BYTES_PER_CELL * _cells() + 4 * _cells() * _snapshots()) / 1e6
    return job_mem_mb(need, attempt)


def sim_runtime(wildcards, attempt):
    """Runtime (minutes) of one simulation job: steps x cost per step."""
    per_step = SIM_STEP_SECONDS + SIM_CELL_STEP_SECONDS * _cells()
    return job_runtime(sim_steps() * per_step / 60, attempt)


def measure_mem_mb(wildcards, attempt):
    """Memory of one measurement job: the float32 snapshot stack, and per
    snapshot a float64 copy, its half-complex spectrum (16 B per mode) and the
    binary image."""
    need = (4 * _cells() * _snapshots() + 40 * _cells()) / 1e6
    return job_mem_mb(need, attempt)


def measure_runtime(wildcards, attempt):
    """Runtime (minutes) of one measurement job: one FFT and one Minkowski
    pass per snapshot, MEASURE_CELL_SECONDS per cell and snapshot."""
    return job_runtime(MEASURE_CELL_SECONDS * _cells() * _snapshots() / 60, attempt)


# S(q) and Minkowski functionals of one snapshot, 1 thread: 35-100 ns per
# cell, 128^2 to 128^3 (benchmarks/bench_job_cost.py: 98 ms at 128^3).
MEASURE_CELL_SECONDS = 1e-7


def figure_mem_mb(wildcards, attempt):
    """Memory of a figure job that reads simulation files one at a time:
    matplotlib and one snapshot stack (float32) with a float64 copy of one
    snapshot."""
    need = 100 + (4 * _cells() * _snapshots() + 8 * _cells()) / 1e6
    return job_mem_mb(need, attempt)


def structure_figure_mem_mb(wildcards, attempt):
    """Memory of a figure job that draws structures (gallery, coarsening,
    motivating pair): as figure_mem_mb, plus in 3D matplotlib's 3D drawing
    (~150 MB) and ~50 MB per shaded isosurface (at most 60,000 triangles
    each, ~80 MB per 1e5 triangles: max RSS of 4-6 surfaces of 64^3 and 96^3
    fields, scattermorph.plots.structures); the gallery draws one per
    composition, the coarsening figure 5."""
    need = 100 + (4 * _cells() * _snapshots() + 8 * _cells()) / 1e6
    if config["study"]["dimension"] == 3:
        need += 150 + 50 * max(len(gallery_sims()), 5)
    return job_mem_mb(need, attempt)


def table_mem_mb(wildcards, attempt):
    """Memory of a job that gathers per-simulation tables and curves: pandas
    and a few float64 numbers per q bin and snapshot of every simulation."""
    rows = len(SIM_IDS) * _snapshots()
    need = 100 + rows * (64 + 4 * 8 * config["measurement"]["q"]["n_bins"]) / 1e6
    return job_mem_mb(need, attempt)


def small_runtime(wildcards, attempt):
    """Runtime (minutes) of the jobs that only gather tables or draw a figure."""
    return job_runtime(JOB_MIN_MINUTES / JOB_MARGIN, attempt)


def reference_mem_mb(wildcards, attempt):
    """Memory of the reference structures: a few float64 fields of the
    reference grid per structure, all realisations kept as booleans."""
    ref = config["reference"]
    cells = ref["grid"] ** config["study"]["dimension"]
    n = ref["realisations"] * (1 + len(ref["grf"]["thresholds"]))
    return job_mem_mb((10 * 8 * cells + n * cells) / 1e6, attempt)


def reference_runtime(wildcards, attempt):
    """Runtime (minutes) of the reference structures: a few FFTs and one
    Minkowski pass per structure, ~1 us per cell (measured)."""
    ref = config["reference"]
    cells = ref["grid"] ** config["study"]["dimension"]
    n = ref["realisations"] * (1 + len(ref["grf"]["thresholds"]))
    return job_runtime(1e-6 * cells * n / 60, attempt)


def gallery_sims():
    """One run per composition (first quench, replicate 0) for the gallery."""
    first = SIMS[(SIMS["replicate"] == 0)]
    if model_class(config["simulation"]["model"]).has_quench:
        first = first[first["quench"] == config["simulation"]["sweep"]["quench"][0]]
    return list(first["sim_id"])


def gallery_files(wildcards=None):
    return expand(f"{RESULTS}/simulations/{{sim_id}}.npz", sim_id=gallery_sims())


def coarsening_sims():
    """Runs shown in the coarsening figure: the most off-critical and the most
    symmetric composition of the gallery."""
    ids = gallery_sims()
    return ids if len(ids) <= 2 else [ids[0], ids[-1]]


def coarsening_files(wildcards=None):
    return expand(f"{RESULTS}/simulations/{{sim_id}}.npz", sim_id=coarsening_sims())


# Final outputs of the study, the targets of the all-rule. Each stage file
# appends its own outputs (TARGETS += [...]), so adding a stage touches only
# its own file and the Snakefile's include list.
TARGETS = []


def all_targets():
    """Final outputs of the study, the targets of the all-rule."""
    return list(TARGETS)


def _dataset_rows():
    nsims = len(SIM_IDS)
    return nsims * config["simulation"]["time"]["n_snapshots"]


def learning_mem_mb(wildcards, attempt):
    """Memory of one learning job: interpreter and scikit-learn (~500 MB)
    plus the GP's n x n kernel matrix and its gradient (one n x n x theta
    block, theta <= ~40 for ARD on 32 inputs; 130 for ARD on log S)."""
    n = _dataset_rows()
    need = 200 + 8 * n * n * 140 / 1e6  # scikit-learn's imports: ~200 MB
    return job_mem_mb(need, attempt)


def learning_runtime(wildcards, attempt):
    """Runtime (minutes) of one learning job. Measured on the default study
    (480 snapshots, 2 loaded cores): most GP cross-validation jobs take
    0.5-1.5 min, ARD on the 128 log S bins 18 min, the paper's protocol 15
    min; the exact GP costs ~n^3, so scale the slowest with (rows / 480)^3."""
    n = _dataset_rows()
    return job_runtime(18 * (n / 480) ** 3, attempt)


def cv_prediction_files(wildcards=None):
    """Out-of-fold predictions of every (input, model) pair of the learning stage."""
    lc = config["learning"]
    return expand(
        f"{RESULTS}/learning/cv/{{features}}/{{model}}_predictions.csv",
        features=lc["features"],
        model=lc["models"],
    )


# ---------------------------------------------------------------------------
# Gaussian-process stage (foundations.smk, emulator.smk): data path,
# seeds, the emulator design and resources.
# ---------------------------------------------------------------------------


def treloar_data():
    """The Treloar data file: absolute, or relative to the repository."""
    path = Path(config["foundations"]["data"])
    return str(path if path.is_absolute() else Path(workflow.basedir) / path)


def foundations_seed():
    """Integer seed of scikit-learn's optimiser restarts for this stage:
    SeedSequence([study.seed, 6, 100]) (scattermorph.seeds)."""
    ss = seeds.sequence(
        config["study"]["seed"], seeds.GAUSSIAN_PROCESS, seeds.FOUNDATIONS_RESTARTS
    )
    return int(ss.generate_state(1)[0] % 2**31)


from scattermorph.gp.emulator import check_emulator

try:
    EMU_DESIGN = check_emulator(config)
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

EMU_BATCHES = [f"{b:03d}" for b in sorted(EMU_DESIGN["batch"].unique())]


def emulator_batch_rows(wildcards):
    """Design rows (plain dicts) of one batch of emulator runs."""
    rows = EMU_DESIGN[EMU_DESIGN["batch"] == int(wildcards.emu_batch)]
    return rows[["design_index", "sim_id", "role", "phi0", "quench"]].to_dict("records")


def emulator_seed():
    """Integer seed of the emulators' optimiser restarts:
    SeedSequence([study.seed, 6, 101]) (scattermorph.seeds)."""
    ss = seeds.sequence(
        config["study"]["seed"], seeds.GAUSSIAN_PROCESS, seeds.EMULATOR_RESTARTS
    )
    return int(ss.generate_state(1)[0] % 2**31)


def _emu_run_minutes():
    """Minutes of one emulator run on a loaded 2-core machine: ~6 s for 64^2
    cells to 40 tau at the deepest quench (measured), scaling with cells and
    t_max."""
    emu = config["emulator"]
    cells = emu["grid"] ** config["study"]["dimension"]
    return 6.0 / 60 * (cells / 64**2) * (emu["time"]["t_max"] / 40.0)


def emulator_batch_runtime(wildcards, attempt):
    """Runtime (minutes) of one batch job: runs x per-run time, margin 3."""
    return job_runtime(config["emulator"]["batch_size"] * _emu_run_minutes(), attempt)


def adaptive_runtime(wildcards, attempt):
    """Runtime (minutes) of the sequential design: 2 n_add runs plus a GP fit
    per step, margin 3."""
    n = config["emulator"]["adaptive"]["n_add"]
    return job_runtime(2 * n * (_emu_run_minutes() + 0.1), attempt)


def emulator_mem_mb(wildcards, attempt):
    """Memory of an emulator job: interpreter and libraries (~500 MB) plus the
    fields of one run (as sim_mem_mb) and GP matrices of the design."""
    emu = config["emulator"]
    cells = emu["grid"] ** config["study"]["dimension"]
    n = (emu["n_train"] + emu["adaptive"]["n_add"]) * emu["time"]["n_snapshots"]
    need = 200 + (30 * 8 * cells + 4 * cells * emu["time"]["n_snapshots"]) / 1e6
    need += 3 * 8 * n * n / 1e6
    return job_mem_mb(need, attempt)


# --------------------------------------------------------------------------
# Helpers of the classification stage (workflow/rules/classification.smk):
# its config checks, the 3D structures of the section views, resources.

from scattermorph.classify.jobs import check_classification
from scattermorph.classify.sections import section_structures

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


def _is_volume(kind):
    return kind.startswith("subvolume_")


def view_settings(wildcards):
    """The classification keys of one view-feature job: the raw grid of its
    frame (raw_grid_3d for the 3D sub-volume views, raw_grid otherwise), so
    editing one does not rerun the views of the other."""
    grid = "raw_grid_3d" if _is_volume(wildcards.kind) else "raw_grid"
    return cls_settings("label", "views", "sections", grid, "radii", "test_fraction")


def view_source_index(wildcards):
    """0: the study's images, 1: the section structures (keys the seeds)."""
    return int(_is_section(wildcards))


def section_runtime(wildcards, attempt):
    """Minutes of one 3D structure: ~85 s per 48^3 run to 20 tau at phi0 = 0.3
    on the shared 2-core machine (measured), scaled by cells and t_max; x3
    margin for deeper off-critical quenches (stiffer, more steps)."""
    s = CLS["sections"]
    cost = 85 * (s["grid"] / 48) ** 3 * (s["t_max"] / 20) / 60
    return job_runtime(cost, attempt)


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
    """Minutes of one view-feature job: a few ms per 2D view (two FFTs of at
    most the image, a 2x2-window pass), 20 ms with margin. A 3D sub-volume
    view of a 64^3 snapshot (2x2x2-window pass, 3D FFTs) took 2-85 ms
    (window, f = 0.01-1, radii to 64 cells) and 13-32 ms (voxel subset)
    on the shared machine: 0.1 s with margin, scaled by the grid volume."""
    per = 0.02
    if _is_volume(wildcards.kind):
        per = 0.1 * (config["simulation"]["grid"] / 64) ** 3
    return job_runtime(per * _n_views(CLS_KINDS) / 60, attempt)


def bootstrap_runtime(wildcards, attempt):
    """Minutes of one bootstrap batch: about 1 s per (round, fraction,
    model) fit with ~1000 training rows (the MLP and forest dominate)."""
    fits = (
        CLS["bootstrap"]["batch"] * len(CLS["views"]["fractions"]) * len(CLS["models"])
    )
    return job_runtime(fits / 60, attempt)


def cls_mem_mb(wildcards, attempt):
    """Memory of a classification job: interpreter and scikit-learn (~500 MB)
    plus the feature matrix of every view (raw: 2 raw_grid^2 doubles, or
    2 raw_grid_3d^3 for a 3D sub-volume view) and, for a 3D study, a few
    float64 copies of one snapshot (the views' frames and transforms)."""
    cells = 2 * CLS["raw_grid"] ** 2
    snapshot = 0.0
    if any(_is_volume(k) for k in CLS_KINDS):
        cells = max(cells, 2 * CLS["raw_grid_3d"] ** 3)
        snapshot = 6 * 8 * (2 * config["simulation"]["grid"]) ** 3 / 1e6
    need = 200 + snapshot + _n_views(CLS_KINDS) * (cells + 64) * 8 / 1e6
    return job_mem_mb(need, attempt)


def emulator_fit_runtime(wildcards, attempt):
    """Runtime (minutes) of fitting the emulators or the 1D emulator: 39 s
    and 15 s measured on the default config (loaded 2-core machine); GP fits
    grow ~n^3 with the design, so scale with (training rows / 180)^3."""
    emu = config["emulator"]
    n = emu["n_train"] * emu["time"]["n_snapshots"]
    return job_runtime(1.0 * max(1.0, (n / 180) ** 3), attempt)


def summary_label_tables(wildcards):
    """Label tables the classification summary reads: the study's snapshots,
    and the 3D structures' sections when a section view is configured."""
    tables = {"labels_study": f"{CLS_DIR}/labels_study.csv"}
    if CLS_SECTIONS:
        tables["labels_sections"] = f"{CLS_DIR}/labels_sections.csv"
    return tables


# --------------------------------------------------------------------------
# Helpers of the inference stage (workflow/rules/inference.smk).


def inference_seed():
    """Integer seed of the inference stage's GPs:
    SeedSequence([study.seed, 17, 100]) (scattermorph.seeds)."""
    ss = seeds.sequence(config["study"]["seed"], seeds.CALIBRATION, seeds.INFERENCE_GP)
    return int(ss.generate_state(1)[0] % 2**31)


def _inference_rows():
    """(training, calibration) snapshots of the stage: every row of the
    study's dataset, and inference.calibration_runs runs of n_snapshots - 1
    snapshots (scattermorph.sim.sweep.calibration_table)."""
    n_cal = config["inference"]["calibration_runs"] * (
        config["simulation"]["time"]["n_snapshots"] - 1
    )
    return _dataset_rows(), n_cal


def inference_mem_mb(wildcards, attempt):
    """Memory of calibrate_inference: scikit-learn (~200 MB) plus, on the
    n_grid^3 posterior grid, the GP cross-covariances with the training rows
    (two float64 m x n_train blocks) and the likelihood's k x k covariances
    (four float64 m x 8 x 8 blocks, k <= 8 components). Measured max_rss on
    the default study (576 training rows, 40^3 grid): 845 MB."""
    m = config["inference"]["n_grid"] ** 3
    n_train, _ = _inference_rows()
    need = 200 + (2 * 8 * m * n_train + 4 * 8 * m * 64) / 1e6
    return job_mem_mb(need, attempt)


def inference_runtime(wildcards, attempt):
    """Runtime (minutes) of calibrate_inference, measured on the default study
    (2 loaded cores): fitting the emulators on 576 snapshots 13 s (GP fits
    ~n^3), the posteriors of 528 calibration snapshots on a 40^3 grid 55 s
    (linear in snapshots and grid cells); the whole job 86 s."""
    n_train, n_test = _inference_rows()
    fit = 13 / 60 * max(1.0, (n_train / 576) ** 3)
    grid = 55 / 60 * (n_test / 528) * (config["inference"]["n_grid"] / 40) ** 3
    return job_runtime(fit + grid, attempt)


# ---------------------------------------------------------------------------
# Dynamics stage (dynamics.smk): params and resources.
# ---------------------------------------------------------------------------


def dynamics_params():
    """The stage's config section (canonical) and the study seed."""
    return {"dynamics": canonical(config["dynamics"]), "seed": config["study"]["seed"]}


def dynamics_mem_mb(wildcards, attempt):
    """Memory of a dynamics job: a few float64 series of snapshots x grid^2
    cells (the 3D run: grid_3d^3) and their transforms per library term."""
    d = config["dynamics"]
    cells = max(d["grid"] ** 2, d["grid_3d"] ** 3)
    need = 150 + 12 * 8 * d["snapshots"] * cells / 1e6
    return job_mem_mb(need, attempt)


def dynamics_runtime(wildcards, attempt):
    """Runtime (minutes): measured ~40 s CPU for the recovery at the default
    (grid 64, 201 snapshots, 50 resamples) on the shared 2-core machine;
    scales with snapshots x cells."""
    d = config["dynamics"]
    scale = (
        d["snapshots"] / 201 * max(d["grid"] ** 2 / 64**2, d["grid_3d"] ** 3 / 24**3)
    )
    return job_runtime(1.0 * scale, attempt)


def ship_emulator_runtime(wildcards, attempt):
    """Runtime (minutes) of ship_emulator, measured on the default study: 2.2 min of
    CPU (the GP fits with their leave-one-run-out variance factors, 1000 reference
    posteriors on a 24^3 grid); 10 min wall on 2 cores shared with six other jobs."""
    return job_runtime(4, attempt)


# ---------------------------------------------------------------------------
# Transfer stage (transfer.smk): params and resources.
# ---------------------------------------------------------------------------


def transfer_params():
    """What a set job reads: the transfer and simulation sections (canonical) and the study seed."""
    return {
        "transfer": canonical(config["transfer"]),
        "simulation": canonical(config["simulation"]),
        "seed": config["study"]["seed"],
    }


def transfer_set_mem_mb(wildcards, attempt):
    """Memory of a set job: the snapshots of one run (float32) and a few float64
    fields and transforms of the largest grid (measured ~300 MB at 64^3)."""
    section = transfer_settings(config)
    grid = max(
        [section["grid"]]
        + [s.get("grid", section["grid"]) for s in section["sets"].values()]
    )
    return job_mem_mb(100 + 20 * 8 * grid**3 / 1e6, attempt)


def transfer_set_runtime(wildcards, attempt):
    """Runtime (minutes): the slowest default set (two forward-Euler 32^3 runs,
    ~9,500 steps in all) took 111 s on the 2-core machine under a load of 6-10;
    every other set 17-63 s."""
    return job_runtime(2, attempt)


def transfer_score_runtime(wildcards, attempt):
    """Runtime (minutes): the refit of the model's recipe on the training
    runs dominates (5-15 s for 288 rows on the loaded 2-core machine; ~n^3)."""
    return job_runtime(0.5 * max(1.0, (_dataset_rows() / 576) ** 3), attempt)
