"""Stage 2: what is measured on a structure.

``minkowski``: the four Minkowski functionals of a binary image (2D, 3D);
``scattering``: the structure factor S(q), its radial average and the
invariant and Porod estimates; ``reference``: structures with exact answers
(balls, Boolean models, Gaussian-random-field level cuts); ``snapshots``: every
snapshot of a simulation measured, and the study's dataset; ``images``: a
user's image or stack binarised and measured (``scattermorph characterise``);
``checks``: the measurement section of the config against the sweep;
``summary``: the dataset's summary page.
"""
