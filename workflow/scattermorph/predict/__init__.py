"""Applying the learned models to curves: the fitted model (``model``), its
fitting and cross-validation (``fit``), its file and the shipped model
(``modelfile``), models for curves with a resolution (``smearing``), and
the model applied to a user's curve files (``apply``, ``scattermorph predict``)."""
