"""The batched l1-min decoder: a certified homotopy with an exact-LP fallback."""

from itertools import combinations

import numpy as np
import pytest

from skunroll.datasets import make_block_sparse
from skunroll.decoding import l1_min_decode
from skunroll.exceptions import DecodingWarning
from skunroll.sensing import GaussianMeasurement, L1AEEncoder

from ._decoding import certify_support, homotopy_only


def block_sparse_problem(m=60, n_samples=60, d=300, seed=0, signed=False):
    X = make_block_sparse(n_samples=n_samples, n_features=d, random_state=seed)
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    rng = np.random.RandomState(seed)
    if signed:
        X = X * rng.choice([-1.0, 1.0], size=X.shape)
    A = rng.normal(size=(m, d)) / np.sqrt(m)
    return X, A, X @ A.T


def l1_cost(X):
    return np.abs(X).sum(axis=1)


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("m", [25, 40, 60])
def test_batched_answers_are_the_lp_answers(positive, m):
    # m = 25 is below the recovery edge here, 60 above it: the LP's answer is
    # the truth for some vectors and something else for others.
    X, A, Y = block_sparse_problem(m=m, signed=not positive)
    X_batched, info = l1_min_decode(A, Y, positive=positive, solver="batched", return_info=True)
    X_lp = l1_min_decode(A, Y, positive=positive, solver="highs")
    # (0.92 without the rule that a column which just left may not rejoin at once.)
    assert info["success"].all() and info["certified"].mean() >= 0.97
    # Same objective to LP precision, feasible, and the same vectors (the
    # solutions are unique for these random matrices).
    np.testing.assert_allclose(l1_cost(X_batched), l1_cost(X_lp), rtol=1e-8)
    np.testing.assert_allclose(X_batched @ A.T, Y, atol=1e-9)
    np.testing.assert_allclose(X_batched, X_lp, atol=1e-7)
    if positive:
        assert X_batched.min() >= 0
    # Wherever the LP recovers the truth, the certified answer is the truth to 1e-10.
    recovered = np.abs(X_lp - X).max(axis=1) < 1e-6
    certified = info["certified"]
    assert np.abs(X_batched - X)[recovered & certified].max(initial=0) < 1e-10


def test_recovery_fraction_equals_the_lp_above_the_edge():
    X, A, Y = block_sparse_problem(m=60, n_samples=150, d=400)
    X_batched = l1_min_decode(A, Y, positive=True)
    X_lp = l1_min_decode(A, Y, positive=True, solver="highs")
    exact_batched = np.abs(X_batched - X).max(axis=1) < 1e-8
    exact_lp = np.abs(X_lp - X).max(axis=1) < 1e-8
    assert exact_lp.mean() > 0.5
    np.testing.assert_array_equal(exact_batched, exact_lp)


def test_uncertified_vectors_fall_back_to_highs(monkeypatch):
    X, A, Y = block_sparse_problem(n_samples=6)
    monkeypatch.setattr("skunroll.decoding._api.batched_decode", homotopy_only(1, False))
    X_hat, info = l1_min_decode(A, Y, positive=True, solver="batched", return_info=True)
    assert not info["certified"].any() and info["success"].all()
    assert set(info["method"]) == {"highs"}
    np.testing.assert_allclose(X_hat, l1_min_decode(A, Y, positive=True, solver="highs"),
                               atol=1e-12)


@pytest.mark.parametrize("positive", [True, False])
def test_first_order_fallback_certifies_what_the_homotopy_gives_up(monkeypatch, positive):
    # Paths cut after 3 breakpoints leave every row to the batched PDHG, warm-started
    # from there; each row is certified (exactly on its support, or by a gap of at
    # most 1e-6) and agrees with HiGHS to 1e-6, above and below the recovery edge.
    for m in (25, 60):
        X, A, Y = block_sparse_problem(m=m, n_samples=12, signed=not positive)
        monkeypatch.setattr("skunroll.decoding._api.batched_decode", homotopy_only(3, True))
        X_hat, info = l1_min_decode(A, Y, positive=positive, return_info=True)
        monkeypatch.undo()
        assert info["certified"].all() and set(info["method"]) == {"first-order"}
        assert np.all(info["gap"] <= 1e-6)
        X_lp = l1_min_decode(A, Y, positive=positive, solver="highs")
        np.testing.assert_allclose(X_hat, X_lp, atol=1e-6)


def test_path_lengths_follow_the_support_size():
    # Donoho-Tsaig's k-step property: well inside the recovery region the path
    # adds the k true columns one by one, so it needs about k breakpoints.
    X, A, Y = block_sparse_problem(m=120, n_samples=40)
    _, info = l1_min_decode(A, Y, positive=True, return_info=True)
    assert info["certified"].all() and set(info["method"]) == {"homotopy"}
    k = (X != 0).sum(axis=1)
    assert np.all(info["steps"] >= k) and np.median(info["steps"] - k) <= 2


