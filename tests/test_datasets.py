import numpy as np
import pytest
import scipy.sparse as sp

from skunroll.datasets import make_block_sparse, make_power_law_chunks, make_power_law_sparse


@pytest.mark.parametrize("block_size, n_blocks", [(10, 1), (5, 2)])
def test_block_sparse_structure(block_size, n_blocks):
    X = make_block_sparse(300, 1000, block_size=block_size, n_blocks=n_blocks, random_state=0)
    assert sp.issparse(X) and X.shape == (300, 1000)
    np.testing.assert_allclose(sp.linalg.norm(X, axis=1), 1.0)
    assert X.min() >= 0
    for row in X:
        blocks = np.unique(row.indices // block_size)
        assert len(blocks) == n_blocks  # aligned, non-overlapping blocks
        assert row.nnz == n_blocks * block_size


def test_block_sparse_is_seeded_and_dense_option():
    a = make_block_sparse(20, 100, random_state=3)
    b = make_block_sparse(20, 100, random_state=3, sparse=False)
    assert isinstance(b, np.ndarray)
    np.testing.assert_array_equal(a.toarray(), b)
    with pytest.raises(ValueError, match="do not fit"):
        make_block_sparse(5, 20, block_size=10, n_blocks=3)


def test_power_law_support_frequencies():
    X = make_power_law_sparse(4000, 1000, random_state=0)
    counts = X.getnnz(axis=0) / X.shape[0]
    probabilities = 1 / np.arange(1, 1001)
    probabilities = np.minimum(probabilities / probabilities.sum() * 10, 1)
    assert counts[0] == 1.0  # capped
    np.testing.assert_allclose(counts[:50], probabilities[:50], atol=0.03)
    assert X.getnnz(axis=1).mean() == pytest.approx(probabilities.sum(), rel=0.03)
    norms = sp.linalg.norm(X, axis=1)
    np.testing.assert_allclose(norms[norms > 0], 1.0)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="n_samples"):
        make_block_sparse(0)
    with pytest.raises(ValueError, match="average_nnz"):
        make_power_law_sparse(10, average_nnz=-1)


def test_nonnegative_sparse_code_follows_the_model():
    from skunroll.datasets import make_nonnegative_sparse_code

    Y, D, X = make_nonnegative_sparse_code(500, 60, 120, n_nonzero_coefs=4,
                                           value_range=(1.0, 2.0), random_state=0)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    np.testing.assert_array_equal((X > 0).sum(axis=1), 4)
    assert X.min() == 0 and 1.0 <= X[X > 0].min() and X.max() <= 2.0
    np.testing.assert_allclose(Y, X @ D)
    # Support size h^p by default: round(120 ** 0.3) = 4.
    _, _, X_default = make_nonnegative_sparse_code(5, 60, 120, random_state=0)
    np.testing.assert_array_equal((X_default > 0).sum(axis=1), 4)
    with pytest.raises(ValueError, match="value_range"):
        make_nonnegative_sparse_code(5, 6, 12, value_range=(2.0, 1.0))
    with pytest.raises(ValueError, match="n_nonzero_coefs=20"):
        make_nonnegative_sparse_code(5, 6, 12, n_nonzero_coefs=20)


def test_power_law_chunks_stream_reproducibly_one_chunk_at_a_time():
    stream = make_power_law_chunks(2500, 3000, chunk_size=1000, average_nnz=15, random_state=0)
    first = next(stream)  # a generator: nothing past this chunk exists yet
    assert sp.isspmatrix_csr(first) and first.shape == (1000, 3000)
    rest = list(stream)
    assert [chunk.shape[0] for chunk in rest] == [1000, 500]
    again = list(make_power_law_chunks(2500, 3000, chunk_size=1000, average_nnz=15,
                                       random_state=0))
    for chunk, same in zip([first, *rest], again, strict=False):
        assert (chunk != same).nnz == 0
    assert (first != rest[0][:1000]).nnz > 0  # each chunk has its own seed
    nnz = np.concatenate([chunk.getnnz(axis=1) for chunk in again])
    assert 12 < nnz.mean() <= 15
    # The same power law: the first coordinates are the most frequent.
    counts = sp.vstack(again).getnnz(axis=0)
    assert counts[:10].sum() > counts[-1000:].sum()
