"""Model-based CoSaMP (Baraniuk et al., 2010): the l1-AE paper's strongest baseline.

CoSaMP recovers a sparse ``x`` from ``y = A x`` by repeating: correlate the
residual with the columns, merge the support of its best 2K-term model
approximation with the current support, solve least squares there, keep the
best K-term model approximation. *Model-based* CoSaMP replaces "the K largest
entries" by the best approximation within a structured model: K blocks of
aligned coordinates (block sparsity, Synthetic1 and 2), or the largest entries
within each group of a one-hot encoding (one per categorical feature). The
positive variant (the paper's "CoSaMP pos") sets the negative entries of the
least-squares solution to 0 before pruning, as the authors' code does
(``positivity="clip"``; ``"nnls"`` solves nonnegative least squares on the
merged support instead, a stronger decoder); the least squares are the
minimum-norm solution on the merged support. The
authors' code stops when the error to the *true* vector stops falling, which
a decoder cannot know: this one returns the iterate with the smallest
residual, stopping when the iterate stops changing or after ``max_iter``
iterations.
"""

import numpy as np
import scipy.optimize
from joblib import Parallel, delayed
from sklearn.utils import gen_even_slices


class BlockModel:
    """K of the aligned blocks ``[j b, (j + 1) b)`` (the last one may be shorter)."""

    def __init__(self, n_features, block_size, n_blocks):
        self.n_features, self.block_size, self.n_blocks = n_features, block_size, n_blocks
        self.block_of = np.arange(n_features) // block_size
        self.n_slots = int(self.block_of[-1]) + 1

    def support(self, v, multiple=1):
        """Boolean support of the best ``multiple * K``-block approximation of ``v``."""
        energy = np.bincount(self.block_of, weights=v**2, minlength=self.n_slots)
        keep = min(self.n_slots, multiple * self.n_blocks)
        chosen = np.argpartition(-energy, keep - 1)[:keep]
        return np.isin(self.block_of, chosen)


class GroupModel:
    """The ``n_per_group`` largest entries within each group (one-hot: one per feature)."""

    def __init__(self, group_sizes, n_per_group=1):
        self.group_sizes = np.asarray(group_sizes, dtype=int)
        self.n_per_group = n_per_group
        self.starts = np.concatenate([[0], np.cumsum(self.group_sizes)[:-1]])

    def support(self, v, multiple=1):
        keep = np.zeros(v.shape[0], dtype=bool)
        k = multiple * self.n_per_group
        for start, size in zip(self.starts, self.group_sizes, strict=True):
            part = np.abs(v[start : start + size])
            if size <= k:
                keep[start : start + size] = True
            else:
                keep[start + np.argpartition(-part, k - 1)[:k]] = True
        return keep


def _cosamp_one(A, y, model, positive, max_iter, tol, positivity):
    n = A.shape[1]
    x = np.zeros(n)
    residual = y.copy()
    y_norm = np.linalg.norm(y)
    if y_norm == 0:
        return x
    best_x, best_residual = x, y_norm
    for _ in range(max_iter):
        proxy = A.T @ residual
        merged = model.support(proxy, multiple=2) | (x != 0)
        b = np.zeros(n)
        if positive and positivity == "nnls":
            b[merged] = scipy.optimize.nnls(A[:, merged], y)[0]
        else:
            b[merged] = np.linalg.lstsq(A[:, merged], y, rcond=None)[0]
            if positive:
                np.maximum(b, 0.0, out=b)
        kept = model.support(b)
        x_new = np.where(kept, b, 0.0)
        residual = y - A @ x_new
        residual_norm = np.linalg.norm(residual)
        moved = np.linalg.norm(x_new - x)
        x = x_new
        # Iterates that do not converge can wander far off (the authors stop on
        # the error to the true x, which a decoder cannot see): keep the best fit.
        if residual_norm < best_residual:
            best_x, best_residual = x, residual_norm
        if residual_norm <= tol * y_norm or moved <= tol:
            break
    return best_x


def model_cosamp_decode(A, Y, model, *, positive=False, positivity="clip", max_iter=30, tol=1e-12,
                        n_jobs=None):
    """Decode each row of ``Y`` by model-based CoSaMP with the structure ``model``.

    Parameters
    ----------
    A : ndarray of shape (n_components, n_features)
    Y : ndarray of shape (n_samples, n_components)
    model : BlockModel or GroupModel
    positive : bool, default=False
        Keep ``x >= 0``.
    positivity : {"clip", "nnls"}, default="clip"
        With ``positive``: set the negative least-squares entries to 0 before
        pruning (the paper's positivity step), or solve nonnegative least squares.
    max_iter : int, default=30
    tol : float, default=1e-12
        Stop when the relative residual or the change of ``x`` falls below it.
    n_jobs : int, default=None
        Joblib workers over chunks of rows.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    """
    A = np.asarray(A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)

    def chunk(rows):
        return np.vstack([_cosamp_one(A, y, model, positive, max_iter, tol, positivity)
                          for y in Y[rows]])

    if Y.shape[0] == 0:
        return np.zeros((0, A.shape[1]))
    n_chunks = max(1, min(Y.shape[0], 4 * (1 if n_jobs in (None, 1) else abs(n_jobs))))
    parts = Parallel(n_jobs=n_jobs)(delayed(chunk)(rows)
                                    for rows in gen_even_slices(Y.shape[0], n_chunks))
    return np.vstack(parts)
