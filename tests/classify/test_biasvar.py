"""Bias-variance decompositions (scattermorph.classify.biasvar): identities on random
predictions, a synthetic two-Gaussian problem with a known Bayes error, and
the class-conditional statistics."""

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from scattermorph.classify.biasvar import (
    brier_decomposition,
    class_conditional_errors,
    domingos,
    kohavi_wolpert,
    main_prediction,
    vote_fractions,
    wilson_interval,
)
from scattermorph.errors import ParameterError

# sums of a few hundred O(1) terms: round-off ~1e-15, 1e-12 leaves margin
ROUND_OFF = 1e-12


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("rounds", [1, 2, 7, 50])
def test_domingos_identity_on_random_predictions(k, rounds, rng):
    pred = rng.integers(0, k, (rounds, 300))
    y = rng.integers(0, k, 300)
    d = domingos(pred, y, k)
    # the expected loss is the brute-force mean of the 0-1 losses
    assert d["loss"] == pytest.approx(np.mean(pred != y[None, :]), abs=ROUND_OFF)
    assert d["loss"] == pytest.approx(d["noise_term"] + d["bias"] + d["net_variance"], abs=ROUND_OFF)
    np.testing.assert_allclose(d["loss_i"], d["c1_i"] * d["noise_i"] + d["bias_i"] + d["c2_i"] * d["variance_i"],
                               atol=ROUND_OFF)
    assert 0 <= d["bias"] <= 1 and 0 <= d["variance"] <= 1 - 1 / k + ROUND_OFF


def test_domingos_identity_with_noise(rng):
    pred = rng.integers(0, 2, (9, 400))
    p1 = rng.random(400)
    post = np.stack([1 - p1, p1], axis=1)
    y = rng.integers(0, 2, 400)  # not used as y* when the posterior is given
    d = domingos(pred, y, 2, posterior=post)
    # expected loss over labels t ~ posterior and rounds, by brute force
    brute = np.mean(np.where(pred == 1, 1 - p1, p1))
    assert d["loss"] == pytest.approx(brute, abs=ROUND_OFF)
    assert d["loss"] == pytest.approx(d["noise_term"] + d["bias"] + d["net_variance"], abs=ROUND_OFF)
    assert d["noise"] == pytest.approx(np.mean(np.minimum(p1, 1 - p1)), abs=ROUND_OFF)


@pytest.mark.parametrize("k", [2, 4])
def test_kohavi_wolpert_and_brier_identities(k, rng):
    pred = rng.integers(0, k, (11, 200))
    y = rng.integers(0, k, 200)
    kw = kohavi_wolpert(pred, y, k)
    assert kw["loss"] == pytest.approx(np.mean(pred != y[None, :]), abs=ROUND_OFF)
    assert kw["loss"] == pytest.approx(kw["sigma2"] + kw["bias2"] + kw["variance"], abs=ROUND_OFF)
    post = rng.dirichlet(np.ones(k), 200)
    kwn = kohavi_wolpert(pred, y, k, posterior=post)
    assert kwn["loss"] == pytest.approx(kwn["sigma2"] + kwn["bias2"] + kwn["variance"], abs=ROUND_OFF)
    proba = rng.dirichlet(np.ones(k), (11, 200))
    for p in (None, post):
        b = brier_decomposition(proba, y, posterior=p)
        pi = np.eye(k)[y] if p is None else p
        # brute force: E_t E_D 1/2 |p - e_t|^2 with t ~ pi
        brute = np.mean([
            np.sum(pi[i, t] * 0.5 * np.mean(np.sum((proba[:, i] - np.eye(k)[t]) ** 2, axis=1)))
            for i in range(200) for t in range(k)
        ]) * k
        assert b["brier"] == pytest.approx(brute, abs=ROUND_OFF)
        assert b["brier"] == pytest.approx(b["bias"] + b["variance"] + b["noise"], abs=ROUND_OFF)


def test_main_prediction_ties_go_to_smallest_label():
    pred = np.array([[0, 1, 2], [1, 0, 2], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(main_prediction(pred, 3), [0, 0, 0])
    np.testing.assert_allclose(vote_fractions(pred, 3)[2], [0.5, 0, 0.5])


# --------------------------------------------------------------------------
# synthetic two-Gaussian problem: x ~ N(+-mu e1, I) in 2D, equal priors.
# Bayes rule: sign(x1); Bayes error Phi(-mu); posterior 1 / (1 + exp(-2 mu x1)).
# --------------------------------------------------------------------------
MU = 1.0


def _gaussians(n, rng, mu=MU):
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2))
    x[:, 0] += np.where(y == 1, mu, -mu)
    return x, y


def _posterior(x, mu=MU):
    p1 = 1 / (1 + np.exp(-2 * mu * x[:, 0]))
    return np.stack([1 - p1, p1], axis=1)


def _bootstrap_predictions(make, xtr, ytr, xte, rounds, rng):
    preds = []
    for _ in range(rounds):
        idx = rng.integers(0, len(ytr), len(ytr))
        preds.append(make().fit(xtr[idx], ytr[idx]).predict(xte))
    return np.array(preds)


