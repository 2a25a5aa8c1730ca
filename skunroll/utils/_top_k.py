"""The top-k engine of the ranking metrics and the multi-label classifier.

Top-k label indices per row (dense scores a block of rows at a time, sparse
scores over their stored entries), ties to the lower label index, and the
0/1 hits of a ranking against a label matrix.
"""

import numpy as np
import scipy.sparse as sp


def top_k_labels(y_score, k, chunk_size=None):
    """Indices of the ``k`` best-scored labels per row, best first, and how many are real.

    Dense scores: ties go to the lower label index; memory is a few bytes per
    score of a chunk of rows, never a full sort of the rows. Sparse scores:
    only stored entries are ranked (missing ones count as -inf), so a row may
    have fewer than ``k``; the returned ``counts`` say how many.
    """
    n_samples, n_labels = y_score.shape
    k = min(k, n_labels)
    top = np.zeros((n_samples, k), dtype=np.intp)
    counts = np.full(n_samples, k)
    if sp.issparse(y_score):
        y_score = y_score.tocsr()
        for i in range(n_samples):
            start, end = y_score.indptr[i], y_score.indptr[i + 1]
            columns, values = y_score.indices[start:end], y_score.data[start:end]
            # Sort by score, then by column for ties.
            order = np.lexsort((columns, -values))[:k]
            top[i, : order.size] = columns[order]
            counts[i] = order.size
        return top, counts
    if chunk_size is None:
        chunk_size = max(1, min(1024, 2**24 // max(n_labels, 1)))
    for start in range(0, n_samples, chunk_size):
        top[start : start + chunk_size] = dense_top_k(y_score[start : start + chunk_size], k)
    return top, counts


def dense_top_k(scores, k):
    """Top-``k`` columns per row of a dense block, best first, ties to the lower index."""
    n_rows, n_labels = scores.shape
    if k < n_labels:
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
        above = scores > kth
        # Fill the places left after the strictly larger scores with the first ties.
        room = k - above.sum(axis=1, keepdims=True)
        tied = scores == kth
        chosen = above | (tied & (np.cumsum(tied, axis=1, dtype=np.int32) <= room))
        columns = np.nonzero(chosen)[1].reshape(n_rows, k)  # ascending within a row
    else:
        columns = np.broadcast_to(np.arange(n_labels), (n_rows, n_labels))
    values = np.take_along_axis(scores, columns, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")  # ties keep the lower index first
    return np.take_along_axis(columns, order, axis=1)


def ranked_hits(y_true, top, counts):
    """0/1 matrix: is the j-th ranked label of row i relevant (0 past ``counts``)."""
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    hits = np.asarray(y_true[rows, top.ravel()]).reshape(top.shape)
    hits[np.arange(top.shape[1])[None, :] >= counts[:, None]] = 0
    return hits
