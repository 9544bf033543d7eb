"""scattermorph: Minkowski functionals of phase-separated blends from scattering.

Modules
-------
model
    Free energies (Flory-Huggins-de Gennes blend, phi^4 Landau).
solver
    Semi-implicit spectral and explicit finite-difference Cahn-Hilliard-Cook steppers.
simulate
    Runs a parameter set to snapshot files with metadata.
reference
    Reference structures with known answers (Boolean models, Gaussian random fields).
scattering
    Structure factor and radially averaged S(q).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scattermorph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
