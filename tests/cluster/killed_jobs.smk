# A two-rule workflow whose first attempts SLURM kills, for tests/cluster:
# `hog` holds more memory than its first attempt declares (the job ends
# FAILED/OUT_OF_MEMORY), `dawdle` runs longer than its first attempt's time
# limit (TIMEOUT). Both declare attempt-scaled resources, as the study's rules
# do, so the retry succeeds. Outputs are written to a temporary file and
# renamed, as the study's scripts do, so a killed job leaves no partial output.
#
#   snakemake -s tests/cluster/killed_jobs.smk --workflow-profile profiles/slurm hog.txt


def hog_mem_mb(wildcards, attempt):
    """Attempt 1: 400 MB for a job whose Snakemake processes and script hold
    ~900 MB; attempt 2: 2000 MB."""
    return 400 if attempt == 1 else 2000


def dawdle_runtime(wildcards, attempt):
    """Attempt 1: 1 minute for a job that takes DAWDLE_SECONDS; then 5."""
    return 1 if attempt == 1 else 5


def dawdle_seconds(wildcards, attempt):
    """Work of the dawdle job: longer than its first time limit (1 min, which
    SLURM enforces within ~30 s after it passes) only on the first attempt,
    so the retry is quick."""
    return 150 if attempt == 1 else 1


rule all:
    input:
        "hog.txt",
        "dawdle.txt",


rule hog:
    output:
        "hog.txt",
    log:
        "logs/hog.log",
    threads: 1
    resources:
        mem_mb=hog_mem_mb,
        runtime=5,
    shell:
        "python3 -c \"import os, time; b = b'x' * (500 * 2**20); time.sleep(5); "
        "open('{output}.part', 'w').write('done'); os.replace('{output}.part', '{output}')\" "
        "2> {log}"


rule dawdle:
    output:
        "dawdle.txt",
    log:
        "logs/dawdle.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=dawdle_runtime,
        work_s=dawdle_seconds,
    shell:
        "(sleep {resources.work_s} && echo done > {output}.part && mv {output}.part {output}) 2> {log}"
