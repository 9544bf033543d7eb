"""Train/test splits that keep every snapshot of a simulation on one side (grouped, optionally stratified by sweep point), and the paper's random splits."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scattermorph.errors import ParameterError


# --------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------
def grouped_split(groups, test_fraction=0.2, rng=0, strata=None):
    """Train/test masks that never share a group (simulation).

    Groups are taken in a random order (from ``rng``) and added to the test
    set until the cumulative size first reaches ``test_fraction * n``; of the
    sets just before and just after that group, the one closer to the target
    is kept, so the test size is within one group's size of the target (only
    the requirement that both sides get at least one group can override this
    for extreme fractions).

    With ``strata`` (e.g. the sweep point (phi0, quench) of every sample) the
    split is stratified: each stratum of ``m`` groups sends ``floor(f m)`` of
    them, chosen at random, to the test set, and the remaining groups needed
    to reach ``round(f M)`` test groups of ``M`` come one each from strata
    with a fractional remainder (largest remainder first, random among
    ties). With two replicates per sweep point and f = 1/2, every point then
    has one run on each side: the test measures interpolation between the
    training runs, never extrapolation to a sweep point the model has not
    seen (an unstratified draw held out both runs of a corner point of the
    3D sweep, phi0 0.5 at quench 1.15, and scored the extrapolation).

    Parameters
    ----------
    groups : array_like, shape (n,)
        Group label of every sample (e.g. ``sim_id``); at least two groups.
    test_fraction : float
        Target fraction of samples in the test set, 0 < f < 1.
    rng : int or numpy.random.Generator
        Seed or generator; the same seed gives the same split.
    strata : array_like, shape (n,), optional
        Stratum of every sample, constant within a group.

    Returns
    -------
    train, test : ndarray of bool, shape (n,)
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise ParameterError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction}")
    uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if uniq.size < 2:
        raise ParameterError("grouped_split needs at least 2 distinct groups")
    if strata is not None:
        test_groups = _stratified_groups(inverse, uniq.size, np.asarray(strata), test_fraction, rng)
        test = np.isin(inverse, test_groups)
        return ~test, test
    order = np.random.default_rng(rng).permutation(uniq.size)
    cum = np.cumsum(sizes[order])
    target = test_fraction * groups.size
    k = int(np.searchsorted(cum, target))  # first position with cum >= target
    n_take = k + 1
    if k > 0 and abs(cum[k - 1] - target) <= abs(cum[k] - target):
        n_take = k
    n_take = min(max(n_take, 1), uniq.size - 1)
    test = np.isin(inverse, order[:n_take])
    return ~test, test


def _stratified_groups(inverse, n_groups, strata, test_fraction, rng) -> np.ndarray:
    """Indices of the test groups of a stratified grouped split (see
    :func:`grouped_split`)."""
    if strata.shape != inverse.shape:
        raise ParameterError(f"strata has shape {strata.shape}, expected {inverse.shape} like groups")
    first = np.zeros(n_groups, dtype=int)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]  # first sample of every group
    g_stratum = strata[first]
    if np.any(strata != g_stratum[inverse]):
        raise ParameterError("a group spans several strata: give one stratum per group")
    gen = np.random.default_rng(rng)
    labels, s_of_g = np.unique(g_stratum, return_inverse=True)
    target = min(max(int(round(test_fraction * n_groups)), 1), n_groups - 1)
    counts = np.bincount(s_of_g, minlength=labels.size)
    base = np.floor(test_fraction * counts).astype(int)
    rest = test_fraction * counts - base
    extra = target - base.sum()
    if extra > 0:
        tie = gen.random(labels.size)
        order = np.lexsort((tie, -rest))  # largest remainder first, random ties
        base[order[:extra]] += 1
    picked = []
    for k in range(labels.size):
        members = np.flatnonzero(s_of_g == k)
        picked.extend(gen.permutation(members)[: base[k]].tolist())
    return np.sort(np.asarray(picked, dtype=int))


def paper_splits(table, n_repeats=10, n_train=30, n_test=7, rng=0, sim_ids=None) -> Iterator:
    """Random train/test splits within one time series (Jones & Clarke 2021).

    Jones & Clarke, Soft Matter 17, 9689 (2021) trained and tested on the
    snapshots of a single simulation: a random ``n_train`` (30) of its
    snapshots for training and ``n_test`` (7) others for testing, repeated.
    Train and test snapshots come from the same coarsening run, so this
    measures interpolation in time, not generalisation to a new simulation
    (see :func:`grouped_split` for that).

    If a series has fewer than ``n_train + n_test`` snapshots, **all** of its
    snapshots are used, split in the same ratio: ``n_test' = max(1,
    round(n * n_test / (n_train + n_test)))`` and ``n_train' = n - n_test'``
    (20 snapshots give 16 train / 4 test).

    Parameters
    ----------
    table : pandas.DataFrame
        The dataset table; needs a ``sim_id`` column. Indices returned are
        positions (0 .. len(table)-1), usable on the feature matrix rows.
    n_repeats : int
        Random splits per series.
    n_train, n_test : int
        Sizes of the training and test sets.
    rng : int or numpy.random.Generator
        Seed or generator.
    sim_ids : sequence, optional
        Series to use (default: all, in sorted order).

    Yields
    ------
    (sim_id, train_idx, test_idx)
        Disjoint, sorted integer position arrays within that series.
    """
    if "sim_id" not in getattr(table, "columns", ()):
        raise ParameterError("paper_splits needs a table with a 'sim_id' column")
    if n_train < 1 or n_test < 1 or n_repeats < 1:
        raise ParameterError(f"n_train, n_test and n_repeats must be >= 1, got {n_train}, {n_test}, {n_repeats}")
    gen = np.random.default_rng(rng)
    sid = table["sim_id"].to_numpy()
    ids = np.unique(sid) if sim_ids is None else list(sim_ids)
    for s in ids:
        pos = np.flatnonzero(sid == s)
        n = pos.size
        if n < 2:
            raise ParameterError(f"series {s!r} has {n} snapshot(s): need at least 2 to split")
        if n >= n_train + n_test:
            ntr, nte = n_train, n_test
        else:
            nte = min(max(1, int(round(n * n_test / (n_train + n_test)))), n - 1)
            ntr = n - nte
        for _ in range(int(n_repeats)):
            perm = gen.permutation(pos)
            yield s, np.sort(perm[:ntr]), np.sort(perm[ntr:ntr + nte])


def grouped_labels(groups, rng=0):
    """Group labels replaced by a seeded random permutation of 0..G-1.

    GroupKFold assigns groups to folds deterministically (by size); relabelling
    the groups at random first makes the assignment random but reproducible
    from ``rng``. Returns an int array of the shape of ``groups``.
    """
    uniq, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return np.random.default_rng(rng).permutation(uniq.size)[inverse]
