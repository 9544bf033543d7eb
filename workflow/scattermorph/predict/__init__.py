"""Applying the learned models to curves: the fitted model (``model``), its
fitting and cross-validation (``fit``), its file and the shipped model
(``modelfile``), and models for curves with a resolution (``smearing``)."""
