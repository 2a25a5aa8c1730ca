"""The l1-AE paper's baselines: model-based CoSaMP, partial Fourier, PCA, LBCS."""

import numpy as np
import pytest
import scipy.fft
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from skunroll.datasets import make_block_sparse
from skunroll.decoding import BlockModel, GroupModel, linear_decode
from skunroll.metrics import exact_recovery_fraction
from skunroll.sensing import (
    GaussianMeasurement,
    LBCSMeasurement,
    ModelBasedCoSaMP,
    PartialFourierMeasurement,
    PCAMeasurement,
)
from skunroll.sensing._baselines import dct_rows


def _recovery(estimator, X_train, X_test):
    estimator.fit(X_train)
    decoded = estimator.inverse_transform(estimator.transform(X_test))
    return exact_recovery_fraction(X_test, decoded)


def test_model_approximations_keep_the_best_blocks_and_group_entries():
    v = np.array([0.1, 0.2, 3.0, 0.0, -2.0, 1.0, 0.5])  # blocks of 3: [0:3], [3:6], [6:7]
    block = BlockModel(7, block_size=3, n_blocks=1)
    np.testing.assert_array_equal(block.support(v), [1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(block.support(v, multiple=2), [1, 1, 1, 1, 1, 1, 0])
    group = GroupModel([3, 4])
    np.testing.assert_array_equal(group.support(v), [0, 0, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(group.support(v, multiple=2), [0, 1, 1, 0, 1, 1, 0])


def test_cosamp_recovers_block_sparse_vectors_and_reproduces_the_papers_baseline():
    X = make_block_sparse(2300, 1000, random_state=0)
    train, test = X[:2000], X[2000:]
    # Enough measurements: (nearly) every block-sparse vector is recovered.
    assert _recovery(ModelBasedCoSaMP(40, random_state=0), train, test) >= 0.99
    # The paper's setting (Synthetic1, m = 20, Gaussian, positivity step):
    # 78.8% there; the nonnegative least squares are a stronger decoder.
    clip = _recovery(ModelBasedCoSaMP(20, random_state=0), train, test)
    nnls = _recovery(ModelBasedCoSaMP(20, positivity="nnls", random_state=0), train, test)
    assert 0.65 < clip < 0.9 and nnls > clip
    # Without the block model (every coordinate its own block) CoSaMP needs far more.
    plain = _recovery(ModelBasedCoSaMP(20, block_size=1, n_blocks=10, random_state=0), train, test)
    assert plain < clip


def test_cosamp_with_the_one_hot_model():
    rng = np.random.RandomState(0)
    sizes = [20, 30, 50]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n = 300
    cols = np.column_stack([start + rng.randint(size, size=n)
                            for start, size in zip(starts, sizes, strict=False)])
    X = sp.csr_matrix((np.full(3 * n, 1 / np.sqrt(3)),
                       (np.repeat(np.arange(n), 3), cols.ravel())), shape=(n, 100))
    cosamp = ModelBasedCoSaMP(30, model="one-hot", group_sizes=sizes, random_state=0)
    assert _recovery(cosamp, X[:200], X[200:]) == 1.0
    few = ModelBasedCoSaMP(12, model="one-hot", group_sizes=sizes, random_state=0)
    assert _recovery(few, X[:200], X[200:]) < 0.8
    with pytest.raises(ValueError, match="add up to n_features=100"):
        ModelBasedCoSaMP(12, model="one-hot", group_sizes=[20, 30]).fit(X)
    with pytest.raises(ValueError, match="needs group_sizes"):
        ModelBasedCoSaMP(12, model="one-hot").fit(X)


def test_partial_fourier_rows_are_dft_rows():
    d, m = 16, 5
    est = PartialFourierMeasurement(m, nonnegative=False, random_state=0).fit(np.ones((1, d)))
    dft = np.fft.fft(np.eye(d))[est.frequencies_]  # rows k: exp(-2 pi i k j / d)
    expected = np.empty((2 * len(est.frequencies_), d))
    expected[0::2], expected[1::2] = dft.real, dft.imag
    np.testing.assert_allclose(est.components_, expected[:m] / np.sqrt(m / 2), atol=1e-12)
    assert len(set(est.frequencies_)) == len(est.frequencies_) == 3


def test_dct_rows_are_the_orthonormal_dct():
    d = 12
    dct = scipy.fft.dct(np.eye(d), norm="ortho", axis=0)  # column j: DCT of e_j
    np.testing.assert_allclose(dct_rows(np.arange(d), d), dct, atol=1e-12)


def test_lbcs_keeps_the_highest_energy_rows():
    X = make_block_sparse(200, 60, block_size=6, random_state=0)
    est = LBCSMeasurement(10).fit(X)
    basis = dct_rows(np.arange(60), 60)
    energy = np.sum((X @ basis.T) ** 2, axis=0)
    np.testing.assert_array_equal(est.frequencies_, np.argsort(-energy, kind="stable")[:10])
    np.testing.assert_allclose(est.components_, basis[est.frequencies_])
    # Chunked scoring gives the same choice (and sparse input stays sparse).
    est._CHUNK_ROWS = 7
    np.testing.assert_array_equal(est.fit(X).frequencies_,
                                  LBCSMeasurement(10).fit(X.toarray()).frequencies_)


def test_pca_alone_is_the_projection_onto_the_principal_subspace():
    X = make_block_sparse(300, 80, random_state=0)
    pca = PCAMeasurement(15, decoder="linear", random_state=0).fit(X)
    V = TruncatedSVD(15, algorithm="randomized", n_iter=7, random_state=0).fit(X).components_
    np.testing.assert_allclose(np.abs(pca.components_ @ V.T), np.eye(15), atol=1e-6)
    X_hat = pca.inverse_transform(pca.transform(X))
    np.testing.assert_allclose(X_hat, X.toarray() @ V.T @ V, atol=1e-10)


def test_linear_decoder_is_the_least_norm_solution():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(5, 12))
    Y = rng.normal(size=(3, 5))
    X = linear_decode(A, Y)
    np.testing.assert_allclose(X @ A.T, Y, atol=1e-12)
    np.testing.assert_allclose(X, Y @ np.linalg.pinv(A).T, atol=1e-12)
    est = GaussianMeasurement(5, nonnegative=False, decoder="linear", random_state=0).fit(
        np.zeros((1, 12)))
    np.testing.assert_allclose(est.inverse_transform(Y), linear_decode(est.components_, Y))


def test_simple_ae_trains_its_measurements_and_decodes_with_l1_or_its_network():
    from skunroll.sensing import SimpleAEEncoder

    X = make_block_sparse(1200, 200, random_state=0)
    train, test = X[:1000], X[1000:]
    fit = dict(n_components=40, max_epochs=30, learning_rate=0.1, device="cpu", random_state=0)
    ae = SimpleAEEncoder(**fit).fit(train)
    assert ae.loss_curve_[-1] < 0.9 * ae.loss_curve_[0]
    untrained = SimpleAEEncoder(**{**fit, "max_epochs": 1, "learning_rate": 1e-30}).fit(train)
    assert not np.allclose(ae.components_, untrained.components_)
    Y = ae.transform(test)
    np.testing.assert_allclose(Y, test @ ae.components_.T, rtol=1e-6)
    network = ae.set_params(decoder="network").inverse_transform(Y)
    assert network.min() >= 0 and network.shape == (200, 200)
    # The l1-min-pos decoding of its measurements is exact where the LP recovers x,
    # and better than its own network decoder.
    l1 = ae.set_params(decoder="auto").inverse_transform(Y)
    assert np.mean((l1 - test.toarray()) ** 2) < np.mean((network - test.toarray()) ** 2)


def test_mlp_autoencoder_codes_and_reconstructions():
    from skunroll.sensing import MLPAutoencoder

    X = make_block_sparse(1200, 100, random_state=0)
    ae = MLPAutoencoder(10, hidden_size=50, max_epochs=20, device="cpu", random_state=0).fit(X)
    assert ae.loss_curve_[-1] < 0.7 * ae.loss_curve_[0]
    codes = ae.transform(X[:50])
    reconstruction = ae.inverse_transform(codes)
    assert codes.shape == (50, 10) and reconstruction.min() >= 0
    expected = -np.mean(np.sum((X[:50].toarray() - reconstruction) ** 2, axis=1))
    assert ae.score(X[:50]) == pytest.approx(expected)
    assert ae.get_feature_names_out()[0] == "mlpautoencoder0"
