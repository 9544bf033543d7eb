"""The four Minkowski functionals the study measures and learns, by column name."""

from __future__ import annotations

#: density columns of the functionals, by dimension (per unit area / volume)
FUNCTIONALS = {
    2: ["area_density", "perimeter_density", "euler_density"],
    3: ["volume_density", "surface_density", "mean_curvature_density", "euler_density"],
}
