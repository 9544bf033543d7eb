"""Classifiers of partial views: models, training splits and the bootstrap.

Models (:func:`make_classifier`): scikit-learn pipelines with feature
scaling. Splits keep whole simulations on one side (:func:`simulation_split`),
bootstrap resamples whole simulations by default (:func:`bootstrap_rows`);
:func:`run_bootstrap` trains every model on every resample and predicts the
fixed test set. The stage's random streams (:func:`seed_for`,
:func:`rng_for`) are keyed so that results do not depend on how the work is
split into jobs.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from scattermorph import seeds
from scattermorph.errors import ParameterError

__all__ = [
    "MODELS",
    "STAGE",
    "seed_for",
    "rng_for",
    "simulation_split",
    "bootstrap_rows",
    "make_classifier",
    "fit_predict",
    "model_specs",
    "run_bootstrap",
]

#: Classifier names accepted by :func:`make_classifier`.
MODELS = ("logistic", "knn", "random_forest", "svm", "mlp")
#: Stage constant of the classification stage in every SeedSequence.
STAGE = seeds.CLASSIFICATION
#: Sub-stream constants of the stage's SeedSequences.
_VIEWS, _SPLIT, _BOOT, _MODEL, _SWEEP, _CHC3D, _GRF3D = range(1, 8)


def seed_for(seed, *keys) -> int:
    """An integer seed (for ``random_state``) from ``SeedSequence([seed, STAGE, *keys])``."""
    ss = np.random.SeedSequence([int(seed), STAGE, *[int(k) for k in keys]])
    return int(ss.generate_state(1)[0] % (2**31 - 1))


def rng_for(seed, *keys) -> np.random.Generator:
    """A generator from ``SeedSequence([seed, STAGE, *keys])``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STAGE, *[int(k) for k in keys]]))


# --------------------------------------------------------------------------
# splits and bootstrap
# --------------------------------------------------------------------------
def simulation_split(sim_ids, strata, test_fraction, rng):
    """Test simulations, drawn within each stratum (e.g. composition).

    In every stratum of ``n`` simulations, ``round(test_fraction * n)`` are
    drawn for the test set (at least 1 and at most ``n - 1`` when ``n >=
    2``; a stratum of one simulation stays in training). Stratifying by
    composition makes the test set span every morphology, so no class is
    missing from it by chance; no snapshot of a test simulation is trained
    on.

    Parameters
    ----------
    sim_ids : sequence of str
        Distinct simulation ids.
    strata : sequence
        Stratum of each simulation (same length).
    test_fraction : float
        In (0, 1).
    rng : numpy.random.Generator

    Returns
    -------
    set of str
        The test simulations.
    """
    sim_ids = list(sim_ids)
    strata = list(strata)
    if len(sim_ids) != len(strata) or len(set(sim_ids)) != len(sim_ids):
        raise ParameterError("simulation_split needs distinct sim_ids, one stratum each")
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction={test_fraction} must be in (0, 1)")
    test = set()
    for s in sorted(set(strata), key=str):
        ids = sorted(i for i, t in zip(sim_ids, strata) if t == s)
        if len(ids) < 2:
            continue
        k = min(max(1, int(round(test_fraction * len(ids)))), len(ids) - 1)
        test.update(ids[j] for j in rng.permutation(len(ids))[:k])
    if not test:
        raise ParameterError(
            "no stratum has two simulations, so none can be held out: add replicates"
        )
    return test


