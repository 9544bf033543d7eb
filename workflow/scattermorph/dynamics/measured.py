"""Cahn's linear theory from a folder of time-stamped measured curves.

A time-resolved scattering experiment after a quench gives one curve per
time, on one instrument set-up (the same q grid). :func:`read_time_series`
reads them (every format :func:`scattermorph.sas.curves.read_curve` reads),
their times from a table or from the file names; :func:`cahn_analysis` fits
the early growth rates, the Cahn plot and, for the late curves, the growth
exponent of the peak (:mod:`scattermorph.dynamics.linear`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from scattermorph.dynamics.linear import blend_parameters, cahn_plot, growth_exponent, growth_rates, joint_cahn_fit
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.measure.scattering import peak_position
from scattermorph.sas.curves import read_curve

__all__ = ["read_time_series", "stamped_files", "cahn_analysis", "time_from_name"]

_TIME = re.compile(r"(?:^|[_\-. ])t[=_]?(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)")
_SKIP = {".csv", ".json", ".png", ".pdf", ".md"}


def time_from_name(name: str) -> float | None:
    """The time a file name states as ``t<number>``, ``t=<number>`` or ``t_<number>``
    after a separator (``run_t12.5.dat`` -> 12.5), else None."""
    m = _TIME.search(Path(name).stem if Path(name).suffix else name)
    return float(m.group(1)) if m else None


def _times_table(path: Path) -> dict:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "time"} <= set(rows[0]):
        raise InputFileError(f"{path}: need a CSV table with columns 'file' and 'time'")
    try:
        return {r["file"]: float(r["time"]) for r in rows}
    except ValueError as exc:
        raise InputFileError(f"{path}: a time is not a number ({exc})") from None


def stamped_files(folder, *, times=None, minimum: int = 3) -> list[tuple[float, Path]]:
    """The curve files of ``folder`` with their times, in time order.

    Parameters
    ----------
    folder : path
        Folder of curve files (one curve each; tables, images and JSON are skipped).
    times : path, optional
        CSV table with columns ``file`` (the name in the folder) and ``time``;
        without it every file name must state its time (:func:`time_from_name`).
    minimum : int
        Fewest curves accepted.

    Returns
    -------
    list of (time, path)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: not a folder of curves")
    table = _times_table(Path(times)) if times is not None else None
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in _SKIP
                   and not p.name.startswith("."))
    if table is not None:
        files = [p for p in files if p.name in table]
    stamped = []
    for p in files:
        t = table[p.name] if table is not None else time_from_name(p.name)
        if t is None:
            raise InputFileError(f"{p}: the name states no time (e.g. run_t12.5.dat); give a table with --times")
        stamped.append((t, p))
    if len(stamped) < minimum:
        raise InputFileError(f"{folder}: {len(stamped)} time-stamped curves; need >= {minimum}")
    stamped.sort()
    if any(a[0] == b[0] for a, b in zip(stamped, stamped[1:])):
        raise InputFileError(f"{folder}: two curves have the same time")
    return stamped


def read_time_series(folder, *, times=None, q_unit=None, columns=None, entry=None):
    """The curves of ``folder`` in time order.

    Parameters
    ----------
    folder, times
        As :func:`stamped_files`.
    q_unit, columns, entry
        As :func:`scattermorph.sas.curves.read_curve`.

    Returns
    -------
    t : (T,) ndarray
        Times (the unit of the names or table).
    q : (Q,) ndarray
        The common q grid.
    intensity : (T, Q) ndarray
    q_unit : str
    """
    stamped = stamped_files(folder, times=times)
    curves = [read_curve(p, q_unit=q_unit, columns=columns, entry=entry) for _, p in stamped]
    q = curves[0].q
    for c in curves[1:]:
        if c.q.shape != q.shape or not np.allclose(c.q, q, rtol=1e-6):
            raise InputFileError(f"{c.source}: its q grid differs from {curves[0].source}'s; the growth rate "
                                 "needs every curve on the same grid (one instrument set-up)")
    t = np.array([s[0] for s in stamped])
    return t, q, np.array([c.intensity for c in curves]), curves[0].q_unit


def cahn_analysis(t, q, intensity, *, t_max=None, q_max=None, phi0=None, N=None, segment_length=None,
                  late_t_min=None, joint=False) -> dict:
    """Early growth rates, the Cahn plot and (optionally) the blend and the growth exponent.

    Parameters
    ----------
    t, q, intensity
        As :func:`read_time_series`.
    t_max : float, optional
        Last time of the linear regime (default: every curve).
    q_max : float, optional
        Fit the Cahn plot up to ``q_max`` (default: every q).
    phi0, N, segment_length : float, optional
        With all three (``segment_length`` ``b`` in the length unit of q):
        the de Gennes ``kappa0 = b^2 / (36 phi0 (1 - phi0))`` gives the
        mobility, ``f''(phi0)`` and ``chi / chi_s``.
    late_t_min : float, optional
        Fit ``q1 ~ t^-alpha`` to the curves from this time on.
    joint : bool
        Fit the line to every early curve at once with Cook's noise term
        (:func:`scattermorph.dynamics.linear.joint_cahn_fit`) instead of a line
        through per-q rates; ``rate`` is then the fitted line's.

    Returns
    -------
    dict
        ``rate``, ``rate_se`` (per q), ``intercept``, ``slope``, ``q_critical``,
        ``q_fastest`` and, when asked, ``blend`` and ``alpha``, ``alpha_se``, ``q1``.
    """
    rate, se = growth_rates(t, intensity, t_max=t_max)
    plot = cahn_plot(q, rate, q_max=q_max)
    if joint:
        plot, _ = joint_cahn_fit(t, q, intensity, t_max=t_max, q_max=q_max)
        rate, se = q ** 2 * (plot.intercept + plot.slope * q ** 2), np.full(q.size, np.nan)
    if not (plot.intercept > 0 and plot.slope < 0):
        raise ParameterError(
            f"the Cahn plot has intercept {plot.intercept:.3g} and slope {plot.slope:.3g}: spinodal growth "
            "needs intercept > 0 and slope < 0; shorten the early window (t_max) or the q range (q_max)"
        )
    out = {"rate": rate, "rate_se": se, "intercept": plot.intercept, "slope": plot.slope,
           "q_critical": plot.q_critical, "q_fastest": plot.q_critical / np.sqrt(2),
           "cov": plot.cov}
    given = [v is not None for v in (phi0, N, segment_length)]
    if any(given) and not all(given):
        raise ParameterError("give --phi0, --N and --segment-length together (the de Gennes kappa0 needs all)")
    if all(given):
        kappa0 = segment_length**2 / (36 * phi0 * (1 - phi0))
        out["blend"] = blend_parameters(plot, phi0=phi0, N=N, kappa0=kappa0)
    if late_t_min is not None:
        q1 = np.array([peak_position(q, s) for s in intensity])
        out["alpha"], out["alpha_se"] = growth_exponent(t, q1, t_min=late_t_min)
        out["q1"] = q1
    return out
