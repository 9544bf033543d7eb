"""Classify microstructures from a partial view: labels, features, models.

Labels (:func:`structure_labels`) come from the **full** structure, binarised
by the measurement stage's rule (``measurement.threshold``):

* primary, *percolation*: label 1 ("co-continuous") if the **minority**
  phase (the one with the smaller area / volume fraction) has a cluster that
  wraps around the periodic box along at least one axis, else 0
  ("droplets"). Both phases then span the sample, which is what
  co-continuous means; the majority phase always spans it. Clusters are
  face-connected (4 in 2D, 6 in 3D): two pixels touching only at a corner are
  not one domain, because a corner contact is thinner than the diffuse
  interface (2-3 cells) and is a digitisation artefact. A wrapping cluster is
  found by labelling the clusters of the unwrapped box
  (:func:`scipy.ndimage.label`), joining clusters across each face of the box
  and following the box shifts along the joins: a cluster wraps when one of
  its pixels is reached with two different shifts (:func:`wrapping_axes`).
* secondary, *Euler*: label 1 if the Euler characteristic of the minority
  phase (same connectivity, periodic box) is <= 0, else 0. Droplets are many
  simply connected components (chi > 0); a connected network has more holes
  (or handles, in 3D) than components (chi <= 0). Cheap but indirect: a few
  isolated droplets beside a network can make chi > 0. The table of labels
  reports both and whether they agree.

In 3D both are computed the same way on the periodic box, with 6-connectivity
of the minority phase (face neighbours: an edge or corner contact is thinner
than the interface). There ``chi = components - handles + cavities``: a
droplet is +1, a rod or slab spanning the box 0, a sponge-like network
(genus g per cell) ``1 - g < 0``, so ``chi <= 0`` means that the minority
phase is, on balance, a network with handles: the topological criterion used
to tell disperse (droplet) from bicontinuous morphologies of phase-separating
polymer blends (Aksimentiev & Holyst 2001; the genus of bicontinuous blend
interfaces measured in 3D, Jinnai et al. 1997; a genus per domain volume to
tell drops from co-continuous domains in immiscible blends, Lopez-Barron &
Macosko 2009). In 3D the percolation label is the one that fails first: the
minority phase of a 3D spinodal structure percolates down to volume
fractions of ~0.2-0.3 (the 3D continuum percolation threshold is ~0.16 for
overlapping spheres), so a study of phi0 >= 0.3 may give one class only;
the Euler label, which calls a structure with more droplets than handles
"droplets", is then the one to train on (``classification.label: euler``).
The summary (:func:`scattermorph.classify.summary.classification_summary`) states
the label used and warns when its minority class is below
:data:`MIN_CLASS_SHARE` of the structures.

In 2D the percolation label has a twist worth knowing: on a torus two
phases cannot both wrap in crossing directions, so "co-continuous" means both
phases span the box in at least one (the same) direction, as in a labyrinth
of stripes; near 50:50 the minority phase may be cut into long fragments.

Features of a view (:func:`view_features`): ``raw`` (a coarse image of the
visible composition and of the mask) and ``physics`` (statistics of the
visible part that an experimentalist could compute, see
:mod:`scattermorph.classify.views`).

Models (:func:`make_classifier`): scikit-learn pipelines with feature
scaling. Splits keep whole simulations on one side (:func:`simulation_split`),
bootstrap resamples whole simulations by default (:func:`bootstrap_rows`).

References
----------
.. [AH2001] A. Aksimentiev and R. Holyst, "Application of the Euler
   characteristic to the study of homopolymer blends and copolymer melts",
   Polimery 46, 309-322 (2001).
.. [Jinnai1997] H. Jinnai, T. Koga, Y. Nishikawa, T. Hashimoto and S. T.
   Hyde, "Curvature determination of spinodal interface in a condensed
   matter system", Phys. Rev. Lett. 78, 2248 (1997).
.. [LBM2009] C. R. Lopez-Barron and C. W. Macosko, "Characterizing
   interface shape evolution in immiscible polymer blends via 3D image
   analysis", Langmuir 25 (2009).
"""

from __future__ import annotations

import itertools
import warnings
from collections import deque

import numpy as np
from scipy import ndimage

from scattermorph import seeds
from scattermorph._io import atomic_write
from scattermorph.classify.biasvar import brier_decomposition, class_conditional_errors, domingos, kohavi_wolpert
from scattermorph.classify.views import (
    VIEW_KINDS,
    VOLUME_KINDS,
    binarise_visible,
    draw_view,
    masked_two_point,
    random_section,
    view_frame,
    visible_minkowski_densities,
)
from scattermorph.errors import ParameterError
from scattermorph.measure.minkowski import minkowski, threshold
from scattermorph.measure.reference import gaussian_random_field
from scattermorph.sim.run import load_simulation
from scattermorph.sim.sweep import check_physics

