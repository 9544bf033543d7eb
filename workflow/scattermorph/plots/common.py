"""Figures of the study. Plotting functions only read arrays and tables.

Every function returns a :class:`matplotlib.figure.Figure`; callers save it.
"""

from __future__ import annotations

import matplotlib

from scattermorph.errors import ParameterError

matplotlib.use("Agg")
import numpy as np  # noqa: E402

__all__ = [
    "plot_length_series",
    "functional_columns",
]

CMAP = "RdBu_r"


def _field_image(ax, field, dx):
    field = np.asarray(field)
    if field.ndim != 2:  # 3D fields: scattermorph.plots.structures (sections and isosurfaces)

        raise ParameterError(f"field of shape {field.shape}: the image panels draw 2D fields; "
                             "draw 3D fields with scattermorph.plots.structures")
    n, m = field.shape
    im = ax.imshow(
        field.T,
        origin="lower",
        cmap=CMAP,
        vmin=0.0,
        vmax=1.0,
        extent=(0, n * dx, 0, m * dx),
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def plot_length_series(ax, series):
    """Characteristic length against time of several runs, with a t^(1/3) guide.

    Parameters
    ----------
    ax : matplotlib Axes
    series : sequence of (label, t, L)
        Times (tau) and lengths (b) of each run.
    """
    tall = []
    for label, t, L in series:
        ax.loglog(t, L, "o-", ms=3, label=label)
        tall.append(np.asarray(t))
    if tall:
        # Lifshitz-Slyozov-Wagner guide L ~ t^(1/3), anchored at the late data
        t_all = np.concatenate(tall)
        t_late = np.geomspace(np.quantile(t_all, 0.5), t_all.max(), 20)
        l_ref = np.nanmedian([np.asarray(L)[-1] for _, _, L in series])
        ax.loglog(
            t_late, l_ref * (t_late / t_all.max()) ** (1 / 3), "k--", lw=1, label=r"$t^{1/3}$"
        )
    ax.set_xlabel(r"time $t / \tau$")
    ax.set_ylabel(r"characteristic length $L = 2\pi/\langle k \rangle$ ($b$)")
    ax.legend(fontsize=8, ncol=2)


# --------------------------------------------------------------------------
# scattering and Minkowski functionals (stage 2)
# --------------------------------------------------------------------------
_LABELS = {
    "area_density": r"area fraction $A/V$",
    "volume_density": r"volume fraction $V/V_{box}$",
    "perimeter_density": r"perimeter density $L/A$ ($b^{-1}$)",
    "surface_density": r"surface density $S/V$ ($b^{-1}$)",
    "mean_curvature_density": r"mean curvature density $M/V$ ($b^{-2}$)",
    "euler_density": r"Euler density $\chi/V$ ($b^{-d}$)",
    "L_first_moment": r"$L = 2\pi/\langle q\rangle$ ($b$)",
}


def functional_columns(ndim: int) -> list[str]:
    """Density columns of the Minkowski functionals in a dataset table."""
    if ndim == 2:
        return ["area_density", "perimeter_density", "euler_density"]
    return ["volume_density", "surface_density", "mean_curvature_density", "euler_density"]


