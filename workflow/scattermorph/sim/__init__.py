"""Stage 1: Cahn-Hilliard-Cook simulations of a binary polymer blend.

``free_energy``: the Flory-Huggins-de Gennes and Landau free energies and their
linear theory; ``steppers``: the semi-implicit spectral and explicit Euler
schemes; ``control``: their step control and the driver that records
snapshots; ``noise``: the counter-based Cook noise; ``parallel``: the thread
pool of the pointwise passes; ``spec``: the typed, checked record of one run;
``run``: one simulation with its snapshots and file; ``sweep``: the study's
table of runs and its checks.
"""
