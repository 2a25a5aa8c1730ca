"""Label scores from predicted embeddings: noise-aware decoding and sparse top scores."""

import warnings

import numpy as np
import scipy.sparse as sp

from ..decoding import decode
from ..exceptions import DecodingWarning
from ..utils._top_k import dense_top_k


def positive_monotone(scores):
    """``s + sqrt(s^2 + 1)`` (= ``exp(asinh(s))``): strictly increasing and > 0.

    Neither saturates nor underflows at any score a decoder returns; the
    negative branch is written as ``1 / (sqrt(s^2 + 1) - s)`` to stay exact.
    """
    root = np.hypot(scores, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(scores >= 0, scores + root, 1.0 / (root - scores))


def noisy_scores(A, embedding, decoder, noise_level, *, device="cpu", n_jobs=None):
    """Scores of every label: ``decoder``'s solution, labels left at zero below it.

    Rows the decoder cannot solve are scored by the linear decoder ``A^T z``
    with a :class:`~skunroll.exceptions.DecodingWarning`.

    Returns
    -------
    scores : ndarray of shape (n_rows, n_labels)
    any_selected : bool
        Whether the decoder selected any label (in the rows it solved).
    """
    positive = decoder.endswith("-pos")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)
        decoded, info = decode(A, embedding, decoder, noise_level=noise_level, device=device,
                               n_jobs=n_jobs, return_info=True)
    failed = ~info["success"]
    if failed.any():
        warnings.warn(f"{failed.sum()} of {len(embedding)} predicted embeddings could not be "
                      f"decoded by {decoder!r}; they are scored by the linear decoder "
                      "A^T z instead.", DecodingWarning, stacklevel=3)
        decoded[failed] = embedding[failed] @ A
    # Labels left at zero rank below every selected one, by how much each
    # would reduce the residual on its own (OMP's rule: A_j'r / ||A_j||), the
    # order in which they would enter as the noise level falls.
    residual = embedding - np.where(failed[:, None], 0.0, decoded) @ A.T
    column_norms = np.linalg.norm(A, axis=0)
    gain = (residual @ A) / np.where(column_norms > 0, column_norms, 1.0)
    below = gain - gain.max(axis=1, keepdims=True) - 1.0
    below -= np.abs(decoded).max(axis=1, keepdims=True, initial=0.0) * (not positive)
    scores = np.where((decoded != 0) | failed[:, None], decoded, below)
    return scores, bool(np.any(decoded[~failed] != 0))


def sparse_top_scores(scores, keep):
    """CSR with the best ``keep`` scores of each row, mapped above 0.

    The implicit zeros of a sparse matrix rank every missing label; stored
    scores must all rank above them, for ``toarray().argmax`` and
    scikit-learn's ranking functions as for ``precision_at_k``.
    """
    keep = min(keep, scores.shape[1])
    top = dense_top_k(scores, keep)
    rows = np.repeat(np.arange(len(scores)), keep)
    kept = np.take_along_axis(scores, top, axis=1)
    # In a row with no negative score, zeros tie with the labels left out:
    # they are left out too (an LP vertex keeps at most m labels).
    stored = (kept != 0) | (kept.min(axis=1, keepdims=True) < 0)
    return sp.csr_matrix((positive_monotone(kept[stored]), (rows[stored.ravel()], top[stored])),
                         shape=scores.shape)


def selected_labels(scores, top_k, threshold):
    """0/1 int64 block: the ``top_k`` best labels per row, or those at or above ``threshold``."""
    if threshold is not None:
        return (scores >= threshold).astype(np.int64)
    top = dense_top_k(scores, min(top_k, scores.shape[1]))
    selected = np.zeros(scores.shape, dtype=np.int64)
    np.put_along_axis(selected, top, 1, axis=1)
    return selected


def encoder_scores(encoder, embedding):
    """Label scores from the encoder's own decoder (``inverse_transform``), as dense float64.

    Rows it cannot decode (not finite) are scored by the linear decoder
    ``A^T z``, with a :class:`~skunroll.exceptions.DecodingWarning`.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DecodingWarning)
        scores = encoder.inverse_transform(embedding)
    nearest = [w for w in caught if "nearest" in str(w.message)]
    if nearest:
        warnings.warn(f"predicted embeddings: {nearest[0].message}", DecodingWarning,
                      stacklevel=3)
    scores = np.array(scores.toarray() if sp.issparse(scores) else scores, dtype=np.float64)
    failed = ~np.all(np.isfinite(scores), axis=1)
    if failed.any():
        if not hasattr(encoder, "components_"):
            raise ValueError(f"{failed.sum()} rows could not be decoded and the encoder has "
                             "no components_ for the linear fallback.")
        warnings.warn(
            f"{failed.sum()} of {len(scores)} predicted embeddings could not be decoded "
            "(infeasible LP); they are scored by the linear decoder A^T z instead.",
            DecodingWarning, stacklevel=3,
        )
        scores[failed] = embedding[failed] @ np.asarray(encoder.components_, dtype=np.float64)
    return scores
