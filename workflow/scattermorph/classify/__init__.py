"""Stage 4: classifying a structure (droplets or network) from part of an image.

``labels``: droplet / co-continuous labels of the full structure;
``views``: partial views (sections, windows, sub-volumes) and what they show;
``features``: the features of a view and the dataset of views;
``classifiers``: the models, training splits, bootstrap and random streams;
``sections``: the 3D structures the section views are cut from; ``jobs``: the
stage as its rules call it (config checks, features, bootstrap batches, error
decomposition); ``biasvar``: bias/variance decompositions of the votes
(Domingos; Kohavi-Wolpert; Brier) and class-conditional errors; ``summary``:
the stage's summary page.
"""