def bootstrap_rows(groups, unit, rng) -> np.ndarray:
    """Row indices of one bootstrap resample of a training set.

    ``unit="simulation"``: the cluster bootstrap (Davison & Hinkley 1997,
    sec. 3.8): as many simulations as there are, drawn with replacement,
    each contributing all its rows. Snapshots of one run are strongly
    correlated, so this is the resample that mimics drawing a new training
    set of runs. ``unit="snapshot"``: rows drawn with replacement (ignores
    that correlation, so it understates the variance).
    """
    groups = np.asarray(groups)
    if unit == "snapshot":
        return np.sort(rng.integers(0, groups.size, groups.size))
    if unit != "simulation":
        raise ParameterError(f"bootstrap unit={unit!r}: choose 'simulation' or 'snapshot'")
    uniq = np.unique(groups)
    pick = uniq[rng.integers(0, uniq.size, uniq.size)]
    return np.concatenate([np.flatnonzero(groups == g) for g in pick])


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def make_classifier(name, *, random_state=0, n_neighbors=15, max_depth=None):
    """A scikit-learn classifier (a Pipeline with standardisation).

    ``logistic``: L2 logistic regression, C = 1 (the low-variance linear
    model). ``knn``: ``n_neighbors`` nearest neighbours, uniform weights
    (variance falls as k grows). ``random_forest``: 100 trees of depth
    ``max_depth`` (None: grown fully). ``svm``: RBF support vector machine,
    C = 1, gamma = "scale", with Platt-sigmoid probabilities fitted by
    3-fold cross-validation (``CalibratedClassifierCV``, ``ensemble=False``:
    the replacement of ``SVC(probability=True)``). ``mlp``: one hidden
    layer of 32 ReLU units, L2 penalty 1e-3, Adam, at most 300 epochs.
    Trees need no scaling; every other model sees standardised features.
    """
    rs = int(random_state)
    if name == "logistic":
        est = LogisticRegression(C=1.0, max_iter=2000)
    elif name == "knn":
        est = KNeighborsClassifier(n_neighbors=int(n_neighbors))
    elif name == "random_forest":
        return RandomForestClassifier(
            n_estimators=100, max_depth=None if max_depth is None else int(max_depth),
            random_state=rs, n_jobs=1,
        )
    elif name == "svm":
        est = CalibratedClassifierCV(
            SVC(C=1.0, gamma="scale", random_state=rs), method="sigmoid",
            cv=StratifiedKFold(3, shuffle=True, random_state=rs), ensemble=False,
        )
    elif name == "mlp":
        est = MLPClassifier(
            hidden_layer_sizes=(32,), alpha=1e-3, max_iter=300, random_state=rs,
        )
    else:
        raise ParameterError(f"unknown classifier {name!r}: choose one of {MODELS}")
    return Pipeline([("scale", StandardScaler()), ("model", est)])


def fit_predict(model, X_train, y_train, X_test, n_classes=2):
    """Fit ``model`` and predict labels and class probabilities.

    A training set with a single class (possible in a bootstrap resample of
    few simulations) gives the constant prediction of that class with
    probability 1, as does any model that needs more members per class than
    the resample has (``n_neighbors`` > rows: k is lowered to the rows;
    the SVM's 3-fold calibration with fewer than 3 members of a class: hard
    SVM labels, probabilities 0/1). Convergence warnings are counted, not
    raised.

    Returns
    -------
    labels : (n_test,) ndarray of int
    proba : (n_test, n_classes) ndarray
    n_warnings : int
    """
    y_train = np.asarray(y_train, int)
    n_test = len(X_test)
    classes, counts = np.unique(y_train, return_counts=True)
    proba = np.zeros((n_test, n_classes))
    if classes.size == 1:
        proba[:, classes[0]] = 1.0
        return np.full(n_test, classes[0]), proba, 0
    model = clone(model)
    steps = getattr(model, "named_steps", {})
    last = steps.get("model", model)
    params = last.get_params()
    if "n_neighbors" in params and params["n_neighbors"] > len(y_train):
        last.set_params(n_neighbors=len(y_train))
    hard = "estimator" in params and counts.min() < 3  # calibrated SVM, too few per class
    if hard:
        model.set_params(model=last.estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_train, y_train)
        if hard:
            labels = model.predict(X_test).astype(int)
            proba[np.arange(n_test), labels] = 1.0
        else:
            p = model.predict_proba(X_test)
            proba[:, model.classes_.astype(int)] = p
            labels = np.argmax(proba, axis=1)
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return labels, proba, n_warn


