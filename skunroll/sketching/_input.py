"""Collections of matrices as estimator input.

A sample is a whole matrix. Three forms are accepted and all become one 2-D
array (or CSR matrix) with one flattened matrix per row, so the shared
training loop and scikit-learn's validation work on them unchanged:

- a 3-D array of shape (n_matrices, n, d);
- a list (or tuple) of 2-D arrays or scipy.sparse matrices, all (n, d);
- a 2-D array or sparse matrix of shape (n_matrices, n * d) of row-major
  flattened matrices, read with ``matrix_shape=(n, d)``.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data


def is_matrix_collection(X):
    """True for a 3-D array or a list/tuple of 2-D matrices (not a flattened 2-D array)."""
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and (sp.issparse(X[0]) or np.ndim(X[0]) == 2)
    return not sp.issparse(X) and hasattr(X, "shape") and len(X.shape) == 3


def resolve_matrix_shape(matrix_shape, n_features):
    """``matrix_shape`` with a -1 entry inferred from ``n_features`` (as numpy's reshape)."""
    if (
        not isinstance(matrix_shape, tuple)
        or len(matrix_shape) != 2
        or not all(isinstance(v, Integral) and (v > 0 or v == -1) for v in matrix_shape)
        or matrix_shape == (-1, -1)
    ):
        raise ValueError(
            f"matrix_shape must be a tuple (n, d) of positive ints, one of which may be -1; "
            f"got {matrix_shape!r}."
        )
    n, d = (int(v) for v in matrix_shape)
    known = n * d * -1 if -1 in (n, d) else n * d
    if (-1 in (n, d) and n_features % known) or (-1 not in (n, d) and known != n_features):
        raise ValueError(
            f"Each row has {n_features} features, which cannot be read as a matrix of shape "
            f"matrix_shape={matrix_shape}."
        )
    if n == -1:
        n = n_features // d
    if d == -1:
        d = n_features // n
    return n, d


def _flatten_collection(X):
    """A 3-D array or list of matrices as (flattened 2-D data, (n, d))."""
    if not isinstance(X, (list, tuple)):
        X = np.asarray(X)
        if X.shape[0] == 0:
            raise ValueError("Found 0 matrices (0 samples); at least one is required.")
        return X.reshape(X.shape[0], -1), X.shape[1:]
    shape = None
    for index, matrix in enumerate(X):
        matrix_shape = matrix.shape if sp.issparse(matrix) else np.shape(matrix)
        if len(matrix_shape) != 2:
            raise ValueError(
                f"Matrix {index} has {len(matrix_shape)} dimension(s); every matrix in the "
                "list must be 2-D."
            )
        if shape is None:
            shape = matrix_shape
        elif matrix_shape != shape:
            raise ValueError(
                f"Matrix {index} has shape {matrix_shape} but matrix 0 has shape {shape}: all "
                "matrices must have the same shape (pad with zero columns to make them agree; "
                "zero columns do not change a low-rank approximation's error)."
            )
    n_features = shape[0] * shape[1]
    if any(sp.issparse(matrix) for matrix in X):
        rows = [sp.coo_matrix(matrix).reshape(1, n_features) for matrix in X]
        return sp.vstack(rows, format="csr"), shape
    return np.stack([np.asarray(matrix) for matrix in X]).reshape(len(X), n_features), shape


def validate_matrices(estimator, X, matrix_shape, reset):
    """Validate a collection of matrices; return (flattened data, (n, d), is_collection).

    The flattened data go through scikit-learn's ``validate_data`` (finite,
    float, non-empty, ``n_features_in_ = n * d``); when not ``reset``, the
    matrix shape must match the fitted ``matrix_shape_``.
    """
    collection = is_matrix_collection(X)
    if collection:
        flat, shape = _flatten_collection(X)
        if (matrix_shape is not None
                and resolve_matrix_shape(matrix_shape, shape[0] * shape[1]) != tuple(shape)):
            raise ValueError(f"The matrices have shape {tuple(shape)} but "
                             f"matrix_shape={matrix_shape}.")
    else:
        flat = X
    flat = validate_data(
        estimator,
        flat,
        accept_sparse=("csr", "csc", "coo"),
        dtype=(np.float64, np.float32),
        reset=reset,
    )
    if not collection:
        if matrix_shape is None and reset:
            raise ValueError(
                "2-D input is read as one flattened matrix per row and needs "
                "matrix_shape=(n, d); or pass a 3-D array or a list of 2-D matrices."
            )
        if reset:
            shape = resolve_matrix_shape(matrix_shape, flat.shape[1])
        else:
            shape = estimator.matrix_shape_
    shape = tuple(int(v) for v in shape)
    if not reset and shape != tuple(estimator.matrix_shape_):
        raise ValueError(
            f"The matrices have shape {shape} but {type(estimator).__name__} was fitted on "
            f"matrices of shape {tuple(estimator.matrix_shape_)}."
        )
    if sp.issparse(flat):
        flat = sp.csr_matrix(flat)
    return flat, shape, collection


def matrix_at(flat, index, shape):
    """Matrix ``index`` of flattened data, as ndarray or CSR of ``shape``."""
    if sp.issparse(flat):
        return sp.csr_matrix(flat[index].reshape(shape))
    return flat[index].reshape(shape)


def check_sketch_sizes(n_components, sketch_size, sketch, shape):
    """Raise if a sketch of ``sketch_size`` rows cannot give rank ``n_components`` of ``shape``."""
    n, d = shape
    if n_components > min(n, d):
        raise ValueError(
            f"n_components={n_components} must be <= min(n, d)={min(n, d)} for "
            f"matrices of shape {shape}."
        )
    if sketch_size < n_components:
        raise ValueError(
            f"sketch_size={sketch_size} must be >= n_components={n_components}: "
            "SCW cannot return rank k from fewer than k sketched rows."
        )
    if sketch.startswith("mixed") and sketch_size < 2:
        raise ValueError(f"sketch={sketch!r} needs sketch_size >= 2 (a learned and a "
                         "random half).")
