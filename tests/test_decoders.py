import numpy as np
import pytest
from joblib import parallel_config

from skunroll.decoding import l1_min_decode
from skunroll.exceptions import DecodingWarning


def _problem(positive, seed=0, m=25, d=80, k=3, n=6):
    rng = np.random.RandomState(seed)
    A = rng.randn(m, d) / np.sqrt(m)
    X = np.zeros((n, d))
    for row in X:
        support = rng.choice(d, k, replace=False)
        row[support] = rng.uniform(0.2, 1.0, k) * (1 if positive else rng.choice([-1, 1], k))
    return A, X


@pytest.mark.parametrize("solver", ["highs", "batched"])
@pytest.mark.parametrize("positive", [True, False])
def test_exact_recovery_of_sparse_vectors(positive, solver):
    A, X = _problem(positive)
    X_hat, info = l1_min_decode(A, X @ A.T, positive=positive, solver=solver, return_info=True)
    assert info["success"].all() and info["messages"] == [""] * len(X)
    assert info["certified"].all() == (solver == "batched")
    assert np.max(np.linalg.norm(X_hat - X, axis=1)) < 1e-10


@pytest.mark.parametrize("solver", ["highs", "batched"])
def test_l1_min_solution_is_feasible_and_minimal(solver):
    A, X = _problem(False, m=10, k=8)  # too few measurements: the LP need not find X
    Y = X @ A.T
    X_hat = l1_min_decode(A, Y, solver=solver)
    np.testing.assert_allclose(X_hat @ A.T, Y, atol=1e-8)
    assert np.all(np.abs(X_hat).sum(1) <= np.abs(X).sum(1) + 1e-8)


@pytest.mark.parametrize("solver", ["highs", "batched"])
def test_infeasible_rows_are_nan_and_reported(solver):
    A, X = _problem(True)
    A_pos = np.abs(A)
    Y = X @ A_pos.T
    Y[2] = -1.0  # A_pos x >= 0 for x >= 0: infeasible
    with pytest.warns(DecodingWarning, match=r"1 of 6 vectors.*rows 2\)"):
        X_hat, info = l1_min_decode(A_pos, Y, positive=True, solver=solver, return_info=True)
    success = info["success"]
    assert np.isnan(X_hat[2]).all() and not success[2]
    assert success[[0, 1, 3, 4, 5]].all() and np.isfinite(X_hat[[0, 1, 3, 4, 5]]).all()


@pytest.mark.parametrize("solver", ["highs", "batched"])
def test_parallel_equals_sequential(solver):
    A, X = _problem(True, n=7)
    Y = X @ A.T
    sequential = l1_min_decode(A, Y, positive=True, solver=solver, n_jobs=1)
    parallel = l1_min_decode(A, Y, positive=True, solver=solver, n_jobs=2)
    with parallel_config(backend="threading", n_jobs=3):
        threaded = l1_min_decode(A, Y, positive=True, solver=solver)
    # Row chunks of different sizes may round differently in the last bit.
    np.testing.assert_allclose(parallel, sequential, rtol=0, atol=1e-13)
    np.testing.assert_allclose(threaded, sequential, rtol=0, atol=1e-13)


def test_bad_shapes_and_values():
    A, X = _problem(True)
    with pytest.raises(ValueError, match="expected"):
        l1_min_decode(A, np.zeros((2, A.shape[0] + 1)))
    with pytest.raises(ValueError, match="NaN"):
        l1_min_decode(A, np.full((1, A.shape[0]), np.nan))
    assert l1_min_decode(A, np.zeros((0, A.shape[0]))).shape == (0, A.shape[1])


def test_inverse_transform_reports_failed_rows():
    from skunroll import GaussianMeasurement

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(5, 40)) * (rng.uniform(size=(5, 40)) < 0.1)
    class NonnegativeMeasurement(GaussianMeasurement):
        # A >= 0 (a user's own encoder): negative measurements are infeasible.
        def fit(self, X, y=None):
            super().fit(X, y)
            self.components_ = np.abs(self.components_)
            return self

    est = NonnegativeMeasurement(n_components=20, random_state=0).fit(X)
    Y = est.transform(X)
    Y[1] = -1.0
    # Certified infeasible; the estimators decode it to its nearest fit (here 0,
    # the nearest point of the cone) and say so.
    with pytest.warns(DecodingWarning, match=r"1 of 5 measurement vectors are infeasible.*rows 1"):
        X_hat = est.inverse_transform(Y)
    assert np.all(X_hat[1] == 0) and np.isfinite(X_hat).all()


def test_float32_input_is_still_recovered_exactly_by_score_and_float64_decoding():
    from skunroll import GaussianMeasurement
    from skunroll.metrics import exact_recovery_fraction

    A, X = _problem(True, m=40, d=80, k=3, n=5)
    est = GaussianMeasurement(n_components=40, random_state=0).fit(X)
    X32 = X.astype(np.float32)
    assert est.score(X32) > -1e-20
    X_hat = est.inverse_transform(est.transform(X32.astype(np.float64)))
    assert X_hat.dtype == np.float64
    assert exact_recovery_fraction(X32.astype(np.float64), X_hat) == 1.0
