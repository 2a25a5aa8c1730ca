"""What the initialisations and the closed-form sketch read from the training matrices.

Gram matrices of the rows, singular pairs, the average matrix: all formed
without densifying a sparse matrix, in float64.
"""

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed

from ..utils._linalg import optimal_error, top_singular_value
from ._input import matrix_at
from ._scw import scw_error

#: Largest n x n float64 Gram matrix the greedy and tensor sketches form (2 GiB).
MAX_GRAM_BYTES = 2 * 1024**3


def left_singular_pairs(A):
    """Left singular vectors (n x n) and values of ``A``, decreasing, from ``A A^T``.

    Through the n x n Gram matrix, so a sparse ``A`` is never densified.
    """
    product = A @ A.T
    product = product.toarray() if sp.issparse(product) else np.asarray(product)
    eigenvalues, eigenvectors = np.linalg.eigh(product.astype(np.float64))
    return eigenvectors[:, ::-1], np.sqrt(np.clip(eigenvalues[::-1], 0, None))


def row_gram(flat, shape, scales):
    """``sum_j s_j^2 A_j A_j^T`` (n x n, float64); sparse matrices stay sparse in the product."""
    n = shape[0]
    if 8 * n * n > MAX_GRAM_BYTES:
        raise ValueError(
            f"init='greedy' and sketch='tensor' form the n x n Gram matrix of the matrices' rows: "
            f"{8 * n * n / 1024**3:.1f} GiB for n = {n}. Use init='inner-product' or "
            "init='random' for matrices with this many rows."
        )
    gram = np.zeros((n, n))
    for i in range(flat.shape[0]):
        A = matrix_at(flat, i, shape)
        product = A @ A.T
        gram += scales[i] ** 2 * (product.toarray() if sp.issparse(product)
                                  else np.asarray(product, dtype=np.float64))
    return gram


def top_subspace_gram(flat, shape, shots, n_components):
    """``sum U_k U_k^T`` over the ``shots``' top-k left singular vectors (n x n)."""
    gram = np.zeros((shape[0], shape[0]))
    for index in shots:
        top = left_singular_pairs(matrix_at(flat, index, shape))[0][:, :n_components]
        gram += top @ top.T
    return gram


def average_matrix(flat, scales, matrix_shape):
    """Mean of the rescaled training matrices, sparse if they are."""
    weights = scales / flat.shape[0]
    if sp.issparse(flat):
        mean = sp.csr_matrix(weights[None, :]) @ flat
        return sp.csr_matrix(mean.reshape(matrix_shape))
    return (weights @ flat).reshape(matrix_shape)


def excess_error(A, sketch, n_components):
    """SCW error of ``sketch`` on ``A`` above the best rank-k error."""
    return scw_error(A, sketch, n_components) - optimal_error(A, n_components)


def rescaling_factors(flat, shape, spectral_norm, n_jobs=None):
    """Factor that brings each matrix to top singular value ``spectral_norm`` (1 if None)."""
    if spectral_norm is None:
        return np.ones(flat.shape[0])
    norms = np.array(Parallel(n_jobs=n_jobs)(
        delayed(top_singular_value)(matrix_at(flat, i, shape)) for i in range(flat.shape[0])))
    return np.where(norms > 0, spectral_norm / np.where(norms > 0, norms, 1), 1.0)


def few_shot_samples(flat, shape, shots):
    """``U_j diag(s_j)`` of the shots, flattened: the rows of ``A_j`` rotated by ``V_j``.

    The rotation leaves the row Gram matrix (what ``init`` reads) and the SCW
    error unchanged, and ``U_j`` is these columns normalised.
    """
    samples = []
    for index in shots:
        left, singular = left_singular_pairs(matrix_at(flat, index, shape))
        samples.append((left * singular).ravel())
    return np.asarray(samples, dtype=np.float32 if flat.dtype == np.float32 else np.float64)


def tensor_sketch(flat, shape, scales, sketch_size):
    """Top left singular vectors of the side-by-side rescaled training matrices."""
    n = shape[0]
    _, vectors = np.linalg.eigh(row_gram(flat, shape, scales))
    rows = min(sketch_size, n)
    sketch = np.zeros((sketch_size, n))
    # eigh sorts ascending; rows past n would add nothing to the row space of S A.
    sketch[:rows] = vectors[:, ::-1][:, :rows].T
    return sketch
