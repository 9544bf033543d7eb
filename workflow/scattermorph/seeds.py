"""The study's named random streams, in one place.

Every random number of a study derives from ``study.seed`` through a
``numpy.random.SeedSequence`` whose entropy is ``[seed, stream, *keys]``:
the stream constant below separates the stages (and the stage's own
constants, its sub-streams, separate its tasks), so no two tasks draw the
same numbers, and every draw is a pure function of the configuration,
whatever the order or number of jobs. The values are those the stages have
always used (several are the number of the issue that added the stream), so
that every result stays identical; a new stream takes an unused value.

The simulations are the exception: a run's streams are
``SeedSequence([seed, sim_index])`` (:func:`simulation_generators`), with
``seed`` the run's own (the study seed for the sweep, a seed drawn from the
calibration, emulator or section-structure streams for their runs) and
``sim_index`` its position in its table.

========================  ============  =============================================
name                      value         drives
========================  ============  =============================================
LEARNING                  4             the learning stage's split, cross-validation,
                                        curves and test fits
                                        (scattermorph.learn.protocols.stage_seed)
CLASSIFICATION            5             views, splits, bootstrap rounds, classifiers
                                        and the section structures' seeds
                                        (scattermorph.classify.classifiers)
GAUSSIAN_PROCESS          6             the emulator's designs, its runs' seed, the
                                        1D Cahn-Hilliard run (scattermorph.gp.emulator)
                                        and, with FOUNDATIONS_RESTARTS and
                                        EMULATOR_RESTARTS, the optimiser restarts
                                        of the foundations and emulator rules
CALIBRATION               17            the calibration runs drawn from the prior
                                        (scattermorph.sim.sweep.calibration_table)
                                        and, with INFERENCE_GP, the inference
                                        stage's GPs; with 101, the reference draws
                                        of infer's fit check
                                        (scattermorph.infer.checks.reference_seed)
DYNAMICS                  26            the dynamics stage's series, held-out runs,
                                        noise and bootstrap (scattermorph.dynamics.study)
INSTRUMENT                2**32 - 2     the simulated instrument's counting noise
                                        (scattermorph.measure.snapshots)
REFERENCE                 2**32 - 1     the reference structures with known
                                        functionals (scattermorph.measure.reference)
========================  ============  =============================================
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LEARNING",
    "CLASSIFICATION",
    "GAUSSIAN_PROCESS",
    "FOUNDATIONS_RESTARTS",
    "EMULATOR_RESTARTS",
    "CALIBRATION",
    "INFERENCE_GP",
    "DYNAMICS",
    "TRANSFER",
    "INSTRUMENT",
    "REFERENCE",
    "sequence",
    "simulation_generators",
]

#: the learning stage: ``SeedSequence([seed, LEARNING, *keys])``
LEARNING = 4
#: the classification stage: ``SeedSequence([seed, CLASSIFICATION, *keys])``
CLASSIFICATION = 5
#: the Gaussian-process stage (emulator, 1D tutorial run, foundations):
#: ``SeedSequence([seed, GAUSSIAN_PROCESS, k])``
GAUSSIAN_PROCESS = 6
#: sub-stream key of the foundations rules' optimiser restarts (under GAUSSIAN_PROCESS)
FOUNDATIONS_RESTARTS = 100
#: sub-stream key of the emulator rules' optimiser restarts (under GAUSSIAN_PROCESS)
EMULATOR_RESTARTS = 101
#: the calibration runs of the inference stage: ``SeedSequence([seed, CALIBRATION])``
CALIBRATION = 17
#: sub-stream key of the inference stage's GPs (under CALIBRATION)
INFERENCE_GP = 100
#: the dynamics stage: ``SeedSequence([seed, DYNAMICS, *keys])``
DYNAMICS = 26
#: the cross-simulator test sets: ``SeedSequence([seed, TRANSFER, crc32(set name)])``
TRANSFER = 31
#: the instrument's counting noise on the stored curves: ``SeedSequence([seed, INSTRUMENT])``
INSTRUMENT = 2**32 - 2
#: the reference structures: ``SeedSequence([seed, REFERENCE])``
REFERENCE = 2**32 - 1


def sequence(seed: int, stream: int, *keys: int) -> np.random.SeedSequence:
    """``SeedSequence([seed, stream, *keys])``: one task's stream of a named stream.

    Parameters
    ----------
    seed : int
        The study seed (``study.seed``), or a seed derived from it.
    stream : int
        One of the stream constants of this module.
    *keys : int
        Sub-stream keys (small non-negative integers) naming the task.
    """
    return np.random.SeedSequence([int(seed), int(stream), *(int(k) for k in keys)])


def simulation_generators(seed: int, sim_index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The two generators of one simulation: initial field and Cook noise.

    ``SeedSequence([seed, sim_index])`` spawns two children, each the seed of
    a PCG64 generator: one independent stream per simulation (``seed`` and
    ``sim_index`` from the run's record).

    Returns
    -------
    (numpy.random.Generator, numpy.random.Generator)
        The initial condition's and the noise's.
    """
    ss = np.random.SeedSequence([int(seed), int(sim_index)])
    rng_init, rng_noise = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(2))
    return rng_init, rng_noise
