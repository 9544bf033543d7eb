"""Small-angle scattering curves as facilities write them.

``curves``: readers (NXcanSAS, canSAS XML, text tables) and the checks a curve
must pass; ``resolution``: pinhole resolution smearing (dQ); ``applicability``:
whether a curve can come from a phase-separated blend like the study's;
``measured``: ideal curves made to look measured (window, dQ, background, noise).
"""
