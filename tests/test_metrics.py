import numpy as np
import pytest
import scipy.sparse as sp

from skunroll.metrics import exact_recovery_fraction, recovery_rmse, squared_errors


def test_squared_errors_sparse_equals_dense():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(20, 30)) * (rng.uniform(size=(20, 30)) < 0.2)
    X_hat = X + rng.normal(scale=0.1, size=X.shape)
    X_hat[:5] = X[:5] + 1e-13  # nearly exact rows must stay exact under the sparse formula
    dense = squared_errors(X, X_hat)
    np.testing.assert_allclose(squared_errors(sp.csr_matrix(X), X_hat), dense, rtol=1e-10,
                               atol=1e-24)
    assert np.all(np.sqrt(squared_errors(sp.csr_matrix(X), X_hat)[:5]) < 1e-10)


def test_exact_recovery_threshold_and_nan():
    X = np.eye(4)
    X_hat = X.copy()
    X_hat[1, 1] += 1e-11   # below 1e-10: exact
    X_hat[2, 2] += 1e-9    # above: not exact
    X_hat[3] = np.nan      # failed decode: not exact
    assert exact_recovery_fraction(X, X_hat) == 0.5
    assert exact_recovery_fraction(X, X_hat, tol=1e-8) == 0.75


def test_rmse():
    X = np.zeros((2, 3))
    X_hat = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    assert recovery_rmse(X, X_hat) == pytest.approx(np.sqrt(25 / 2))
    with pytest.raises(ValueError, match="features"):
        recovery_rmse(X, X_hat[:, :2])


def test_dictionary_recovery_error_ignores_order_and_sign():
    from skunroll.datasets import make_nonnegative_sparse_code
    from skunroll.metrics import dictionary_recovery_error

    _, D, _ = make_nonnegative_sparse_code(10, 60, 120, random_state=0)
    permutation = np.random.RandomState(0).permutation(120)
    signs = np.where(np.arange(120) % 2, -1.0, 1.0)
    shuffled = 3 * signs[:, None] * D[permutation]
    error, matching, matched_signs = dictionary_recovery_error(D, shuffled, return_matching=True)
    assert error == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(permutation[matching], np.arange(120))
    np.testing.assert_array_equal(matched_signs, signs[matching])
    # A random dictionary is far off (the anchor: about 0.66 for h = 120, n = 60).
    random = np.random.RandomState(1).normal(size=(120, 60))
    assert 0.6 < dictionary_recovery_error(D, random) < 0.72
    with pytest.raises(ValueError, match="fewer than"):
        dictionary_recovery_error(D, D[:10])


def test_support_precision_recall_counts_entries():
    from skunroll.metrics import support_precision_recall

    true = np.array([[1.0, 0, 2, 0], [0, 0, 1, 1]])
    pred = np.array([[0.5, 0.2, 0, 0], [0, 0, 3, 0.01]])
    assert support_precision_recall(true, pred) == (0.75, 0.75)
    assert support_precision_recall(true, pred, tol=0.1) == (2 / 3, 0.5)
    with pytest.raises(ValueError, match="shape"):
        support_precision_recall(true, pred[:, :3])
