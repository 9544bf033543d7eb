"""Parse-time check of the measurement section: what the schema cannot express.

Run by :func:`scattermorph.plan.plan` before any job.
"""

from __future__ import annotations

from scattermorph.errors import ParameterError

__all__ = ["check_measurement"]


def check_measurement(config: dict) -> None:
    """Cross-key checks of ``config["measurement"]`` (nothing without that section).

    The connectivity must be one of the study's dimension, the q grid and the
    Porod window increasing with the window inside the grid, and the
    instrument's q window increasing.

    Raises
    ------
    ParameterError
        Naming the key, the value and the allowed range.
    """
    m = config.get("measurement")
    if m is None:
        return
    dim = int(config["study"]["dimension"])
    allowed = {2: (4, 8), 3: (6, 26)}[dim]
    if m["connectivity"] is not None and m["connectivity"] not in allowed:
        raise ParameterError(
            f"measurement.connectivity={m['connectivity']} is not a {dim}D connectivity: "
            f"choose one of {allowed} or null"
        )
    if not m["q"]["max"] > m["q"]["min"]:
        raise ParameterError(
            f"measurement.q.max={m['q']['max']} must exceed measurement.q.min={m['q']['min']}"
        )
    lo, hi = m["porod"]["q_min"], m["porod"]["q_max"]
    if not (m["q"]["min"] <= lo < hi <= m["q"]["max"]):
        raise ParameterError(
            f"measurement.porod window [{lo}, {hi}] must be increasing and inside the "
            f"q grid [{m['q']['min']}, {m['q']['max']}]"
        )
    w = m["instrument"]["q_window"]
    if not w[0] < w[1]:
        raise ParameterError(f"measurement.instrument.q_window={w} must be [lo, hi] with lo < hi")
