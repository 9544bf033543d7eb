# Helpers shared by the stage files (paths, the simulation table, resources).
# Rules call these named functions; no lambdas in rules.

from snakemake.exceptions import WorkflowError

from scattermorph.errors import ParameterError
from scattermorph.study import check_physics, record

NAME = config["study"]["name"]
RESULTS = f"results/{NAME}"
LOGS = f"logs/{NAME}"
BENCH = f"benchmarks/results/{NAME}"

# Physical checks of the whole sweep before any job runs (the schema checks
# types and bounds; this checks spinodal, step and box size per simulation).
try:
    SIMS = check_physics(config)
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

SIM_IDS = list(SIMS["sim_id"])


def canonical(section):
    """A config section with its keys sorted at every level. Snakemake detects
    changed params by their text, so key order must not depend on how the
    config file was written (a reordered YAML file must not rerun jobs)."""
    if isinstance(section, dict):
        return {k: canonical(section[k]) for k in sorted(section)}
    if isinstance(section, list):
        return [canonical(v) for v in section]
    return section


def sim_record(wildcards):
    """Parameter record of one simulation (a row of the simulation table)."""
    return record(SIMS, wildcards.sim_id)


def sim_files(wildcards=None):
    """Every simulation file of the study."""
    return expand(f"{RESULTS}/simulations/{{sim_id}}.npz", sim_id=SIM_IDS)


def _cells():
    return config["simulation"]["grid"] ** config["study"]["dimension"]


def sim_mem_mb(wildcards, attempt):
    """Memory of one simulation job: interpreter and libraries (~400 MB) plus
    about 30 float64 fields of work space and the float32 snapshot stack."""
    cells = _cells()
    nsnap = config["simulation"]["time"]["n_snapshots"]
    need = 400 + (30 * 8 * cells + 4 * cells * nsnap) / 1e6
    return int(need * attempt)


def sim_runtime(wildcards, attempt):
    """Runtime (minutes) of one simulation job: ~40 ns per cell per step for the
    de Gennes scheme on a 2-core machine (benchmarks/bench_simulation.py); the
    deepest quench of the default study needs ~60,000 steps to 200 tau at
    accuracy 0.25 (measured; fewer for shallower quenches), nearly linear in
    t_max and in 1 / accuracy; factor 2 margin."""
    t = config["simulation"]["time"]
    steps = 60000 * (0.25 / t["accuracy"]) * (t["t_max"] / 200.0)
    minutes = 2 * 40e-9 * _cells() * steps / 60
    return int(max(5, minutes) * attempt)


def measure_mem_mb(wildcards, attempt):
    """Memory of one measurement job: interpreter (~400 MB), the float32
    snapshot stack, and per snapshot a float64 copy, its half-complex spectrum
    (16 B per mode) and the binary image."""
    cells = _cells()
    nsnap = config["simulation"]["time"]["n_snapshots"]
    need = 400 + (4 * cells * nsnap + 40 * cells) / 1e6
    return int(need * attempt)


def measure_runtime(wildcards, attempt):
    """Runtime (minutes) of one measurement job: one FFT and one Minkowski
    pass per snapshot, ~0.1 us per cell, with a large margin."""
    nsnap = config["simulation"]["time"]["n_snapshots"]
    return int(max(5, 3 * 1e-7 * _cells() * nsnap * 20 / 60) * attempt)


def gallery_sims():
    """One run per composition (first quench, replicate 0) for the gallery."""
    first = SIMS[(SIMS["replicate"] == 0)]
    if config["simulation"]["model"] == "flory_huggins":
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
    need = 500 + 8 * n * n * 140 / 1e6
    return int(need * attempt)


def learning_runtime(wildcards, attempt):
    """Runtime (minutes) of one learning job. Measured on the default study
    (480 snapshots, 2 cores): a GP cross-validation job takes 1-4 min; the
    exact GP costs ~n^3, so scale with (rows / 480)^3, factor 3 margin."""
    n = _dataset_rows()
    return int(max(10, 3 * 4 * (n / 480) ** 3) * attempt)


def cv_prediction_files(wildcards=None):
    """Out-of-fold predictions of every (input, model) pair of the learning stage."""
    lc = config["learning"]
    return expand(
        f"{RESULTS}/learning/cv/{{features}}/{{model}}_predictions.csv",
        features=lc["features"],
        model=lc["models"],
    )