__all__ = [
    "CLASS_NAMES",
    "MODELS",
    "STAGE",
    "MIN_CLASS_SHARE",
    "LABEL_CRITERIA",
    "wrapping_axes",
    "structure_labels",
    "class_balance",
    "physics_feature_names",
    "raw_feature_names",
    "view_features",
    "simulation_split",
    "bootstrap_rows",
    "make_classifier",
    "fit_predict",
    "seed_for",
    "rng_for",
    "view_ndim",
    "check_classification",
    "section_structures",
    "grf_structures",
    "view_dataset",
    "model_specs",
    "run_bootstrap",
    "label_table",
    "build_features",
    "save_features",
    "load_features",
    "bootstrap_job",
    "complexity_job",
    "save_predictions",
    "decompose_predictions",
]

#: Class names of the binary task, by label.
CLASS_NAMES = ("droplets", "co-continuous")
#: Classifier names accepted by :func:`make_classifier`.
MODELS = ("logistic", "knn", "random_forest", "svm", "mlp")
#: Stage constant of the classification stage in every SeedSequence.
STAGE = seeds.CLASSIFICATION
#: Smallest share of the minority class (under the label used) that the
#: study should have (issue 14: both classes represented, >= 30 %); the
#: summary warns below it.
MIN_CLASS_SHARE = 0.3
#: What each label means, with its reference (quoted by the summary).
LABEL_CRITERIA = {
    "percolation": (
        "co-continuous = a face-connected cluster of the minority phase wraps around the "
        "periodic box (both phases span the sample: the direct definition)."
    ),
    "euler": (
        "co-continuous = Euler characteristic of the minority phase (face connectivity, "
        "periodic box) <= 0, i.e. at least as many handles (3D) / holes (2D) as components: a "
        "network rather than droplets (chi > 0). The topological criterion that tells disperse "
        "from bicontinuous blend morphologies (Aksimentiev & Holyst, Polimery 46, 309 (2001); "
        "genus of bicontinuous blends: Jinnai et al., Phys. Rev. Lett. 78, 2248 (1997); "
        "Lopez-Barron & Macosko, Langmuir 25 (2009)); used where the minority phase of a 3D "
        "structure percolates at every composition, so percolation gives one class only."
    ),
}


def seed_for(seed, *keys) -> int:
    """An integer seed (for ``random_state``) from ``SeedSequence([seed, STAGE, *keys])``."""
    ss = np.random.SeedSequence([int(seed), STAGE, *[int(k) for k in keys]])
    return int(ss.generate_state(1)[0] % (2**31 - 1))


