"""Figures, one module per stage; figure rules only read tables and arrays.

``common``: labels, colours and shared panels; ``save``: PNG and PDF with
their provenance; ``morphology`` and ``structures`` (3D sections and
isosurfaces): structures and functionals; ``learning``, ``classification``,
``gp``, ``inference``, ``predict``: the figures of those stages.
"""
