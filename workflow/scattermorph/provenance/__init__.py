"""Where every output came from.

``records``: the provenance record of a job's outputs (rule, parameters, inputs
and library modules with their hashes), embedded in figures and written beside
them; ``jobparams``: a rule's parameters evaluated as Snakemake would, for the
audit; ``readme``: the generated blocks that copy result pages into the
documentation. The audit itself is :mod:`scattermorph.audit`.
"""