def rng_for(seed, *keys) -> np.random.Generator:
    """A generator from ``SeedSequence([seed, STAGE, *keys])``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STAGE, *[int(k) for k in keys]]))


def view_ndim(kind) -> int:
    """Dimension of the frame a view kind's features are computed on: 3
    for the sub-volume kinds, 2 for windows, pixels and sections."""

    if kind not in VIEW_KINDS:
        raise ParameterError(f"view kind {kind!r} is unknown: choose one of {VIEW_KINDS}")
    return 3 if kind in VOLUME_KINDS else 2


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------
def wrapping_axes(image) -> np.ndarray:
    """Axes along which some face-connected cluster wraps around the torus.

    Parameters
    ----------
    image : (ny, nx) or (nz, ny, nx) ndarray of bool
        Phase on a periodic box.

    Returns
    -------
    (ndim,) ndarray of bool
        ``out[a]`` is True if a cluster of the ``True`` phase, followed
        across the periodic faces, returns onto itself shifted by a box
        length along axis ``a`` (it percolates along ``a``).
    """
    image = np.asarray(image, bool)
    if image.ndim not in (2, 3):
        raise ParameterError(f"image of shape {image.shape}: need a 2D or 3D phase image")
    ndim = image.ndim
    lab, n = ndimage.label(image, structure=ndimage.generate_binary_structure(ndim, 1))
    wraps = np.zeros(ndim, bool)
    if n == 0:
        return wraps
    # joins across each periodic face: last slice -> first slice is a +1 shift
    adj = [[] for _ in range(n + 1)]
    for a in range(ndim):
        lo = np.take(lab, 0, axis=a).ravel()
        hi = np.take(lab, -1, axis=a).ravel()
        both = (lo > 0) & (hi > 0)
        pairs = np.unique(np.stack([hi[both], lo[both]], axis=1), axis=0)
        d = np.zeros(ndim, np.int64)
        d[a] = 1
        for u, v in pairs:
            adj[u].append((v, d))
            adj[v].append((u, -d))
    shift = [None] * (n + 1)
    for start in range(1, n + 1):
        if shift[start] is not None:
            continue
        shift[start] = np.zeros(ndim, np.int64)
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v, d in adj[u]:
                s = shift[u] + d
                if shift[v] is None:
                    shift[v] = s
                    queue.append(v)
                elif np.any(s != shift[v]):
                    wraps |= s != shift[v]
    return wraps


def structure_labels(field, *, level="mean") -> dict:
    """Droplet / co-continuous labels of one full structure.

    Parameters
    ----------
    field : (ny, nx) or (nz, ny, nx) ndarray of float
        Composition field of the whole (periodic) structure.
    level : {"mean", "equal_volume"} or float
        Binarisation rule (:func:`scattermorph.measure.minkowski.threshold`).

    Returns
    -------
    dict
        ``minority_fraction`` (area / volume fraction of the minority
        phase), ``minority_is_rich`` (the minority is the ``field > level``
        phase), ``wraps`` (per-axis wrapping of the minority phase, as a
        string like ``"10"``), ``label_percolation``, ``euler_density_minority``
        (per pixel / voxel, face connectivity), ``label_euler`` and
        ``labels_agree``.
    """
    binary = threshold(field, level)
    frac = float(binary.mean())
    rich_is_minority = frac <= 0.5
    minority = binary if rich_is_minority else ~binary
    wraps = wrapping_axes(minority)
    conn = 4 if minority.ndim == 2 else 6
    chi = minkowski(minority, periodic=True, connectivity=conn)["euler_density"]
    lab_p = int(wraps.any())
    lab_e = int(chi <= 0)
    return {
        "minority_fraction": min(frac, 1 - frac),
        "minority_is_rich": bool(rich_is_minority),
        "wraps": "".join(str(int(w)) for w in wraps),
        "label_percolation": lab_p,
        "euler_density_minority": float(chi),
        "label_euler": lab_e,
        "labels_agree": bool(lab_p == lab_e),
    }


def class_balance(table, label) -> float:
    """Share of the minority class of a label table under ``label``.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`label_table` (column ``label_<label>``).
    label : {"percolation", "euler"}

    Returns
    -------
    float
        ``min(n_0, n_1) / n`` in [0, 0.5]; 0 when one class is missing,
        NaN for an empty table.
    """
    y = np.asarray(table[f"label_{label}"], int)
    if y.size == 0:
        return float("nan")
    n1 = int((y == 1).sum())
    return min(n1, y.size - n1) / y.size


# --------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------
def physics_feature_names(n_radii: int, ndim: int = 2) -> list[str]:
    """Names of the columns of the physics features (see :func:`view_features`)
    of a 2D image (``ndim=2``: windows, pixels, sections) or of a 3D
    sub-volume view (``ndim=3``)."""
    if ndim == 2:
        mk = ["area_fraction", "perimeter_density", "euler_density"]
    elif ndim == 3:
        mk = ["volume_fraction", "surface_density", "mean_curvature_density", "euler_density"]
    else:
        raise ParameterError(f"ndim={ndim}: views are 2D or 3D")
    return ["phi_mean", "phi_std", *mk, "log10_windows", *[f"gamma_{i}" for i in range(n_radii)]]


def raw_feature_names(grid: int, ndim: int = 2) -> list[str]:
    """Names of the raw features: ``phi_<i>_<j>[_<k>]`` then ``seen_...``."""
    cells = ["_".join(map(str, c)) for c in itertools.product(range(grid), repeat=ndim)]
    return [f"phi_{c}" for c in cells] + [f"seen_{c}" for c in cells]


def _block_sum(a, grid):
    """Sums of ``a`` over a ``grid^ndim`` partition into nearly equal blocks."""
    for ax, n in enumerate(a.shape):
        a = np.add.reduceat(a, np.linspace(0, n, grid + 1).astype(int)[:-1], axis=ax)
    return a


def view_features(image, view, *, spacing, level, radii, raw_grid, connectivity=None):
    """Raw and physics features of the visible part of a 2D image or 3D structure.

    Parameters
    ----------
    image : (ny, nx) or (nz, ny, nx) ndarray of float
        Composition field (only its visible cells are read, through
        :func:`scattermorph.classify.views.view_frame`); 3D for the sub-volume
        views.
    view : scattermorph.classify.views.View
    spacing : float
        Pixel / voxel size (b).
    level : {"mean", "equal_volume"} or float
        Binarisation rule, applied to the visible cells only.
    radii : (B + 1,) array_like
        Shell edges (b) of the correlation function features.
    raw_grid : int
        The raw image is reduced to ``raw_grid^ndim`` blocks (``raw_grid``
        per side, at most the image side).
    connectivity : {None, 4, 8} (2D) or {None, 6, 26} (3D)
        Of the Euler density (None = full adjacency, as the measurement
        stage).

    Returns
    -------
    raw : (2 raw_grid^ndim,) ndarray
        Block means of the visible composition in the frame of the image
        (a window is moved to the frame's corner: on a periodic tile all
        positions are equivalent, so this keeps the physical scale and removes
        an irrelevant translation), then the visible fraction of each block
        (the mask). A block without a visible cell gets the mean visible
        composition (the uninformative value after centring).
    physics : (6 + B,) (2D) or (7 + B,) (3D) ndarray
        ``phi_mean``, ``phi_std`` of the visible composition; the Minkowski
        densities of the binarised visible cells from the complete visible
        ``2 x 2`` (``2 x 2 x 2``) windows
        (:func:`scattermorph.classify.views.visible_minkowski_densities`; 0 when
        there is none): 2D ``area_fraction``, ``perimeter_density`` (1/b),
        ``euler_density`` (1/b^2); 3D ``volume_fraction``,
        ``surface_density`` (1/b), ``mean_curvature_density`` (1/b^2),
        ``euler_density`` (1/b^3); except the area / volume fraction, which
        is that of all visible cells; ``log10_windows`` = log10(1 + number
        of those windows) (how much support the densities had); ``gamma_i``:
        the normalised two-point correlation ``(S2 - p^2) / (p - p^2)`` in
        the shells of ``radii`` (0, the uncorrelated value, where no visible
        pair exists or the view holds a single phase).
    """
    frame, mask, periodic = view_frame(image, view)
    ndim = frame.ndim
    vis = frame[mask]
    binary, _ = binarise_visible(frame, mask, level)
    p = float(binary[mask].mean())
    mk = visible_minkowski_densities(binary, mask, periodic, spacing=spacing, connectivity=connectivity)
    s2, _ = masked_two_point(binary, mask, periodic, radii, spacing=spacing)
    if 0 < p < 1:
        gamma = (s2 - p * p) / (p - p * p)
    else:
        gamma = np.full(s2.shape, np.nan)
    gamma = np.nan_to_num(gamma, nan=0.0)
    keys = physics_feature_names(0, ndim)[3:-1]  # the densities after the fraction
    dens = [mk[k] if mk["n_windows"] else 0.0 for k in keys]
    phys = np.concatenate(
        [[vis.mean(), vis.std(), p, *dens, np.log10(1 + mk["n_windows"])], gamma]
    )
    # raw: the visible composition on the image's frame
    g = int(raw_grid)
    shape = tuple(view.shape)
    if not 1 <= g <= min(shape):
        raise ParameterError(f"raw_grid={raw_grid} must be between 1 and the image side {min(shape)}")
    canvas = np.zeros(shape)
    seen = np.zeros(shape)
    corner = tuple(slice(0, n) for n in frame.shape)
    canvas[corner] = np.where(mask, frame, 0.0)
    seen[corner] = mask
    total = _block_sum(canvas, g)
    count = _block_sum(seen, g)
    volume = _block_sum(np.ones(shape), g)
    fill = float(vis.mean())
    with np.errstate(invalid="ignore", divide="ignore"):
        block = np.where(count > 0, total / count, fill)
    raw = np.concatenate([block.ravel(), (count / volume).ravel()])
    return raw, phys


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
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

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
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

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
# the stage: configuration, 3D structures, view datasets, bootstrap
# --------------------------------------------------------------------------
#: Sub-stream constants of the stage's SeedSequences.
_VIEWS, _SPLIT, _BOOT, _MODEL, _SWEEP, _CHC3D, _GRF3D = range(1, 8)


def check_classification(config) -> None:
    """Cross-key checks of ``config["classification"]`` the schema cannot express.

    Raises
    ------
    ParameterError
        Naming the key, the value and the fix.
    """

    c = config["classification"]
    dim = int(config["study"]["dimension"])
    kinds = c["views"]["kinds"]
    flat = [k for k in kinds if not k.startswith("section_") and k not in VOLUME_KINDS]
    volume = [k for k in kinds if k in VOLUME_KINDS]
    if dim == 3 and flat:
        raise ParameterError(
            f"classification.views.kinds={kinds}: the study is 3D, so {flat} (views of a "
            "2D image) do not apply; use subvolume_window / subvolume_voxels (3D views "
            "of the snapshots) or section_window / section_pixels (2D sections)"
        )
    if dim != 3 and volume:
        raise ParameterError(
            f"classification.views.kinds={kinds}: {volume} are 3D views of a 3D study's "
            f"snapshots, but study.dimension is {dim}; use window / pixels (or "
            "section_window / section_pixels for sections of 3D structures)"
        )
    src = c["sections"]["source"]
    if src == "study" and dim != 3:
        raise ParameterError(
            "classification.sections.source='study' needs a 3D study (study.dimension: 3); "
            "use chc or grf"
        )
    r = c["radii"]
    if any(b <= a for a, b in zip(r, r[1:])):
        raise ParameterError(f"classification.radii={r} must be strictly increasing")
    cx = c["complexity"]
    if cx["kind"] not in kinds:
        raise ParameterError(
            f"classification.complexity.kind={cx['kind']!r} is not in views.kinds={kinds}"
        )
    if cx["features"] not in c["features"]:
        raise ParameterError(
            f"classification.complexity.features={cx['features']!r} is not in features={c['features']}"
        )
    if not any(abs(cx["fraction"] - f) < 1e-12 for f in c["views"]["fractions"]):
        raise ParameterError(
            f"classification.complexity.fraction={cx['fraction']} must be one of "
            f"views.fractions={c['views']['fractions']}"
        )
    s = c["sections"]
    if not s["t_max"] > s["t_min"]:
        raise ParameterError(
            f"classification.sections.t_max={s['t_max']} must exceed t_min={s['t_min']}"
        )
    sides = []
    if flat:
        sides.append(int(config["simulation"]["grid"]))
    if any(k.startswith("section_") for k in kinds):
        sides.append(int(config["simulation"]["grid"] if src == "study" else s["grid"]))
    if sides and c["raw_grid"] > min(sides):
        raise ParameterError(
            f"classification.raw_grid={c['raw_grid']} exceeds the image side {min(sides)}"
        )
    if volume and c["raw_grid_3d"] > int(config["simulation"]["grid"]):
        raise ParameterError(
            f"classification.raw_grid_3d={c['raw_grid_3d']} exceeds the grid side "
            f"{config['simulation']['grid']} of the sub-volume views"
        )


def section_structures(config):
    """Table of the 3D structures of the section views (one row each).

    ``source: chc``: 3D Cahn-Hilliard-Cook runs of the study's model at
    ``sections.phi0`` x ``replicates``, one quench, ``sections.grid`` cells,
    snapshots from ``t_min`` to ``t_max`` tau; their records come from
    :func:`scattermorph.sim.sweep.simulation_table` of a derived configuration
    whose seed is ``seed_for(study.seed, 6)`` (streams disjoint from the
    study's). ``source: grf``: one Gaussian random field per replicate, its
    "snapshots" being level cuts at ``grf.levels``. ``source: study``: the
    study's own (3D) simulations.

    Returns
    -------
    pandas.DataFrame
        Columns ``struct_id``, ``index``, ``phi0``, ``source`` and, for chc
        and study, the simulation record columns (checked by
        :func:`scattermorph.sim.sweep.check_physics`).
    """
    import copy

    import pandas as pd


    c = config["classification"]["sections"]
    src = c["source"]
    if src == "study":
        table = check_physics(config).copy()
    elif src == "chc":
        # only the sections the simulations need (other stages' checks, e.g.
        # the learning stage's split of the 2D sweep, do not apply here)
        cfg = copy.deepcopy({k: config[k] for k in ("study", "simulation", "measurement")})
        cfg["study"]["dimension"] = 3
        cfg["study"]["seed"] = seed_for(config["study"]["seed"], _CHC3D)
        sim = cfg["simulation"]
        sim["grid"] = int(c["grid"])
        sim["dx"] = float(c["dx"])
        sim["cells_per_wavelength"] = None
        sim["sweep"] = {"phi0": list(c["phi0"]), "quench": [float(c["quench"])],
                        "replicates": int(c["replicates"])}
        sim["time"].update(t_min=c["t_min"], t_max=c["t_max"], n_snapshots=int(c["n_snapshots"]))
        try:
            table = check_physics(cfg).copy()
        except ParameterError as exc:
            raise ParameterError(f"classification.sections: {exc}") from None
    else:
        rows = [
            {"sim_id": f"grf_r{r}", "phi0": float("nan"), "sim_index": r}
            for r in range(int(c["replicates"]))
        ]
        table = pd.DataFrame(rows)
    table = table.rename(columns={"sim_id": "struct_id"})
    if src == "chc":
        table["struct_id"] = "s3_" + table["struct_id"]
    table["index"] = np.arange(len(table))
    table["source"] = src
    return table


def grf_structures(section_cfg, seed, index):
    """Level cuts of one 3D Gaussian random field (the grf stand-in).

    Returns a (L, n, n, n) float32 stack ``f - u_l`` (so the structure is
    ``> 0``; the composition field of a level cut), one per level ``u_l``
    of ``grf.levels``, and a metadata dict. The field comes from
    :func:`scattermorph.measure.reference.gaussian_random_field` (peaked spectrum),
    drawn from ``SeedSequence([seed, STAGE, 7, index])``.
    """

    g = section_cfg["grf"]
    n = int(section_cfg["grid"])
    field = gaussian_random_field(
        (n, n, n), float(section_cfg["dx"]), spectrum="peaked",
        rng=rng_for(seed, _GRF3D, index), k0=float(g["k0"]), width=float(g["width"]),
    )
    stack = np.stack([(field - u).astype(np.float32) for u in g["levels"]])
    meta = {
        "sim_id": f"grf_r{index}",
        "params": {"source": "grf", "shape": [n, n, n], "dx": float(section_cfg["dx"]),
                   "k0": float(g["k0"]), "width": float(g["width"]), "seed": int(seed),
                   "index": int(index)},
        "levels": [float(u) for u in g["levels"]],
        "times": [float(u) for u in g["levels"]],
    }
    return stack, meta


def view_dataset(items, kind, fractions, per_snapshot, *, seed, kind_index, spacing, level,
                 radii, raw_grid, connectivity=None):
    """Features of random views of every snapshot at every fraction.

    Parameters
    ----------
    items : iterable of (group_index, group, snapshot, image[, item_spacing])
        ``image`` 2D (window / pixels) or 3D (``section_*``: each view is
        drawn on its own random section; ``subvolume_*``: on the structure
        itself). An item's own cell size (b), when given, replaces
        ``spacing`` (studies whose runs have their own cell size,
        ``simulation.cells_per_wavelength``).
    kind : str
        View kind (:data:`scattermorph.classify.views.VIEW_KINDS`).
    fractions : sequence of float
    per_snapshot : int
        Views per snapshot and fraction.
    seed : int
        Study seed; view ``v`` of (group, snapshot, fraction ``j``) is drawn
        from ``SeedSequence([seed, STAGE, 1, kind_index, group_index,
        snapshot, j, v])``, independent of job layout.
    spacing, level, radii, raw_grid, connectivity
        As in :func:`view_features`.

    Returns
    -------
    rows : pandas.DataFrame
        One row per view: ``group``, ``snapshot``, ``f_index``,
        ``fraction_requested``, ``fraction``, ``view``, ``n_visible``,
        ``section_axis``, ``section_index``.
    raw, physics : 2D ndarrays, one row per view
    """
    import pandas as pd


    rows, raws, phys = [], [], []
    for gi, group, snap, image, *own in items:
        image = np.asarray(image)
        dx = float(own[0]) if own else spacing
        for j, f in enumerate(fractions):
            for v in range(int(per_snapshot)):
                rng = rng_for(seed, _VIEWS, kind_index, gi, snap, j, v)
                where = (-1, -1)
                img = image
                if kind.startswith("section_"):
                    img, where = random_section(image, rng)
                view = draw_view(kind, img.shape, f, rng)
                r, p = view_features(img, view, spacing=dx, level=level, radii=radii,
                                     raw_grid=raw_grid, connectivity=connectivity)
                raws.append(r)
                phys.append(p)
                rows.append({
                    "group": group, "snapshot": int(snap), "f_index": j,
                    "fraction_requested": float(f), "fraction": view.fraction,
                    "view": v, "n_visible": view.n_visible,
                    "section_axis": where[0], "section_index": where[1],
                })
    return pd.DataFrame(rows), np.asarray(raws), np.asarray(phys)


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


# --------------------------------------------------------------------------
# rule-level helpers (one call per rule script)
# --------------------------------------------------------------------------
def label_table(paths, *, level="mean"):
    """Labels of every snapshot of every structure file (see :func:`structure_labels`).

    Returns a DataFrame with ``group`` (simulation / structure id),
    ``snapshot``, ``phi0``, ``time`` (``time_over_tau`` for simulations, the
    level for Gaussian-field cuts) and the columns of :func:`structure_labels`.
    """
    import pandas as pd


    rows = []
    for path in paths:
        phi, times, meta = load_simulation(path)
        prm = meta.get("params", {})
        tau = meta.get("derived", {}).get("time_scale_tau", 1.0)
        for i in range(phi.shape[0]):
            rows.append({
                "group": meta["sim_id"],
                "snapshot": i,
                "phi0": float(prm.get("phi0", np.nan)),
                "time": float(times[i]) / tau,
                **structure_labels(phi[i], level=level),
            })
    return pd.DataFrame(rows)


def build_features(paths, labels, *, kind, settings, seed, level, connectivity=None,
                   source_index=0):
    """Views, features, labels and the train/test split of one view kind.

    Parameters
    ----------
    paths : sequence of str
        Structure files (:func:`scattermorph.sim.run.load_simulation`).
    labels : pandas.DataFrame
        From :func:`label_table` for the same files.
    kind : str
    settings : dict
        The config's ``classification`` section.
    seed : int
        Study seed.
    level, connectivity
        Binarisation rule and Euler connectivity (the measurement stage's).
    source_index : int
        0 for the study's images, 1 for the section structures: keys the
        split and the bootstrap streams.

    Returns
    -------
    dict
        ``rows`` (DataFrame, :func:`view_dataset` columns plus ``y``,
        ``test``, ``phi0``), ``raw``, ``physics`` (2D arrays), ``kind``.
    """

    section = kind.startswith("section_")
    per = settings["sections"]["per_snapshot"] if section else settings["views"]["per_snapshot"]
    raw_grid = settings["raw_grid_3d"] if view_ndim(kind) == 3 else settings["raw_grid"]
    groups = sorted(labels["group"].unique())
    gidx = {g: i for i, g in enumerate(groups)}
    def items():
        # each structure with its own cell size (runs sized by
        # simulation.cells_per_wavelength have one each): lengths and
        # densities of the features stay in b
        for path in paths:
            phi, _, meta = load_simulation(path)
            dx = float(meta["params"]["dx"])
            for i in range(phi.shape[0]):
                yield gidx[meta["sim_id"]], meta["sim_id"], i, phi[i], dx

    rows, raw, phys = view_dataset(
        items(), kind, settings["views"]["fractions"], per, seed=seed,
        kind_index=VIEW_KINDS.index(kind), spacing=1.0, level=level,
        radii=settings["radii"], raw_grid=raw_grid, connectivity=connectivity,
    )
    col = f"label_{settings['label']}"
    lab = labels.set_index(["group", "snapshot"])
    key = list(zip(rows["group"], rows["snapshot"]))
    rows["y"] = lab.loc[key, col].to_numpy().astype(int)
    rows["phi0"] = lab.loc[key, "phi0"].to_numpy()
    per_group = labels.groupby("group")["phi0"].first()
    strata = ["all" if not np.isfinite(v) else f"{v:.6g}" for v in per_group.loc[groups]]
    test_ids = simulation_split(groups, strata, settings["test_fraction"],
                                rng_for(seed, _SPLIT, source_index))
    rows["test"] = rows["group"].isin(test_ids).to_numpy()
    return {"rows": rows, "raw": raw, "physics": phys, "kind": kind}


def save_features(path, data) -> None:
    """Write :func:`build_features` output to one ``.npz`` (atomically)."""

    rows = data["rows"]
    arrays = {f"row_{c}": rows[c].to_numpy() for c in rows.columns}
    arrays["row_group"] = rows["group"].to_numpy().astype(str)
    ndim = view_ndim(data["kind"])
    n_r = data["physics"].shape[1] - len(physics_feature_names(0, ndim))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, raw=data["raw"], physics=data["physics"], kind=np.array(data["kind"]),
                physics_names=np.array(physics_feature_names(n_r, ndim)), **arrays,
            )

    atomic_write(path, write)


def load_features(path) -> dict:
    """Read a features file written by :func:`save_features`."""
    import pandas as pd

    with np.load(path, allow_pickle=False) as z:
        rows = pd.DataFrame({k[4:]: z[k] for k in z.files if k.startswith("row_")})
        return {"rows": rows, "raw": z["raw"], "physics": z["physics"], "kind": str(z["kind"]),
                "physics_names": list(z["physics_names"])}


def _batch_rounds(batch, settings):
    b = settings["bootstrap"]
    rounds = np.arange(batch * b["batch"], min((batch + 1) * b["batch"], b["rounds"]))
    if rounds.size == 0:
        raise ParameterError(f"bootstrap batch {batch} is empty for {b['rounds']} rounds")
    return rounds


def _test_targets(rows, f_values):
    """Test labels (F, n_test) and mean achieved fraction (F,) per fraction index."""
    test = rows["test"].to_numpy()
    fi = rows["f_index"].to_numpy()
    ys = [rows["y"].to_numpy()[test & (fi == f)] for f in f_values]
    fr = [rows["fraction"].to_numpy()[fi == f].mean() for f in f_values]
    return np.array(ys), np.array(fr)


def bootstrap_job(data, *, features, batch, settings, seed, source_index):
    """One bootstrap batch of every configured model at every fraction.

    Returns a dict for :func:`save_predictions`: ``pred``, ``proba``,
    ``warnings`` (see :func:`run_bootstrap`), ``rounds``, ``models``,
    ``fractions`` (requested), ``fraction`` (mean achieved), ``y_test`` (F,
    n_test), ``kind``, ``features``.
    """
    rows = data["rows"]
    rounds = _batch_rounds(batch, settings)
    specs = model_specs(settings["models"], settings["hyper"])
    pred, proba, warn = run_bootstrap(
        data[features], rows["y"], rows["group"], rows["f_index"], rows["test"], rounds,
        specs, seed=seed, source_index=source_index, unit=settings["bootstrap"]["unit"],
    )
    fs = np.unique(rows["f_index"])
    y_test, frac = _test_targets(rows, fs)
    return {
        "pred": pred, "proba": proba, "warnings": warn, "rounds": rounds,
        "models": np.array([s[0] for s in specs]),
        "complexity": np.full(len(specs), np.nan),
        "fractions": np.asarray(settings["views"]["fractions"], float)[fs],
        "fraction": frac, "y_test": y_test, "kind": np.array(data["kind"]),
        "features": np.array(features),
    }


def complexity_job(data, *, batch, settings, seed, source_index):
    """One bootstrap batch of the model-complexity sweep.

    k-NN with every ``complexity.knn_k`` and random forests (``hyper.forest_trees``
    trees) with every ``complexity.forest_depth`` (``None`` = fully grown),
    at ``complexity.fraction`` of ``complexity.kind`` on
    ``complexity.features``. Models get ``random_state = seed_for(seed, 5, m,
    round)``; resamples are those of :func:`bootstrap_job` (same stream).
    Returns the dict of :func:`bootstrap_job`; ``models`` are ``knn`` /
    ``random_forest`` and ``complexity`` holds k or the depth (0 = full).
    """
    cx = settings["complexity"]
    fractions = list(settings["views"]["fractions"])
    j = int(np.argmin([abs(f - cx["fraction"]) for f in fractions]))
    keep = data["rows"]["f_index"].to_numpy() == j
    rows = data["rows"][keep].reset_index(drop=True)
    X = data[cx["features"]][keep]
    specs, comp = [], []
    for k in cx["knn_k"]:
        specs.append(("knn", {"n_neighbors": int(k)}))
        comp.append(int(k))
    for d in cx["forest_depth"]:
        specs.append(("random_forest", {"max_depth": d, "n_estimators": int(settings["hyper"]["forest_trees"])}))
        comp.append(0 if d is None else int(d))
    rounds = _batch_rounds(batch, settings)
    pred, proba, warn = run_bootstrap(
        X, rows["y"], rows["group"], rows["f_index"], rows["test"], rounds, specs,
        seed=seed, source_index=source_index, unit=settings["bootstrap"]["unit"],
        model_stream=lambda m: (_SWEEP, m),
    )
    y_test, frac = _test_targets(rows, [j])
    return {
        "pred": pred, "proba": proba, "warnings": warn, "rounds": rounds,
        "models": np.array([s[0] for s in specs]), "complexity": np.array(comp, float),
        "fractions": np.array([fractions[j]]), "fraction": frac, "y_test": y_test,
        "kind": np.array(data["kind"]), "features": np.array(cx["features"]),
    }


def save_predictions(path, out) -> None:
    """Write a bootstrap batch (:func:`bootstrap_job`) to ``.npz`` atomically."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **out)

    atomic_write(path, write)


def decompose_predictions(paths, *, confidence=0.95):
    """Decompose the errors of every (kind, features, model, fraction).

    Batches of the same (kind, features) are joined along the rounds.
    Returns one row per (kind, features, model, complexity, fraction) with
    the Domingos terms (``loss``, ``bias``, ``variance``,
    ``variance_unbiased``, ``variance_biased``, ``net_variance``), Kohavi &
    Wolpert's (``kw_bias2``, ``kw_variance``), the Brier decomposition
    (``brier``, ``brier_bias``, ``brier_variance``), the class-conditional
    errors of :func:`scattermorph.classify.biasvar.class_conditional_errors`, the
    number of rounds and test points, and the mean convergence warnings.
    """
    import pandas as pd


    parts = {}
    for path in paths:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        parts.setdefault((str(d["kind"]), str(d["features"])), []).append(d)
    rows = []
    for (kind, feats), ds in sorted(parts.items()):
        ds.sort(key=lambda d: int(d["rounds"][0]))
        pred = np.concatenate([d["pred"] for d in ds], axis=2)
        proba = np.concatenate([d["proba"] for d in ds], axis=2)
        warn = np.concatenate([d["warnings"] for d in ds], axis=2)
        d0 = ds[0]
        for m, name in enumerate(d0["models"]):
            for j, f in enumerate(d0["fractions"]):
                y = d0["y_test"][j].astype(int)
                dm = domingos(pred[m, j], y)
                kw = kohavi_wolpert(pred[m, j], y)
                br = brier_decomposition(proba[m, j], y)
                ce = class_conditional_errors(pred[m, j], y, confidence=confidence)
                rows.append({
                    "kind": kind, "features": feats, "model": str(name),
                    "complexity": float(d0["complexity"][m]),
                    "fraction_requested": float(f), "fraction": float(d0["fraction"][j]),
                    "rounds": pred.shape[2], "n_test": y.size,
                    **{k: dm[k] for k in ("loss", "bias", "variance", "variance_unbiased",
                                          "variance_biased", "net_variance")},
                    "kw_bias2": kw["bias2"], "kw_variance": kw["variance"],
                    "brier": br["brier"], "brier_bias": br["bias"],
                    "brier_variance": br["variance"],
                    **ce,
                    "warnings": float(warn[m, j].mean()),
                })
    return pd.DataFrame(rows)
