"""Where every output came from.

``records``: the provenance record of a job's outputs (rule, parameters, inputs
and library modules with their hashes), embedded in figures and written beside
them; ``job``: the context every rule script runs in (log, threads, record);
``codedeps``: the library files a rule script runs, whose digest reruns the
rule when they change; ``jobparams``: a rule's parameters evaluated as
Snakemake would, for the audit; ``readme``: the generated blocks that copy result pages into the
documentation. The audit itself is :mod:`scattermorph.audit`.
"""
