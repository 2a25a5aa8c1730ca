"""The batched exact l1-min decoder (groundwork of the performance issue)."""

import numpy as np
import pytest

from skunroll.datasets import make_block_sparse
from skunroll.sensing import l1_min_decode
from skunroll.sensing._batched import _certify, batched_l1_min_decode


def problem(m=60, n_samples=40, seed=0):
    X = make_block_sparse(n_samples=n_samples, n_features=300, random_state=seed)
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    A = np.random.RandomState(seed).normal(size=(m, 300)) / np.sqrt(m)
    return X, A, X @ A.T


@pytest.mark.parametrize("positive", [True, False])
def test_batched_answers_equal_the_exact_lp(positive):
    _, A, Y = problem()
    X_batched, info = batched_l1_min_decode(A, Y, positive=positive, return_info=True)
    X_lp = l1_min_decode(A, Y, positive=positive)
    np.testing.assert_allclose(X_batched, X_lp, atol=1e-8)
    # Most vectors are certified by the first-order phase; the rest came from the LP.
    assert info["certified"].mean() > 0.5
    assert np.all(info["iterations"][~info["certified"]] == -1)


def test_uncertified_vectors_fall_back_to_the_lp():
    _, A, Y = problem(n_samples=5)
    X, info = batched_l1_min_decode(A, Y, positive=True, max_iter=1, check_every=1,
                                    return_info=True)
    assert not info["certified"].any()  # one iteration certifies nothing
    np.testing.assert_allclose(X, l1_min_decode(A, Y, positive=True), atol=1e-12)


def test_certificate_accepts_only_optimal_vertices():
    # Every feasible vertex (basic solution on 3 of 6 columns) of a small LP:
    # the certificate holds exactly for those as cheap as the LP optimum.
    from itertools import combinations

    rng = np.random.RandomState(0)
    B = rng.normal(size=(3, 6))
    y = B @ np.abs(rng.normal(size=6))
    optimum = l1_min_decode(B, y[None], positive=True)[0].sum()
    seen = {"optimal": 0, "suboptimal": 0}
    for support in combinations(range(6), 3):
        z_S = np.linalg.solve(B[:, support], y)
        if np.any(z_S <= 0):
            continue
        z = np.zeros(6)
        z[list(support)] = z_S
        optimal = z.sum() <= optimum + 1e-9
        seen["optimal" if optimal else "suboptimal"] += 1
        assert (_certify(B, y, z, np.zeros(3), 1e-9) is not None) == optimal
    assert seen["optimal"] >= 1 and seen["suboptimal"] >= 1
    assert _certify(B, np.zeros(3), np.zeros(6), np.zeros(3), 1e-9) is not None


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN"):
        batched_l1_min_decode(np.ones((2, 3)), np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="columns"):
        batched_l1_min_decode(np.ones((2, 3)), np.ones((1, 3)))
