"""Every stage's parse-time check of a configuration, before any job runs.

The schema (:func:`scattermorph.config.validate`) checks types and bounds
key by key; :func:`plan` checks what needs several keys or the physics:
the sweep (:func:`scattermorph.sim.sweep.check_runs`: spinodal, time steps,
box), the measurement section (:mod:`scattermorph.measure.checks`), the
learning section against the sweep (:mod:`scattermorph.learn.checks`) and
the calibration runs (:func:`scattermorph.sim.sweep.calibration_table`). The
workflow's ``common.smk`` calls it once and takes its tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from scattermorph.learn.checks import check_learning
from scattermorph.measure.checks import check_measurement
from scattermorph.sim.sweep import calibration_table, check_runs, simulation_table

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """What the workflow runs.

    Attributes
    ----------
    simulations : DataFrame
        The sweep's simulation table, one row per run
        (:func:`scattermorph.sim.sweep.simulation_table`).
    calibration : DataFrame
        The calibration runs drawn from the inference prior, same columns
        (:func:`scattermorph.sim.sweep.calibration_table`; empty without them).
    """

    simulations: pd.DataFrame
    calibration: pd.DataFrame


def plan(config: dict) -> Plan:
    """Check the configuration stage by stage; return the tables of runs.

    Parameters
    ----------
    config : dict
        The study's configuration (checked against the schema already).

    Raises
    ------
    ParameterError
        The first problem found, naming the config key, the value and the
        allowed range: in the order sweep table, measurement, learning,
        calibration runs, every run's physics.
    """
    simulations = simulation_table(config)
    check_measurement(config)
    check_learning(config, simulations)
    calibration = calibration_table(config)
    check_runs(config, simulations, calibration)
    return Plan(simulations=simulations, calibration=calibration)
