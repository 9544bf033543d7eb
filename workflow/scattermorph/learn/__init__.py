"""Stage 3: learning the Minkowski functionals from S(q).

``features``: log S(q) and scale-free inputs, windowing of a curve on q/q1,
scale-free targets; ``estimators``: the Gaussian processes (four kernels) and
baselines; ``splits``: grouped and stratified train/test splits; ``metrics``:
R^2, errors, interval coverage and its binomial band; ``protocols``: the
study's cross-validation, held-out test, learning curves, extrapolation,
robustness and the paper's protocol; ``checks``: the learning section of the
config against the sweep; ``summary``: the stage's summary page.
"""
