"""The registry of named random streams (scattermorph.seeds): today's values,
so every number of the study stays what it was, and each module takes its
stream from the registry."""

import numpy as np

from scattermorph import seeds
from scattermorph.classify import classifiers
from scattermorph.gp import emulator
from scattermorph.learn import protocols


def test_stream_values_are_the_ones_the_stages_always_used():
    assert (seeds.LEARNING, seeds.CLASSIFICATION, seeds.GAUSSIAN_PROCESS, seeds.CALIBRATION) == (4, 5, 6, 17)
    assert (seeds.FOUNDATIONS_RESTARTS, seeds.EMULATOR_RESTARTS, seeds.INFERENCE_GP) == (100, 101, 100)
    assert (seeds.INSTRUMENT, seeds.REFERENCE) == (2**32 - 2, 2**32 - 1)
    # stage constants are distinct (sub-stream keys live under their stage)
    stages = [seeds.LEARNING, seeds.CLASSIFICATION, seeds.GAUSSIAN_PROCESS, seeds.CALIBRATION,
              seeds.INSTRUMENT, seeds.REFERENCE]
    assert len(set(stages)) == len(stages)


def test_modules_take_their_stream_from_the_registry():
    assert classifiers.STAGE == seeds.CLASSIFICATION
    assert protocols._STAGE == seeds.LEARNING
    assert emulator.STREAM == seeds.GAUSSIAN_PROCESS


def test_sequence_is_the_seed_sequence_of_its_words():
    a = seeds.sequence(np.int64(7), seeds.GAUSSIAN_PROCESS, 101)
    b = np.random.SeedSequence([7, 6, 101])
    assert a.entropy == b.entropy
    assert np.array_equal(a.generate_state(4), b.generate_state(4))


def test_simulation_generators_are_the_runs_streams():
    """SeedSequence([seed, sim_index]) spawns the initial field's and the
    noise's PCG64 generators, in that order."""
    init, noise = seeds.simulation_generators(np.int64(7), 3)
    children = np.random.SeedSequence([7, 3]).spawn(2)
    expect = [np.random.Generator(np.random.PCG64(s)) for s in children]
    assert np.array_equal(init.random(5), expect[0].random(5))
    assert np.array_equal(noise.random(5), expect[1].random(5))
