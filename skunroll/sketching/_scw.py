"""Sketches as scipy matrices and the SCW algorithm in numpy, for inference.

Everything here works on one matrix ``A`` (ndarray or scipy.sparse) at a
time, in its own floating dtype, with the sketch applied as a sparse product
(O(nnz(A))): what :class:`LearnedSketchLowRank` runs after ``fit``, on CPU.
"""

from collections import namedtuple

import numpy as np
import scipy.sparse as sp

from ..utils._linalg import squared_frobenius

LowRankFactors = namedtuple("LowRankFactors", "U s Vt")
LowRankFactors.__doc__ = """A rank-k matrix ``(U * s) @ Vt``.

``U`` (n, k) and ``Vt`` (k, d) have orthonormal columns / rows and ``s`` (k,)
is nonincreasing. When the approximation has rank r < k, the last k - r
entries of ``s`` are zero (and the matching columns / rows of ``U`` / ``Vt``
are zero too), so shapes do not depend on the data."""


def countsketch_matrix(positions, values, n_rows):
    """The ``n_rows x n`` CSR matrix of CountSketch blocks ``(positions, values)``."""
    n_blocks, n = positions.shape
    columns = np.tile(np.arange(n), n_blocks)
    return sp.csr_matrix(
        (values.ravel().astype(np.float64), (positions.ravel(), columns)), shape=(n_rows, n)
    )


def scw_factors(A, sketch, n_components):
    """Sarlos-Clarkson-Woodruff rank-k approximation of ``A`` with ``sketch``.

    ``V`` = basis of the row space of ``S A`` (compact SVD, numerical rank as
    ``numpy.linalg.matrix_rank``); returns ``[A V]_k V^T`` as
    :class:`LowRankFactors`. ``sketch`` may be sparse (CountSketch) or dense
    (Gaussian); ``A`` may be sparse, and is never densified.
    """
    dtype = A.dtype if A.dtype in (np.float32, np.float64) else np.float64
    sketched = sketch @ A
    sketched = sketched.toarray() if sp.issparse(sketched) else np.asarray(sketched)
    _, singular, right = np.linalg.svd(sketched.astype(np.float64, copy=False),
                                       full_matrices=False)
    if singular.size:
        threshold = singular[0] * max(sketched.shape) * np.finfo(dtype).eps
        rank = int(np.sum(singular > threshold))
    else:
        rank = 0
    basis = right[:rank].T  # (d, r), orthonormal columns
    projected = np.asarray(A @ basis, dtype=np.float64)  # (n, r)
    n, d = A.shape
    U = np.zeros((n, n_components))
    s = np.zeros(n_components)
    Vt = np.zeros((n_components, d))
    if rank:
        left, values, inner = np.linalg.svd(projected, full_matrices=False)
        kept = min(n_components, rank)
        U[:, :kept] = left[:, :kept]
        s[:kept] = values[:kept]
        Vt[:kept] = inner[:kept] @ basis.T
    return LowRankFactors(U.astype(dtype), s.astype(dtype), Vt.astype(dtype))


def scw_error(A, sketch, n_components):
    """``||A - SCW(S, A)||_F`` in float64, without forming the residual."""
    factors = scw_factors(A.astype(np.float64, copy=False), sketch, n_components)
    return float(np.sqrt(max(squared_frobenius(A) - np.sum(factors.s**2), 0.0)))
