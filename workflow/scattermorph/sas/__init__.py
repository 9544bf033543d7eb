"""Small-angle scattering curves as facilities write them.

``curves``: readers (NXcanSAS, canSAS XML, text tables) and the checks a curve
must pass; ``resolution``: pinhole resolution smearing (dQ).
"""