def test_certificate_accepts_only_optimal_vertices():
    # Every feasible vertex (basic solution on 3 of 7 columns) of a small LP:
    # the certificate holds exactly for those as cheap as the LP optimum.
    rng = np.random.RandomState(0)
    B = rng.normal(size=(3, 7))
    y = B @ np.abs(rng.normal(size=7))
    optimum = l1_min_decode(B, y[None], positive=True, solver="highs")[0].sum()
    seen = {"optimal": 0, "suboptimal": 0}
    for support in combinations(range(7), 3):
        z_S = np.linalg.solve(B[:, support], y)
        if np.any(z_S <= 0):
            continue
        optimal = z_S.sum() <= optimum + 1e-9
        seen["optimal" if optimal else "suboptimal"] += 1
        z, ok, infeasible = certify_support(B, y, list(support))
        assert not infeasible
        assert ok == optimal
        if ok:
            np.testing.assert_allclose(z, z_S, rtol=1e-12)
    assert seen["optimal"] >= 1 and seen["suboptimal"] >= 1


def test_a_small_true_coefficient_is_kept():
    # Entries spanning ten orders of magnitude: the support is not read off by
    # size, so the 1e-4 entry survives (certified, or solved by HiGHS).
    rng = np.random.RandomState(0)
    A = rng.normal(size=(40, 200)) / np.sqrt(40)
    x = np.zeros(200)
    x[[3, 50, 80, 120, 150]] = [1e6, 1e-4, 1.0, 1.0, 1.0]
    X_hat = l1_min_decode(A, (A @ x)[None], positive=True)
    assert abs(X_hat[0, 50] - 1e-4) < 1e-9
    np.testing.assert_allclose(X_hat[0], x, atol=1e-8)


def test_infeasible_rows_with_positive_correlations_are_certified_infeasible():
    # A >= 0 and mixed-sign y: infeasible for x >= 0, yet max(A'y) > 0, so the
    # homotopy runs; its end point misses y and its residual separates y from
    # the cone (Farkas), so no row goes to HiGHS.
    rng = np.random.RandomState(0)
    A = np.abs(rng.normal(size=(10, 30)))
    Y = rng.normal(size=(12, 10))
    Y = Y[(Y @ A).max(axis=1) > 0]
    assert len(Y) >= 6 and (Y < 0).any(axis=1).all()
    with pytest.warns(DecodingWarning, match="Farkas"):
        X_hat, info = l1_min_decode(A, Y, positive=True, return_info=True)
    with pytest.warns(DecodingWarning):
        _, info_lp = l1_min_decode(A, Y, positive=True, solver="highs", return_info=True)
    assert not info_lp["success"].any()
    assert info["infeasible"].all() and not info["certified"].any()
    assert not info["success"].any() and np.isnan(X_hat).all()


def test_infeasible_rows_decode_to_the_nearest_fit():
    # on_infeasible="nearest": the nonnegative least-squares fit (unique here),
    # from the same path, with a warning that says so.
    from scipy.optimize import nnls

    rng = np.random.RandomState(1)
    A = np.abs(rng.normal(size=(10, 30)))
    Y = rng.normal(size=(8, 10))
    with pytest.warns(DecodingWarning, match="nearest in l2"):
        X_hat, info = l1_min_decode(A, Y, positive=True, on_infeasible="nearest",
                                    return_info=True)
    assert info["infeasible"].all() and info["success"].all()
    for x_hat, y in zip(X_hat, Y, strict=False):
        x_nnls, distance = nnls(A, y)
        assert x_hat.min() >= 0
        np.testing.assert_allclose(np.linalg.norm(A @ x_hat - y), distance, rtol=1e-9)
        np.testing.assert_allclose(A @ x_hat, A @ x_nnls, atol=1e-9)


def test_feasible_rows_are_never_certified_infeasible():
    # Measurements of nonnegative vectors, some with tiny or many entries,
    # and some decoded at m below the recovery edge: feasible, so never
    # certified infeasible, whatever route they take.
    for m in (15, 40):
        X, A, Y = block_sparse_problem(m=m, n_samples=80, d=200)
        X[::7] *= 1e-6
        _, info = l1_min_decode(A, X @ A.T, positive=True, return_info=True)
        assert not info["infeasible"].any() and info["success"].all()
    # Signed l1-min with m <= d: every y is in the range of A.
    rng = np.random.RandomState(0)
    A = rng.normal(size=(20, 50))
    _, info = l1_min_decode(A, rng.normal(size=(30, 20)), return_info=True)
    assert not info["infeasible"].any() and info["success"].all()


