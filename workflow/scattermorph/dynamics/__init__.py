"""Stage: the blend's equation of motion learnt from its time series.

``series``: dense time series of Cahn-Hilliard-Cook runs and what degrades
them (measurement noise, coarser sampling, coarse-grained fields);
``library``: the candidate terms (conservative ``lap g_k(phi)`` terms, the
fourth-derivative and de Gennes gradient terms; the unconstrained strong-form
terms of the baseline); ``weak``: weak-form SINDy with Fourier-space test
functions; ``strong``: the strong-form SINDy baseline; ``regression``:
sequentially thresholded least squares and the block bootstrap over time;
``linear``: Cahn's linear theory from a series S(q, t) (growth rates, the Cahn
plot, the late-stage growth exponent); ``forecast``: the discovered equation
integrated from held-out initial conditions against the true runs and the
linear baselines; ``study``: the stage's recovery and forecast tables;
``summary``: its markdown page.
"""
