"""Bias-variance decompositions of classification errors, and class bias.

Setting: a learner is trained on ``R`` training sets ``D_1..D_R`` (bootstrap
resamples) and predicts a fixed test set of ``n`` points; ``pred[r, i]`` is
the label predicted for test point ``i`` by the model of round ``r``, and
``proba[r, i, k]`` its probability of class ``k``. Expectations over training
sets ``E_D`` are averages over the rounds.

**0-1 loss, Domingos (2000).** With the *main prediction* ``y_m(x)`` (the
mode of ``y_D(x)`` over ``D``; ties go to the smallest label), the optimal
prediction ``y*(x)`` and

* noise ``N(x) = P_t(t != y*)``,
* bias ``B(x) = 1[y_m != y*]``,
* variance ``V(x) = P_D(y_D != y_m)``,

the expected loss ``E_{D,t}[1(t != y_D)] = c1 N + B + c2 V`` exactly
(Domingos 2000, Theorems 1-2), with ``c1 = 2 P_D(y_D = y*) - 1`` (two
classes) and ``c2 = 1`` where ``B = 0``, ``c2 = -P_D(y_D = y* | y_D != y_m)``
where ``B = 1`` (``-1`` for two classes). Averaged over test points:
``loss = noise term + bias + V_u - V_b``: variance *adds* to the error at
unbiased points (``V_u``) and *removes* error at biased points (``V_b``);
``V_u - V_b`` is the net variance.

The labels of this study are a deterministic function of the full structure,
but the classifier sees only part of it, so given the *view* the label is not
deterministic: the Bayes error of the partial view is not zero and is not
known. Following the usual practice for real data (Kohavi & Wolpert 1996;
Domingos 2000, sec. 5), the noise is set to zero (``y* = t``), so the
irreducible error of seeing only part of the image is counted in the bias.
When the Bayes posterior is known (the synthetic tests), pass it as
``posterior`` to separate the noise.

**0-1 loss, Kohavi & Wolpert (1996).** ``E[L] = sigma^2 + bias^2 +
variance`` with ``bias^2 = 1/2 sum_k (P_t(k) - P_D(k))^2``, ``variance =
1/2 (1 - sum_k P_D(k)^2)``, ``sigma^2 = 1/2 (1 - sum_k P_t(k)^2)``.

**Squared error of probabilities (Brier).** With the score ``1/2 sum_k
(p_k - e_k)^2`` (``= (p_1 - y)^2`` for two classes), ``E_{D,t} =
1/2 |p_bar - pi|^2 + 1/2 E_D |p_D - p_bar|^2 + 1/2 E_t |e_t - pi|^2``
(bias, variance, noise), ``p_bar = E_D p_D``, ``pi`` the posterior
(one-hot of the label when noise-free); exact (Geman, Bienenstock & Doursat
1992 for squared loss).

**Class-conditional errors (bias against a class).** For each true class the
error rate of the main prediction, with the Wilson (1927) score interval,
and Fisher's exact test of equal error rates in the two classes. Fisher's
test compares two independent groups (the test points of each class) with
small counts and rates near 0 or 1 without a normal approximation;
McNemar's test would be the choice for two classifiers on the same points,
which is not the question. Caveat: views of one simulation's snapshots are
correlated, so the intervals treat the test points as more independent than
they are.

References
----------
.. [Domingos2000] P. Domingos, "A unified bias-variance decomposition and its
   applications", Proc. 17th ICML, 231-238 (2000).
.. [KW1996] R. Kohavi and D. H. Wolpert, "Bias plus variance decomposition for
   zero-one loss functions", Proc. 13th ICML, 275-283 (1996).
.. [GBD1992] S. Geman, E. Bienenstock and R. Doursat, "Neural networks and the
   bias/variance dilemma", Neural Comput. 4, 1-58 (1992).
.. [Wilson1927] E. B. Wilson, "Probable inference, the law of succession, and
   statistical inference", J. Am. Stat. Assoc. 22, 209-212 (1927).
.. [Fisher1935] R. A. Fisher, *The Design of Experiments* (1935), sec. 2
   (exact test of a 2 x 2 table).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from scattermorph.errors import ParameterError

__all__ = [
    "vote_fractions",
    "main_prediction",
    "domingos",
    "kohavi_wolpert",
    "brier_decomposition",
    "wilson_interval",
    "class_conditional_errors",
]


def _check_pred(pred, y, n_classes):
    pred = np.asarray(pred)
    y = np.asarray(y)
    if pred.ndim != 2 or y.ndim != 1 or pred.shape[1] != y.size or pred.shape[0] < 1:
        raise ParameterError(
            f"predictions of shape {pred.shape} and labels of shape {y.shape}: need "
            "(rounds, n_test) predictions for n_test labels"
        )
    k = int(n_classes)
    if pred.min(initial=0) < 0 or pred.max(initial=0) >= k or y.min(initial=0) < 0 or y.max(initial=0) >= k:
        raise ParameterError(f"labels must be integers in [0, {k}) (n_classes={k})")
    return pred.astype(np.int64), y.astype(np.int64), k


def vote_fractions(pred, n_classes) -> np.ndarray:
    """``P_D(y_D(x_i) = k)``: (n_test, n_classes) fractions of rounds voting k."""
    pred = np.asarray(pred, np.int64)
    r, n = pred.shape
    out = np.zeros((n, int(n_classes)))
    np.add.at(out, (np.tile(np.arange(n), r), pred.ravel()), 1.0)
    return out / r


def main_prediction(pred, n_classes) -> np.ndarray:
    """Mode of the predictions over rounds (ties: the smallest label)."""
    return np.argmax(vote_fractions(pred, n_classes), axis=1)


def domingos(pred, y, n_classes=2, posterior=None) -> dict:
    """Domingos (2000) decomposition of the expected 0-1 loss.

    Parameters
    ----------
    pred : (R, n) array_like of int
        Predictions of ``R`` training rounds on ``n`` test points.
    y : (n,) array_like of int
        True labels (used as ``y*`` when ``posterior`` is None).
    n_classes : int
    posterior : (n, n_classes) array_like, optional
        Bayes posterior ``P(t = k | x_i)``; gives the noise term (two classes
        only). None: noise-free (``y* = y``).

    Returns
    -------
    dict
        Per point (arrays of shape (n,)): ``loss_i``, ``noise_i``, ``bias_i``,
        ``variance_i``, ``c1_i``, ``c2_i``, ``main``; averages (floats):
        ``loss``, ``noise``, ``noise_term`` (mean c1 N), ``bias``,
        ``variance`` (mean V), ``variance_unbiased`` (V_u), ``variance_biased``
        (V_b), ``net_variance`` (V_u - V_b), so that ``loss = noise_term + bias
        + net_variance`` to round-off.
    """
    pred, y, k = _check_pred(pred, y, n_classes)
    pd_ = vote_fractions(pred, k)
    ym = np.argmax(pd_, axis=1)
    idx = np.arange(y.size)
    if posterior is None:
        ystar = y
        noise = np.zeros(y.size)
        c1 = np.zeros(y.size)
        loss = 1.0 - pd_[idx, y]
    else:
        post = np.asarray(posterior, float)
        if post.shape != (y.size, k):
            raise ParameterError(f"posterior of shape {post.shape}: need ({y.size}, {k})")
        if k != 2:
            raise ParameterError("the noise term is implemented for two classes only")
        ystar = np.argmax(post, axis=1)
        noise = 1.0 - post[idx, ystar]
        c1 = 2.0 * pd_[idx, ystar] - 1.0
        loss = 1.0 - np.sum(pd_ * post, axis=1)
    bias = (ym != ystar).astype(float)
    var = 1.0 - pd_[idx, ym]
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(var > 0, pd_[idx, ystar] / var, 0.0)
    c2 = np.where(bias == 0, 1.0, -cond)
    n = y.size
    vu = float(np.sum(var * (bias == 0)) / n)
    vb = float(np.sum(-c2 * var * (bias == 1)) / n)
    return {
        "loss_i": loss,
        "noise_i": noise,
        "bias_i": bias,
        "variance_i": var,
        "c1_i": c1,
        "c2_i": c2,
        "main": ym,
        "loss": float(loss.mean()),
        "noise": float(noise.mean()),
        "noise_term": float(np.mean(c1 * noise)),
        "bias": float(bias.mean()),
        "variance": float(var.mean()),
        "variance_unbiased": vu,
        "variance_biased": vb,
        "net_variance": vu - vb,
    }


def kohavi_wolpert(pred, y, n_classes=2, posterior=None) -> dict:
    """Kohavi & Wolpert (1996) decomposition of the expected 0-1 loss.

    Returns the averages ``loss``, ``sigma2`` (noise), ``bias2`` and
    ``variance`` over the test points, with ``loss = sigma2 + bias2 +
    variance`` to round-off. ``posterior`` as in :func:`domingos` (any number
    of classes); None: the one-hot labels.
    """
    pred, y, k = _check_pred(pred, y, n_classes)
    pd_ = vote_fractions(pred, k)
    pt = np.eye(k)[y] if posterior is None else np.asarray(posterior, float)
    loss = 1.0 - np.sum(pt * pd_, axis=1)
    bias2 = 0.5 * np.sum((pt - pd_) ** 2, axis=1)
    var = 0.5 * (1.0 - np.sum(pd_**2, axis=1))
    sigma2 = 0.5 * (1.0 - np.sum(pt**2, axis=1))
    return {
        "loss": float(loss.mean()),
        "sigma2": float(sigma2.mean()),
        "bias2": float(bias2.mean()),
        "variance": float(var.mean()),
    }


def brier_decomposition(proba, y, posterior=None) -> dict:
    """Bias-variance decomposition of the Brier score of probabilities.

    Parameters
    ----------
    proba : (R, n, K) array_like
        Class probabilities of every round on every test point.
    y : (n,) array_like of int
    posterior : (n, K) array_like, optional
        Bayes posterior; None: one-hot labels (no noise).

    Returns
    -------
    dict of floats
        ``brier`` (expected ``1/2 sum_k (p_k - e_k)^2``), ``bias``
        (``1/2 |p_bar - pi|^2``), ``variance`` (``1/2 E_D |p_D - p_bar|^2``),
        ``noise`` (``1/2 E_t |e_t - pi|^2``), averaged over test points;
        ``brier = bias + variance + noise`` to round-off.
    """
    proba = np.asarray(proba, float)
    y = np.asarray(y, np.int64)
    if proba.ndim != 3 or proba.shape[1] != y.size:
        raise ParameterError(f"proba of shape {proba.shape}: need (rounds, {y.size}, n_classes)")
    k = proba.shape[2]
    pi = np.eye(k)[y] if posterior is None else np.asarray(posterior, float)
    # E_t |p - e_t|^2 = |p - pi|^2 + E_t |e_t - pi|^2 for each round
    noise_i = 0.5 * (1.0 - np.sum(pi**2, axis=1))
    brier_i = 0.5 * np.mean(np.sum((proba - pi) ** 2, axis=2), axis=0) + noise_i
    pbar = proba.mean(axis=0)
    bias_i = 0.5 * np.sum((pbar - pi) ** 2, axis=1)
    var_i = 0.5 * np.mean(np.sum((proba - pbar) ** 2, axis=2), axis=0)
    return {
        "brier": float(brier_i.mean()),
        "bias": float(bias_i.mean()),
        "variance": float(var_i.mean()),
        "noise": float(noise_i.mean()),
    }


def wilson_interval(k, n, confidence=0.95):
    """Wilson (1927) score interval of a binomial proportion ``k / n``.

    Returns ``(low, high)``; ``(nan, nan)`` for ``n = 0``. Works elementwise
    on arrays.
    """
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence={confidence} must be in (0, 1)")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lo, hi


def class_conditional_errors(pred, y, n_classes=2, confidence=0.95) -> dict:
    """Error rate per true class, with intervals and a test of their difference.

    Parameters
    ----------
    pred : (R, n) array_like of int
        Predictions of every round (the main prediction is their mode).
    y : (n,) array_like of int
    n_classes : int
    confidence : float
        Of the Wilson intervals.

    Returns
    -------
    dict
        For each class ``c``: ``n_<c>`` test points, ``errors_<c>`` of the
        main prediction, ``error_<c>`` (rate), ``error_<c>_lo`` /
        ``error_<c>_hi`` (Wilson), ``expected_error_<c>`` (the error rate in
        class c averaged over rounds, ``mean_i (1 - P_D(c))``); and, for two
        classes, ``fisher_p`` (two-sided Fisher exact p-value of equal error
        rates; NaN if a class has no test point).
    """
    pred, y, k = _check_pred(pred, y, n_classes)
    pd_ = vote_fractions(pred, k)
    ym = np.argmax(pd_, axis=1)
    out = {}
    table = []
    for c in range(k):
        sel = y == c
        n_c = int(sel.sum())
        e_c = int(np.sum(ym[sel] != c))
        lo, hi = wilson_interval(e_c, n_c, confidence)
        out[f"n_{c}"] = n_c
        out[f"errors_{c}"] = e_c
        out[f"error_{c}"] = e_c / n_c if n_c else float("nan")
        out[f"error_{c}_lo"] = float(lo)
        out[f"error_{c}_hi"] = float(hi)
        out[f"expected_error_{c}"] = float(np.mean(1.0 - pd_[sel, c])) if n_c else float("nan")
        table.append([e_c, n_c - e_c])
    if k == 2:
        if min(out["n_0"], out["n_1"]) == 0:
            out["fisher_p"] = float("nan")
        else:
            out["fisher_p"] = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    return out
