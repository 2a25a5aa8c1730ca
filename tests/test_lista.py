"""LISTAEncoder: learned ISTA on the shared unrolled thresholding network."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import SparseCoder
from sklearn.exceptions import ConvergenceWarning

from skunroll.metrics import normalized_code_error
from skunroll.sparse_coding import (
    LISTAEncoder,
    UnrolledThresholdingNetwork,
    ista,
    optimal_codes,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:600] / 16.0


@pytest.fixture(scope="module")
def dictionary():
    rng = np.random.RandomState(0)
    D = rng.randn(40, 64)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def ista_network(D, lam, n_steps):
    mu = 1 / np.linalg.norm(D, 2) ** 2
    return UnrolledThresholdingNetwork(
        torch.as_tensor(mu * D), torch.as_tensor(np.eye(len(D)) - mu * D @ D.T),
        torch.full((len(D),), lam * mu, dtype=torch.float64), n_steps, shrinkage="soft")


def test_untrained_network_is_ista(digits, dictionary):
    network = ista_network(dictionary, 0.2, n_steps=4).eval()
    out = network(torch.as_tensor(digits[:30])).detach().numpy()
    np.testing.assert_allclose(out, ista(digits[:30], dictionary, alpha=0.2, n_iter=4, tol=None),
                               atol=1e-10)


def test_lasso_codes_equal_scikit_learns(digits, dictionary):
    codes = optimal_codes(digits[:20], dictionary, sparsity="l1", alpha=0.2, max_iter=20000,
                          tol=1e-12)
    reference = SparseCoder(dictionary, transform_algorithm="lasso_cd", transform_alpha=0.2,
                            transform_max_iter=20000).transform(digits[:20])
    np.testing.assert_allclose(codes, reference, atol=1e-5)


def test_deep_l0_and_lista_share_one_network():
    with pytest.raises(ValueError, match="shrinkage='relu'"):
        UnrolledThresholdingNetwork(torch.eye(2), torch.eye(2), torch.ones(2), 1, shrinkage="relu")


def test_lista_predicts_lasso_codes_better_than_ista_with_as_many_steps(digits):
    # Gregor and LeCun's claim: K learned stages beat K ISTA iterations.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LISTAEncoder(n_components=32, alpha=0.5, n_steps=3, max_epochs=40,
                               learning_rate=3e-3, dictionary_max_iter=5, device="cpu",
                               random_state=0).fit(digits[:500])
    test = digits[500:]
    target = encoder.optimal_codes(test)
    untrained = ista(test, encoder.dictionary_, alpha=0.5, n_iter=3, tol=None,
                     step_size=encoder.step_size_)
    learned_error = normalized_code_error(target, encoder.transform(test))
    ista_error = normalized_code_error(target, untrained)
    assert learned_error < 0.7 * ista_error
    assert -encoder.score(test) == pytest.approx(learned_error)
    # Soft thresholds: the codes are sparse, and the thresholds stay positive.
    assert np.mean(encoder.transform(test) == 0) > 0.3
    assert np.all(encoder.thresholds_ > 0)


def test_lista_has_only_its_own_parameters():
    params = LISTAEncoder().get_params()
    l0_only = {"sparsity", "n_nonzero_coefs", "sigma", "sigma_decay"}
    assert "alpha" in params and not l0_only & set(params)
    with pytest.raises(ValueError, match="Invalid parameter 'sparsity'"):
        LISTAEncoder().set_params(sparsity="M")


def test_fista_reaches_the_lasso_codes_faster_than_ista(digits, dictionary):
    from skunroll.sparse_coding import fista

    target = optimal_codes(digits[:20], dictionary, sparsity="l1", alpha=0.2, max_iter=20000,
                           tol=1e-12)
    np.testing.assert_allclose(fista(digits[:20], dictionary, alpha=0.2, n_iter=20000,
                                     tol=1e-13), target, atol=1e-6)
    error = {name: normalized_code_error(target, solver(digits[:20], dictionary, alpha=0.2,
                                                        n_iter=30, tol=None))
             for name, solver in (("ista", ista), ("fista", fista))}
    assert error["fista"] < 0.5 * error["ista"]
