# Helpers of the Gaussian-process stage (issue 6: foundations.smk and
# emulator.smk): data path, seeds, the emulator design, resources. Kept in
# their own file so the rule files hold rules only.


def treloar_data():
    """The Treloar data file: absolute, or relative to the repository."""
    path = Path(config["foundations"]["data"])
    return str(path if path.is_absolute() else Path(workflow.basedir) / path)


def foundations_seed():
    """Integer seed of scikit-learn's optimiser restarts for this stage:
    SeedSequence([study.seed, 6, 100]) (6 = issue number)."""
    import numpy as np

    ss = np.random.SeedSequence([int(config["study"]["seed"]), 6, 100])
    return int(ss.generate_state(1)[0] % 2**31)


from scattermorph.emulator import check_emulator

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
    SeedSequence([study.seed, 6, 101]) (6 = issue number)."""
    import numpy as np

    ss = np.random.SeedSequence([int(config["study"]["seed"]), 6, 101])
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
    return int(
        max(5, 3 * config["emulator"]["batch_size"] * _emu_run_minutes()) * attempt
    )


def adaptive_runtime(wildcards, attempt):
    """Runtime (minutes) of the sequential design: 2 n_add runs plus a GP fit
    per step, margin 3."""
    n = config["emulator"]["adaptive"]["n_add"]
    return int(max(10, 3 * 2 * n * (_emu_run_minutes() + 0.1)) * attempt)


def emulator_mem_mb(wildcards, attempt):
    """Memory of an emulator job: interpreter and libraries (~500 MB) plus the
    fields of one run (as sim_mem_mb) and GP matrices of the design."""
    emu = config["emulator"]
    cells = emu["grid"] ** config["study"]["dimension"]
    n = (emu["n_train"] + emu["adaptive"]["n_add"]) * emu["time"]["n_snapshots"]
    need = 500 + (30 * 8 * cells + 4 * cells * emu["time"]["n_snapshots"]) / 1e6
    need += 3 * 8 * n * n / 1e6
    return int(need * attempt)
