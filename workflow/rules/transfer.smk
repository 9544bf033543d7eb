# Stage 8: cross-simulator transfer. The study's scale-free model (the shipped
# one for the default study) on structures it never trained on: runs of
# another free energy, scheme, N, noise, quench or stage of coarsening, and
# Gaussian-field level cuts and Boolean models (config transfer). One job per
# set makes and measures all its structures; one job scores every set against
# the same-simulator held-out runs and learns the discrepancy term
# leave-one-set-out (docs/transfer.md).

from scattermorph.transfer.sets import check_sets

try:
    TRANSFER_SETS = check_sets(config) if config["transfer"]["enabled"] else []
except ParameterError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None


rule make_transfer_set:
    output:
        set=f"{RESULTS}/transfer/sets/{{set}}.npz",
    log:
        f"{LOGS}/transfer/make_transfer_set/{{set}}.log",
    benchmark:
        f"{BENCH}/transfer/make_transfer_set/{{set}}.tsv"
    wildcard_constraints:
        set="[a-z0-9_]+",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=transfer_set_mem_mb,
        runtime=transfer_set_runtime,
    params:
        **transfer_params(),
        code=code_version("make_transfer_set.py"),
    script:
        "../scripts/make_transfer_set.py"


rule score_transfer:
    input:
        sets=expand(rules.make_transfer_set.output.set, set=TRANSFER_SETS),
        model=rules.train_user_model.output.model,
        table=rules.assemble_dataset.output.table,
        curves=rules.assemble_dataset.output.curves,
        split=rules.split_dataset.output.split,
    output:
        predictions=f"{RESULTS}/transfer/predictions.csv",
        scores=f"{RESULTS}/transfer/scores.csv",
        scores_in_domain=f"{RESULTS}/transfer/scores_in_domain.csv",
        loo=f"{RESULTS}/transfer/leave_one_set_out.csv",
        discrepancy=f"{RESULTS}/transfer/discrepancy.csv",
    log:
        f"{LOGS}/transfer/score_transfer.log",
    benchmark:
        f"{BENCH}/transfer/score_transfer.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=learning_mem_mb,
        runtime=transfer_score_runtime,
    params:
        target=config["transfer"]["target"],
        time_range=[
            config["simulation"]["time"]["t_min"],
            config["simulation"]["time"]["t_max"],
        ],
        code=code_version("score_transfer.py"),
    script:
        "../scripts/score_transfer.py"


rule plot_transfer:
    input:
        predictions=rules.score_transfer.output.predictions,
    output:
        **figure_outputs(
            "transfer",
            caption="../report/transfer.rst",
            category="8. Transfer",
            label="predicted vs true per set",
        ),
    log:
        f"{LOGS}/plot_transfer.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        dpi=config["figures"]["dpi"],
        code=code_version("plot_transfer.py"),
    script:
        "../scripts/plot_transfer.py"


rule summarise_transfer:
    input:
        scores=rules.score_transfer.output.scores,
        scores_in_domain=rules.score_transfer.output.scores_in_domain,
        loo=rules.score_transfer.output.loo,
        discrepancy=rules.score_transfer.output.discrepancy,
    output:
        summary=report(
            f"{RESULTS}/transfer/summary.md",
            caption="../report/transfer_summary.rst",
            category="8. Transfer",
            labels={"figure": "summary (numbers)"},
        ),
    log:
        f"{LOGS}/summarise_transfer.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb,
        runtime=small_runtime,
    params:
        target=config["transfer"]["target"],
        code=code_version("summarise_transfer.py"),
    script:
        "../scripts/summarise_transfer.py"


if config["transfer"]["enabled"]:
    TARGETS += [
        rules.plot_transfer.output.figure,
        rules.summarise_transfer.output.summary,
    ]