# --------------------------------------------------------------------------
# the bootstrap of every model
# --------------------------------------------------------------------------
def model_specs(names, hyper):
    """(name, kwargs) of the configured classifiers, kwargs for
    :func:`make_classifier` from the config's ``hyper`` section."""
    out = []
    for n in names:
        kw = {}
        if n == "knn":
            kw = {"n_neighbors": int(hyper["knn_k"])}
        elif n == "random_forest":
            kw = {"n_estimators": int(hyper["forest_trees"])}
        elif n == "mlp":
            kw = {"hidden": int(hyper["mlp_hidden"]), "max_iter": int(hyper["mlp_max_iter"])}
        out.append((n, kw))
    return out


def run_bootstrap(X, y, groups, f_index, test, rounds, specs, *, seed, source_index, unit,
                  model_stream=None):
    """Train every model on bootstrap resamples and predict the fixed test set.

    Parameters
    ----------
    X : (n_rows, p) ndarray
        Features of every view (all fractions).
    y : (n_rows,) ndarray of int
    groups : (n_rows,) ndarray
        Simulation of every row (the bootstrap unit).
    f_index : (n_rows,) ndarray of int
        Fraction index of every row; models are trained and tested per
        fraction.
    test : (n_rows,) ndarray of bool
        Rows of the held-out simulations.
    rounds : sequence of int
        Bootstrap round numbers of this job. Round ``r`` resamples with
        ``SeedSequence([seed, STAGE, 3, source_index, r])`` (the same
        simulations for every fraction and model: common random numbers),
        and model ``m`` gets ``random_state = seed_for(seed, 4, m, r)`` (or
        ``seed_for(seed, *model_stream(m), r)``), so results do not depend on
        how rounds are batched into jobs.
    specs : list of (name, kwargs)
        Classifiers (:func:`make_classifier`).
    seed, source_index, unit
        See above and :func:`bootstrap_rows`.

    Returns
    -------
    pred : (M, F, R, n_test) ndarray of int8
    proba : (M, F, R, n_test, 2) ndarray of float32
    n_warnings : (M, F, R) ndarray of int
        Convergence warnings of each fit.
    """
    X = np.asarray(X, float)
    y = np.asarray(y, int)
    groups = np.asarray(groups)
    f_index = np.asarray(f_index)
    test = np.asarray(test, bool)
    fs = np.unique(f_index)
    n_test = int(np.sum(test & (f_index == fs[0])))
    shape = (len(specs), fs.size, len(rounds))
    pred = np.zeros(shape + (n_test,), np.int8)
    proba = np.zeros(shape + (n_test, 2), np.float32)
    warn = np.zeros(shape, int)
    for jf, f in enumerate(fs):
        tr = np.flatnonzero(~test & (f_index == f))
        te = np.flatnonzero(test & (f_index == f))
        if te.size != n_test:
            raise ParameterError("every fraction must have the same test rows")
        for jr, r in enumerate(rounds):
            rows = tr[bootstrap_rows(groups[tr], unit, rng_for(seed, _BOOT, source_index, r))]
            for m, (name, kw) in enumerate(specs):
                key = model_stream(m) if model_stream else (_MODEL, m)
                model = _build(name, kw, seed_for(seed, *key, r))
                lab, p, nw = fit_predict(model, X[rows], y[rows], X[te])
                pred[m, jf, jr] = lab
                proba[m, jf, jr] = p
                warn[m, jf, jr] = nw
    return pred, proba, warn


def _build(name, kw, random_state):
    kw = dict(kw)
    hidden = kw.pop("hidden", None)
    max_iter = kw.pop("max_iter", None)
    n_est = kw.pop("n_estimators", None)
    model = make_classifier(name, random_state=random_state, **kw)
    if name == "mlp" and hidden is not None:
        model.set_params(model__hidden_layer_sizes=(hidden,), model__max_iter=max_iter)
    if name == "random_forest" and n_est is not None:
        model.set_params(n_estimators=n_est)
    return model