def test_recovers_the_bayes_error(rng):
    """Logistic regression is the right model here: with 2000 training points
    its excess risk is O(d / n) ~ 1e-3, so the expected loss, decomposed with
    the known posterior, is the Bayes error (noise) plus a small remainder.
    4000 test points: the noise term estimates Phi(-1) = 0.1587 with standard
    error sqrt(var(min(p, 1-p)) / 4000) < 0.003; tolerance 0.012 (4 SE)."""
    bayes = stats.norm.cdf(-MU)
    xtr, ytr = _gaussians(2000, rng)
    xte, yte = _gaussians(4000, rng)
    pred = _bootstrap_predictions(LogisticRegression, xtr, ytr, xte, 20, rng)
    d = domingos(pred, yte, 2, posterior=_posterior(xte))
    assert d["noise"] == pytest.approx(bayes, abs=0.012)
    assert d["loss"] == pytest.approx(bayes, abs=0.015)
    assert d["bias"] < 0.02 and d["variance"] < 0.02  # a near-Bayes learner
    # noise-free convention (y* = label): the Bayes error lands in the bias
    d0 = domingos(pred, yte, 2)
    assert d0["bias"] == pytest.approx(bayes, abs=0.02)


def test_knn_variance_falls_as_k_grows(rng):
    """The variance of k-NN falls as k grows (Hastie et al. 2009, sec. 7.3:
    ~1/k for squared error). Under the bootstrap 1-NN is partly smoothed
    already (a resample holds ~63 % of the points, each repeated), so the
    0-1 variance falls from k = 1 to 7 by only ~10 %: each step must fall by
    at least 5 % (Monte-Carlo error of 30 rounds x 1000 points ~1 %), and
    k = 101 must have less than half the variance of k = 1."""
    xtr, ytr = _gaussians(400, rng)
    xte, yte = _gaussians(1000, rng)
    post = _posterior(xte)
    var, loss = [], []
    for k in (1, 7, 31, 101):
        pred = _bootstrap_predictions(lambda: KNeighborsClassifier(k), xtr, ytr, xte, 30, rng)
        d = domingos(pred, yte, 2, posterior=post)
        var.append(d["variance"])
        loss.append(d["loss"])
    assert all(a > 1.05 * b for a, b in zip(var, var[1:])), var
    assert var[0] > 2 * var[-1], var
    assert loss[0] > loss[-1]  # 1-NN is worse: its error is variance


def test_too_simple_model_has_high_bias(rng):
    """Concentric classes (N(0, I) vs N(0, 9 I)): the Bayes boundary is a
    circle, which a linear model cannot draw; its bias (majority vote off the
    Bayes prediction) must be large, that of k-NN small."""
    n = 3000
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) * np.where(y == 1, 3.0, 1.0)[:, None]
    r2 = np.sum(x**2, axis=1)
    l0 = np.exp(-r2 / 2) / 1.0
    l1 = np.exp(-r2 / 18) / 9.0
    post = np.stack([l0 / (l0 + l1), l1 / (l0 + l1)], axis=1)
    tr, te = slice(0, 1500), slice(1500, None)
    lin = _bootstrap_predictions(LogisticRegression, x[tr], y[tr], x[te], 20, rng)
    knn = _bootstrap_predictions(lambda: KNeighborsClassifier(25), x[tr], y[tr], x[te], 20, rng)
    d_lin = domingos(lin, y[te], 2, posterior=post[te])
    d_knn = domingos(knn, y[te], 2, posterior=post[te])
    assert d_lin["bias"] > 0.25 and d_knn["bias"] < 0.1
    assert d_lin["bias"] > d_lin["variance"]
    assert d_lin["loss"] > d_knn["loss"] + 0.1


# --------------------------------------------------------------------------
# class-conditional errors
# --------------------------------------------------------------------------
def test_wilson_interval_known_values():
    # Wilson (1927); e.g. Newcombe, Stat. Med. 17, 857 (1998), table I:
    # 0/10 -> (0, 0.2775); 5/10 -> (0.2366, 0.7634); 1/29 -> (0.0061, 0.1718)
    lo, hi = wilson_interval([0, 5, 1], [10, 10, 29])
    np.testing.assert_allclose(lo, [0.0, 0.2366, 0.0061], atol=1e-4)
    np.testing.assert_allclose(hi, [0.2775, 0.7634, 0.1718], atol=1e-4)
    lo, hi = wilson_interval(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_class_conditional_errors_counts_and_fisher():
    y = np.array([0] * 40 + [1] * 20)
    main = np.zeros(60, int)  # always "class 0": biased against class 1
    main[:4] = 1
    pred = np.stack([main, main, main])
    ce = class_conditional_errors(pred, y)
    assert (ce["n_0"], ce["errors_0"], ce["n_1"], ce["errors_1"]) == (40, 4, 20, 20)
    assert ce["error_1"] == 1.0 and ce["error_0"] == 0.1
    assert ce["fisher_p"] == pytest.approx(stats.fisher_exact([[4, 36], [20, 0]]).pvalue)
    assert ce["fisher_p"] < 1e-6
    assert ce["error_0_lo"] <= 0.1 <= ce["error_0_hi"]
    # equal error rates: no evidence of bias
    main2 = y.copy()
    main2[:4] = 1
    main2[40:42] = 0
    ce2 = class_conditional_errors(main2[None, :], y)
    assert ce2["fisher_p"] == pytest.approx(1.0)


def test_bad_shapes_refused():
    with pytest.raises(ParameterError, match="rounds, n_test"):
        domingos(np.zeros(5, int), np.zeros(5, int))
    with pytest.raises(ParameterError, match="integers in"):
        domingos(np.full((2, 3), 2), np.zeros(3, int), 2)
