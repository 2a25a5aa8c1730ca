"""Noise-aware decoders (lasso, BPDN): batched, certified, with an exact per-row fallback."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import Lasso

import skunroll.multilabel._compressed as compressed
from skunroll.datasets import make_block_sparse
from skunroll.decoding import bpdn_decode, lasso_decode, noise_alpha, noise_eps
from skunroll.exceptions import DecodingWarning
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.multilabel._noise_selection import NOISE_LEVEL_GRID
from skunroll.sensing import GaussianMeasurement, L1AEEncoder

from ._decoding import certify_support, homotopy_only


def noisy_problem(positive, m=40, d=200, n=40, noise=0.02, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(m, d)) / np.sqrt(m)
    X = np.zeros((n, d))
    for i in range(n):
        X[i, rng.choice(d, 5, replace=False)] = rng.uniform(1, 2, 5)
    if not positive:
        X *= rng.choice([-1.0, 1.0], size=X.shape)
    return A, X, X @ A.T + noise * rng.normal(size=(n, m))


def sklearn_lasso(A, y, alpha, positive):
    # scikit-learn scales the squared loss by 1 / (2 m).
    return Lasso(alpha=alpha / A.shape[0], positive=positive, fit_intercept=False, tol=1e-14,
                 max_iter=10**6).fit(A, y).coef_


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0])
def test_lasso_equals_a_reference_solver(positive, alpha):
    A, _, Y = noisy_problem(positive)
    X_hat, info = lasso_decode(A, Y, alpha=alpha, positive=positive, return_info=True)
    assert info["certified"].mean() >= 0.99 and info["success"].all()
    for x_hat, y in zip(X_hat[:15], Y[:15], strict=False):
        np.testing.assert_allclose(x_hat, sklearn_lasso(A, y, alpha, positive), atol=1e-8)
    if positive:
        assert X_hat.min() >= 0


@pytest.mark.parametrize("positive", [True, False])
def test_bpdn_meets_its_bound_and_is_the_lasso_at_its_multiplier(positive):
    A, X, Y = noisy_problem(positive)
    eps = noise_eps(A.shape[0], 0.02)
    X_hat, info = bpdn_decode(A, Y, eps=eps, positive=positive, return_info=True)
    assert info["certified"].mean() >= 0.99
    np.testing.assert_allclose(np.linalg.norm(X_hat @ A.T - Y, axis=1), eps, rtol=1e-9)
    # At the solution the multiplier is max A'r (max |A'r| for signed x); the lasso
    # there gives the same vector.
    correlation = (Y - X_hat @ A.T) @ A
    multiplier = (correlation if positive else np.abs(correlation)).max(axis=1)
    np.testing.assert_allclose(lasso_decode(A, Y, alpha=multiplier, positive=positive), X_hat,
                               atol=1e-9)
    # The truth is feasible (its residual is the noise), so BPDN's l1 norm is at most its.
    feasible = np.linalg.norm(X @ A.T - Y, axis=1) <= eps
    assert np.all(np.abs(X_hat).sum(1)[feasible] <= np.abs(X).sum(1)[feasible] + 1e-9)


def test_the_path_ends_at_zero_when_the_threshold_is_above_it():
    A, _, Y = noisy_problem(True, n=4)
    big = (Y @ A).max(axis=1) * 1.01
    assert np.all(lasso_decode(A, Y, alpha=big, positive=True) == 0)
    assert np.all(bpdn_decode(A, Y, eps=np.linalg.norm(Y, axis=1) * 1.01, positive=True) == 0)


@pytest.mark.parametrize("positive", [True, False])
def test_uncertified_rows_fall_back_to_the_exact_lars_path(monkeypatch, positive):
    A, _, Y = noisy_problem(positive, n=8)
    batched = lasso_decode(A, Y, alpha=0.05, positive=positive)
    batched_bpdn = bpdn_decode(A, Y, eps=0.1, positive=positive)
    monkeypatch.setattr("skunroll.decoding._api.batched_decode", homotopy_only(1, False))
    X_hat, info = lasso_decode(A, Y, alpha=0.05, positive=positive, return_info=True)
    assert not info["certified"].any() and info["success"].all()
    assert set(info["method"]) == {"lars"} and np.all(info["gap"] < 1e-12)
    np.testing.assert_allclose(X_hat, batched, atol=1e-9)
    np.testing.assert_allclose(bpdn_decode(A, Y, eps=0.1, positive=positive), batched_bpdn,
                               atol=1e-9)


@pytest.mark.parametrize("positive", [True, False])
def test_first_order_fallback_certifies_the_lasso(monkeypatch, positive):
    A, _, Y = noisy_problem(positive, n=8)
    reference = lasso_decode(A, Y, alpha=0.05, positive=positive)
    monkeypatch.setattr("skunroll.decoding._api.batched_decode", homotopy_only(2, True))
    X_hat, info = lasso_decode(A, Y, alpha=0.05, positive=positive, return_info=True)
    assert info["certified"].all() and set(info["method"]) == {"first-order"}
    np.testing.assert_allclose(X_hat, reference, atol=1e-6)


def test_lasso_certificate_accepts_only_the_kkt_point():
    A, _, Y = noisy_problem(True, n=1)
    alpha = 0.05
    x = sklearn_lasso(A, Y[0], alpha, True)
    support = np.flatnonzero(x > 1e-10).tolist()
    lam_start = float((Y @ A).max())

    def check(chosen, lam):
        return certify_support(A, Y[0], chosen, kind="lasso", lam=lam, lam_start=lam_start)

    z, ok, infeasible = check(support, alpha)
    assert ok and not infeasible
    np.testing.assert_allclose(z[: len(support)], x[support], atol=1e-8)
    assert not check(support[:-1], alpha)[1]  # a column missing: KKT fails off the support
    assert not check(support, alpha * 1.5)[1]  # another alpha: not this problem's point


def test_bad_thresholds_are_named():
    A, _, Y = noisy_problem(True, n=3)
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        lasso_decode(A, Y, alpha=-1.0)
    with pytest.raises(ValueError, match=r"eps has shape \(2,\)"):
        bpdn_decode(A, Y, eps=[0.1, 0.2])


def test_noise_rules():
    A = np.array([[3.0, 0.0], [4.0, 1.0]])
    assert noise_alpha(A, 1.0, positive=True) == pytest.approx(5 * np.sqrt(2 * np.log(2)))
    assert noise_alpha(A, 1.0) == pytest.approx(5 * np.sqrt(2 * np.log(4)))
    assert noise_eps(8, 2.0) == pytest.approx(2 * np.sqrt(8 + 2 * 4))


@pytest.mark.parametrize("Estimator", [GaussianMeasurement, L1AEEncoder])
def test_estimators_decode_float32_measurements_with_the_noise_aware_decoders(Estimator):
    X = make_block_sparse(n_samples=60, n_features=200, random_state=0)
    X = np.asarray(X.toarray() if sp.issparse(X) else X)
    params = {"max_epochs": 2} if Estimator is L1AEEncoder else {}
    estimator = Estimator(60, random_state=0, **params).fit(X)
    Y32 = estimator.transform(X.astype(np.float32))
    assert Y32.dtype == np.float32
    exact = estimator.inverse_transform(estimator.transform(X))
    for decoder in ("lasso-pos", "bpdn-pos", "lasso", "bpdn"):
        X_hat = estimator.set_params(decoder=decoder).inverse_transform(Y32)
        # noise_level="auto": float32 rounding; the answers are within it of the exact ones.
        np.testing.assert_allclose(X_hat, exact, atol=1e-4)
    with pytest.raises(ValueError, match="decoder='lasso-pos' assumes nonnegative"):
        estimator.set_params(decoder="lasso-pos", nonnegative=False).inverse_transform(Y32)


def labels_data(n_labels=60, seed=0):
    from sklearn.datasets import make_multilabel_classification
    from sklearn.preprocessing import normalize

    X, Y = make_multilabel_classification(900, n_features=200, n_classes=n_labels, n_labels=3,
                                          length=300, random_state=seed)
    return normalize(X.astype(float)), Y


def test_default_classifier_decodes_predicted_embeddings_with_the_chosen_lasso():
    from skunroll.metrics import precision_at_k

    X, Y = labels_data()
    clf = CompressedLabelClassifier(GaussianMeasurement(20, random_state=0), random_state=0)
    clf.fit(X[:700], Y[:700])
    assert clf.decoder_ == "lasso-pos"
    scores = dict(clf.noise_level_scores_)
    linear_score = scores.pop("linear")
    levels = list(scores)
    # Every candidate is shown, scanned from the largest level down; those after
    # the scan stopped are NaN.
    assert len(levels) == len(NOISE_LEVEL_GRID) and clf.noise_level_ in levels
    assert levels == sorted(levels, reverse=True)
    scored = [level for level in levels if np.isfinite(scores[level])]
    assert scored == levels[:len(scored)] and len(scored) >= 3
    # The best held-out precision, the largest level on ties, never below A^T z.
    best = max(scores[level] for level in scored)
    assert scores[clf.noise_level_] == best >= linear_score
    assert all(scores[level] < best for level in scored if level > clf.noise_level_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DecodingWarning)  # no infeasible rows, no fallbacks
        scores = clf.decision_function(X[700:])
    linear = CompressedLabelClassifier(GaussianMeasurement(20, random_state=0), decoder="linear",
                                       random_state=0).fit(X[:700], Y[:700])
    p_lasso = precision_at_k(Y[700:], scores, k=1)
    p_linear = precision_at_k(Y[700:], linear.decision_function(X[700:]), k=1)
    assert p_lasso >= p_linear - 0.03
    # A fixed noise level is used as given, without a held-out split.
    fixed = CompressedLabelClassifier(GaussianMeasurement(20, random_state=0), noise_level=0.01,
                                      random_state=0).fit(X[:700], Y[:700])
    assert fixed.noise_level_ == 0.01 and fixed.noise_level_scores_ == {}


def test_labels_the_lasso_leaves_at_zero_rank_by_their_residual_correlation():
    X, Y = labels_data()
    clf = CompressedLabelClassifier(GaussianMeasurement(20, random_state=0),
                                    noise_level=1e3, random_state=0).fit(X[:700], Y[:700])
    A = clf.encoder_.components_
    embedding = clf.regressor_.predict(X[700:710])
    scores = clf.decision_function(X[700:710])  # a huge noise level: every label at zero
    assert np.all(scores < 0)
    gain = embedding @ A / np.linalg.norm(A, axis=0)  # the residual is the embedding
    np.testing.assert_array_equal(np.argsort(-scores, axis=1, kind="stable"),
                                  np.argsort(-gain, axis=1, kind="stable"))
    # With a few labels selected, they come first, then the others by the gain
    # on the residual that is left.
    clf = clone(clf).set_params(noise_level=0.05).fit(X[:700], Y[:700])
    scores = clf.decision_function(X[700:710])
    selected = scores > 0
    assert selected.any(axis=1).all() and (selected.sum(axis=1) < 20).all()
    assert np.all(scores[selected].min() > scores[~selected].max())


def test_large_label_sets_predict_sparse_top_k_in_blocks(monkeypatch):
    # 20,000 labels: scores are held a block of rows at a time, never n x L.
    rng = np.random.RandomState(0)
    n, n_labels = 300, 20000
    rows = np.repeat(np.arange(n), 2)
    Y = sp.csr_matrix((np.ones(2 * n), (rows, rng.randint(n_labels, size=2 * n))),
                      shape=(n, n_labels))
    Y.data[:] = 1.0
    X = np.asarray(Y @ rng.normal(size=(n_labels, 30))) + 0.1 * rng.normal(size=(n, 30))
    clf = CompressedLabelClassifier(GaussianMeasurement(30, random_state=0), noise_level=0.05,
                                    top_k=3, random_state=0).fit(X, Y)
    monkeypatch.setattr(compressed, "SCORE_BLOCK_ELEMENTS", 50 * n_labels)
    blocks = []
    decode = clf._decode

    def spy(embedding):
        scores = decode(embedding)
        blocks.append(scores.shape)
        return scores

    monkeypatch.setattr(clf, "_decode", spy)
    predicted = clf.predict(X)
    assert sp.issparse(predicted) and predicted.shape == (n, n_labels)
    np.testing.assert_array_equal(np.diff(predicted.indptr), 3)
    assert len(blocks) == 6 and max(rows for rows, _ in blocks) == 50
    scores = clf.decision_function(X[:10])
    assert sp.issparse(scores) and scores.nnz <= 10 * compressed.N_SPARSE_SCORES


@pytest.mark.slow
def test_choosing_the_noise_level_scores_held_out_rows_in_blocks(monkeypatch):
    rng = np.random.RandomState(0)
    n, n_labels = 400, 5000
    Y = sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2),
                                         rng.randint(n_labels, size=2 * n))),
                      shape=(n, n_labels))
    Y.data[:] = 1.0
    X = np.asarray(Y @ rng.normal(size=(n_labels, 30))) + 0.1 * rng.normal(size=(n, 30))
    monkeypatch.setattr(compressed, "SCORE_BLOCK_ELEMENTS", 20 * n_labels)
    sizes = []
    noisy_scores = CompressedLabelClassifier._noisy_scores

    def spy(self, embedding, level, **kwargs):
        sizes.append(len(embedding))
        return noisy_scores(self, embedding, level, **kwargs)

    monkeypatch.setattr(CompressedLabelClassifier, "_noisy_scores", spy)
    clf = CompressedLabelClassifier(GaussianMeasurement(30, random_state=0), top_k=3,
                                    random_state=0).fit(X, Y)
    assert clf.noise_level_scores_ and max(sizes) == 20 and sum(sizes) % 80 == 0
