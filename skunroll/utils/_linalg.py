"""Matrix norms and best low-rank errors, shared by the metrics and the sketches."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds


def top_singular_value(A):
    """Largest singular value of a dense or sparse matrix."""
    if min(A.shape) == 0:
        return 0.0
    if min(A.shape) < 3 or (not sp.issparse(A) and A.size <= 250_000):
        dense = A.toarray() if sp.issparse(A) else A
        return float(np.linalg.norm(np.asarray(dense, dtype=np.float64), 2))
    if sp.issparse(A) and A.nnz == 0:
        return 0.0
    # A fixed start vector keeps the result deterministic.
    start = np.ones(min(A.shape)) / np.sqrt(min(A.shape))
    return float(svds(A.astype(np.float64), k=1, v0=start, return_singular_vectors=False)[0])


def squared_frobenius(A):
    """``||A||_F^2`` of a dense or sparse matrix, in float64."""
    data = A.data if sp.issparse(A) else A
    return float(np.sum(np.square(data, dtype=np.float64)))


def optimal_error(A, n_components):
    """``||A - [A]_k||_F``, the error of the best rank-k approximation."""
    if n_components >= min(A.shape) or (sp.issparse(A) and A.nnz == 0):
        return 0.0
    if sp.issparse(A) and n_components < min(A.shape) - 1 and A.nnz > 0:
        start = np.ones(min(A.shape)) / np.sqrt(min(A.shape))
        singular = svds(A.astype(np.float64), k=n_components, v0=start,
                        return_singular_vectors=False)
    else:
        dense = A.toarray() if sp.issparse(A) else A
        singular = np.linalg.svd(np.asarray(dense, dtype=np.float64),
                                 compute_uv=False)[:n_components]
    return float(np.sqrt(max(squared_frobenius(A) - np.sum(singular**2), 0.0)))
