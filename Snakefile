# scattermorph: can machine learning recover the Minkowski functionals of a
# phase-separated polymer blend from its scattering curve alone?
# Table of contents of the study; the rules live in workflow/rules/<stage>.smk.

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# The scattermorph library of this checkout (bin/study installs it editable).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from scattermorph.config import validate

# Schema check before any job: one line per problem, naming the key, the bad
# value, the allowed range and (for a misspelt key) the closest allowed name.
validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/measurement.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/learning.smk"
include: "workflow/rules/foundations.smk"
include: "workflow/rules/emulator.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/classification.smk"
include: "workflow/rules/dynamics.smk"
include: "workflow/rules/transfer.smk"


rule all:
    default_target: True
    input:
        all_targets(),
