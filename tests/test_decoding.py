"""skunroll.decoding: the one entry point, any precision, the factor updates, the tiers."""

import numpy as np
import pytest
import torch

from skunroll.datasets import make_block_sparse, make_power_law_sparse
from skunroll.decoding import (
    _cholesky,
    bpdn_decode,
    decode,
    l1_min_decode,
    lasso_decode,
    linear_decode,
    noise_alpha,
    noise_eps,
    rounding_noise_level,
)


def block_problem(m=60, n=80, d=300, seed=0):
    X = make_block_sparse(n_samples=n, n_features=d, random_state=seed)
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    A = np.random.RandomState(seed).normal(size=(m, d)) / np.sqrt(m)
    return A, X


def test_decode_dispatches_names_and_noise_levels():
    A, X = block_problem(n=12)
    Y = X @ A.T + 1e-3 * np.random.RandomState(1).normal(size=(12, A.shape[0]))
    np.testing.assert_array_equal(decode(A, X @ A.T, "l1-min-pos"),
                                  l1_min_decode(A, X @ A.T, positive=True))
    np.testing.assert_array_equal(decode(A, X @ A.T, "l1-min"), l1_min_decode(A, X @ A.T))
    np.testing.assert_array_equal(
        decode(A, Y, "lasso-pos", noise_level=1e-3),
        lasso_decode(A, Y, alpha=noise_alpha(A, 1e-3, positive=True), positive=True))
    levels = np.linspace(1e-3, 2e-3, 12)
    np.testing.assert_array_equal(decode(A, Y, "bpdn", noise_level=levels),
                                  bpdn_decode(A, Y, eps=noise_eps(A.shape[0], levels)))
    # "auto": the rounding of the measurements' dtype.
    np.testing.assert_array_equal(
        decode(A, Y, "lasso"),
        lasso_decode(A, Y, alpha=noise_alpha(A, rounding_noise_level(Y))))
    np.testing.assert_allclose(decode(A, Y, "linear"), linear_decode(A, Y))
    with pytest.raises(ValueError, match="method='l2' is not one of"):
        decode(A, Y, "l2")
    with pytest.raises(ValueError, match="noise_level must be finite"):
        decode(A, Y, "lasso", noise_level=-1.0)


def test_info_says_who_certified_each_row_and_at_what_gap():
    A, X = block_problem(n=30)
    _, info = decode(A, X @ A.T, "l1-min-pos", return_info=True)
    assert set(info["method"]) == {"homotopy"} and info["certified"].all()
    assert np.all(info["gap"] < 1e-9) and np.all(info["steps"] >= 1)
    _, info = decode(A, X @ A.T, "l1-min-pos", solver="highs", return_info=True)
    assert set(info["method"]) == {"highs"} and not info["certified"].any()
    assert np.all(info["gap"] < 1e-6)


def test_float32_measurements_decode_to_their_precision_like_float64_ones():
    # The same measurements rounded to float32: the path stops at their rounding, so
    # the answers keep the float64 answers' supports, to the precision float32
    # carries, through as many breakpoints, all certified by the homotopy.
    A, X = block_problem(m=45, n=120, d=400)
    Y = X @ A.T
    X64, info64 = l1_min_decode(A, Y, positive=True, return_info=True)
    X32, info32 = l1_min_decode(A, Y.astype(np.float32), positive=True, return_info=True)
    assert set(info32["method"]) == {"homotopy"} and info32["certified"].all()
    recovered = np.abs(X64 - X).max(axis=1) < 1e-10
    assert 0.3 < recovered.mean() < 1.0  # rows on both sides of the recovery edge
    np.testing.assert_array_equal(np.abs(X32[recovered]) > 1e-6, X[recovered] != 0)
    assert np.abs(X32 - X)[recovered].max() < 1e-5
    assert info32["steps"].mean() <= 1.2 * info64["steps"].mean()


def test_rank_one_factor_updates_match_a_fresh_factorisation():
    rng = np.random.RandomState(0)
    n, capacity, m = 4, 20, 30
    cols = torch.zeros(n, capacity, m, dtype=torch.float64)
    used = torch.zeros(n, capacity, dtype=torch.bool)
    top = torch.zeros(n, dtype=torch.long)
    factors = _cholesky.identity_factors(n, capacity, dtype=torch.float64, device="cpu")
    rows = torch.arange(n)
    for step in range(40):
        if step % 3 == 2:  # a column leaves its slot, wherever it is
            slot = torch.tensor([int(rng.choice(np.flatnonzero(used[b]))) for b in range(n)])
            _cholesky.delete(factors, rows, slot)
            used[rows, slot] = False
            cols[rows, slot] = 0.0
        else:
            if bool((top >= capacity).any()):  # slots run out: compact, holes last
                order = torch.argsort((~used).to(torch.int8), dim=1, stable=True)
                factors = _cholesky.compact(factors, order)
                cols = cols.gather(1, order[:, :, None].expand(-1, -1, m))
                used, top = used.gather(1, order), used.sum(dim=1)
            new = torch.as_tensor(rng.normal(size=(n, m)))
            cross = torch.einsum("rsm,rm->rs", cols, new)
            pivot = _cholesky.append(factors, rows, top.clone(), cross, (new * new).sum(dim=1))
            assert bool((pivot > 0).all())
            cols[rows, top], used[rows, top] = new, True
            top += 1
        gram = cols @ cols.transpose(1, 2) + torch.diag_embed((~used).double())
        torch.testing.assert_close(factors, torch.linalg.cholesky(gram), atol=1e-12, rtol=0)


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.slow
def test_rows_that_outgrow_their_tier_keep_the_lp_answers(positive):
    # m = 150: active sets grow past the first tier (64 columns) on the way to
    # answers that are not sparse (below the recovery edge) and sparse ones.
    rng = np.random.RandomState(0)
    X = make_power_law_sparse(24, 600, average_nnz=40, sparse=False, random_state=0)
    if not positive:
        X = X * rng.choice([-1.0, 1.0], size=X.shape)
    A = rng.normal(size=(150, 600)) / np.sqrt(150)
    Y = X @ A.T
    X_hat, info = l1_min_decode(A, Y, positive=positive, return_info=True)
    assert info["certified"].all() and info["steps"].max() > 64
    X_lp = l1_min_decode(A, Y, positive=positive, solver="highs")
    np.testing.assert_allclose(np.abs(X_hat).sum(1), np.abs(X_lp).sum(1), rtol=1e-8)
    np.testing.assert_allclose(X_hat, X_lp, atol=1e-7)
