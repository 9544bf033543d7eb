"""Stage 4: classifying a structure (droplets or network) from part of an image.

``views``: partial views (sections, windows, sub-volumes) and what they show;
``classifiers``: labels of the full structure, view features, classifiers and
the bootstrap jobs; ``biasvar``: bias/variance decompositions of the votes
(Domingos; Kohavi-Wolpert; Brier) and class-conditional errors; ``summary``:
the stage's summary page.
"""