def test_signed_infeasible_rows_are_outside_the_range():
    # Signed l1-min is infeasible only for y outside range(A) (rank-deficient A).
    rng = np.random.RandomState(0)
    A = rng.normal(size=(10, 3)) @ rng.normal(size=(3, 40))  # rank 3
    inside = rng.normal(size=(5, 40)) @ A.T
    outside = rng.normal(size=(5, 10))
    with pytest.warns(DecodingWarning, match="5 of 10"):
        _, info = l1_min_decode(A, np.vstack([inside, outside]), return_info=True)
    np.testing.assert_array_equal(info["infeasible"], [False] * 5 + [True] * 5)


def test_zero_and_infeasible_rows():
    X, A, Y = block_sparse_problem(n_samples=4)
    A_pos = np.abs(A)
    Y = X @ A_pos.T
    Y[1] = 0.0
    Y[2] = -1.0  # A_pos x >= 0 for every x >= 0: infeasible
    with pytest.warns(DecodingWarning, match=r"1 of 4 vectors.*rows 2\).*Farkas"):
        X_hat, info = l1_min_decode(A_pos, Y, positive=True, return_info=True)
    assert info["certified"][[0, 1, 3]].all() and not info["success"][2]
    assert info["infeasible"][2] and not info["infeasible"][[0, 1, 3]].any()
    assert np.isnan(X_hat[2]).all() and np.all(X_hat[1] == 0)


def test_repeated_columns_still_give_an_optimal_answer():
    # A repeated column makes the LP's solution non-unique and the path degenerate;
    # whatever route a vector takes, the answer is optimal and feasible.
    X, A, Y = block_sparse_problem(m=40, n_samples=30, d=200)
    A = np.hstack([A, A[:, :20]])
    X_batched = l1_min_decode(A, Y, positive=True)
    X_lp = l1_min_decode(A, Y, positive=True, solver="highs")
    np.testing.assert_allclose(l1_cost(X_batched), l1_cost(X_lp), rtol=1e-8)
    np.testing.assert_allclose(X_batched @ A.T, Y, atol=1e-9)


def test_chunks_and_workers_give_the_same_answers(monkeypatch):
    X, A, Y = block_sparse_problem(n_samples=30)
    whole, info = l1_min_decode(A, Y, positive=True, return_info=True)
    assert info["certified"].all()
    # Batches of 8 rows (the fewest), refilled as rows finish.
    monkeypatch.setattr("skunroll.decoding._batched._BATCH_ELEMENTS", 8 * 301)
    for n_jobs in (None, 2):
        chunked, info = l1_min_decode(A, Y, positive=True, n_jobs=n_jobs, return_info=True)
        assert info["certified"].all()
        np.testing.assert_allclose(chunked, whole, atol=1e-12)


@pytest.mark.parametrize("Estimator", [L1AEEncoder, GaussianMeasurement])
def test_estimators_decode_with_either_solver(Estimator):
    X, _, _ = block_sparse_problem(n_samples=40, d=100)
    params = {"max_epochs": 2} if Estimator is L1AEEncoder else {}
    estimator = Estimator(30, solver="highs", random_state=0, **params).fit(X)
    Y = estimator.transform(X)
    X_lp = estimator.inverse_transform(Y)
    X_batched = estimator.set_params(solver="batched").inverse_transform(Y)
    np.testing.assert_allclose(X_batched, X_lp, atol=1e-7)
    with pytest.raises(ValueError, match="solver='simplex'"):
        estimator.set_params(solver="simplex").inverse_transform(Y)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN"):
        l1_min_decode(np.ones((2, 3)), np.array([[np.nan, 1.0]]), solver="batched")
    with pytest.raises(ValueError, match="expected"):
        l1_min_decode(np.ones((2, 3)), np.ones((1, 3)), solver="batched")
    with pytest.raises(ValueError, match="not one of"):
        l1_min_decode(np.ones((2, 3)), np.ones((1, 2)), solver="lp")


@pytest.mark.gpu
@pytest.mark.parametrize("positive", [True, False])
def test_batched_on_cuda_equals_cpu(positive):
    X, A, Y = block_sparse_problem(m=40, n_samples=200, signed=not positive)
    X_cpu, info_cpu = l1_min_decode(A, Y, positive=positive, return_info=True)
    X_gpu, info_gpu = l1_min_decode(A, Y, positive=positive, device="cuda", return_info=True)
    assert info_gpu["certified"].mean() >= info_cpu["certified"].mean() - 0.02
    np.testing.assert_allclose(X_gpu, X_cpu, atol=1e-9)
