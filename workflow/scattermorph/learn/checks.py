"""Parse-time check of the learning section against the study's sweep.

Run by :func:`scattermorph.plan.plan` before any job.
"""

from __future__ import annotations

import pandas as pd

from scattermorph.errors import ParameterError

__all__ = ["check_learning"]


def check_learning(config: dict, table: pd.DataFrame) -> None:
    """The learning stage can split the sweep as configured (nothing without
    a ``learning`` section).

    Parameters
    ----------
    config : dict
        The study's configuration.
    table : DataFrame
        The sweep's simulation table (:func:`scattermorph.sim.sweep.simulation_table`:
        ``sim_id``, ``phi0``, ``quench``).

    Raises
    ------
    ParameterError
        For fewer than 4 simulations, a reversed feature range or coverage
        band, or an extrapolation split that leaves one side empty; naming the
        key, the value and the fix.
    """
    lc = config.get("learning")
    if lc is None:
        return
    sims = table.drop_duplicates("sim_id")
    n = len(sims)
    if n < 4:
        raise ParameterError(
            f"learning needs at least 4 simulations (2 to train, 2 to test by simulation), "
            f"the sweep has {n}: add compositions, quenches or replicates"
        )
    lo, hi = lc["feature_grid"]["x_range"]
    if not lo < hi:
        raise ParameterError(f"learning.feature_grid.x_range={[lo, hi]} must be [lo, hi] with lo < hi")
    c = lc["targets"]["coverage_95"]
    if not c[0] <= c[1]:
        raise ParameterError(f"learning.targets.coverage_95={c} must be [lo, hi] with lo <= hi")
    for key, column in [("phi0_split", "phi0"), ("quench_split", "quench")]:
        split = lc["extrapolation"][key]
        if split is None:
            continue
        below = int((sims[column] <= split).sum())
        if below == 0 or below == n:
            raise ParameterError(
                f"learning.extrapolation.{key}={split} leaves one side empty: the sweep's "
                f"{column} values are {sorted(set(sims[column]))}; choose a value between "
                "two of them, or null to skip"
            )
