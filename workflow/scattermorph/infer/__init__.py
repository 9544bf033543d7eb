"""Inferring the blend's physics (phi0, chi/chi_s, t/tau) from a curve.

``posterior``: the PCA-GP emulator of the scale-free features, the exact grid
posterior and its summaries, calibration statistics (`scattermorph infer`);
``checks``: the posterior predictive check and the edge-of-prior warning
of every answer; ``emulatorfile``: the emulator as a checksummed file (the
shipped ``models/emulator.npz``, ``infer --about``); ``grid``: the
parameters and the grid the posteriors live on;
``stage``: the study's inference stage (emulator validation, simulation-based
calibration on runs drawn from the prior, identifiability, an example);
``summary``: its summary page.
"""
