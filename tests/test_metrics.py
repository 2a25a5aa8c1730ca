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
