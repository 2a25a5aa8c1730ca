"""Recovery metrics for compressed sensing and sparse coding, ranking metrics for XML."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_consistent_length

from .utils._linalg import optimal_error, squared_frobenius
from .utils._top_k import ranked_hits, top_k_labels

__all__ = ["dictionary_recovery_error", "exact_recovery_fraction", "excess_low_rank_error",
           "ndcg_at_k", "normalized_code_error", "precision_at_k", "recovery_rmse",
           "squared_errors", "support_error", "support_precision_recall"]

#: The paper's exact-recovery threshold on ||x_hat - x||_2.
EXACT_RECOVERY_TOL = 1e-10


def squared_errors(X_true, X_pred):
    """Per-row squared l2 error ``||x_pred - x_true||^2``, sparse-aware.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
        Ground truth; a sparse matrix is never densified as a whole.
    X_pred : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reconstructions. NaN rows (failed decodes) give NaN errors.

    Returns
    -------
    errors : ndarray of shape (n_samples,)
    """
    X_true = check_array(X_true, accept_sparse="csr", dtype=np.float64)
    X_pred = check_array(X_pred, accept_sparse="csr", dtype=np.float64, ensure_all_finite=False)
    check_consistent_length(X_true, X_pred)
    if X_true.shape[1] != X_pred.shape[1]:
        raise ValueError(
            f"X_true has {X_true.shape[1]} features but X_pred has {X_pred.shape[1]}."
        )
    if sp.issparse(X_pred):
        X_pred = X_pred.toarray()
    if sp.issparse(X_true):
        # ||p - t||^2 = ||p||^2 - 2 <p, t> + ||t||^2, touching only t's nonzeros.
        cross = np.asarray(X_true.multiply(X_pred).sum(axis=1)).ravel()
        true_norms = np.asarray(X_true.multiply(X_true).sum(axis=1)).ravel()
        errors = np.sum(X_pred**2, axis=1) - 2.0 * cross + true_norms
        # The expansion cancels badly for nearly exact rows: recompute those
        # (cut relative to the row norms) from the difference itself.
        scale = np.maximum(1.0, true_norms + np.sum(X_pred**2, axis=1))
        small = np.flatnonzero(errors < 1e-6 * scale)
        if small.size:
            exact = X_pred[small] - X_true[small].toarray()
            errors[small] = np.sum(exact**2, axis=1)
        return errors
    return np.sum((X_pred - X_true) ** 2, axis=1)


def exact_recovery_fraction(X_true, X_pred, *, tol=EXACT_RECOVERY_TOL):
    """Fraction of rows recovered exactly: ``||x_pred - x_true||_2 < tol``.

    The threshold 1e-10 is the one of Wu et al. (ICML 2019). Rows that failed
    to decode (NaN) count as not recovered.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
    X_pred : array-like of shape (n_samples, n_features)
    tol : float, default=1e-10

    Returns
    -------
    fraction : float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.metrics import exact_recovery_fraction
    >>> X = np.eye(3)
    >>> exact_recovery_fraction(X, X + [[0, 0, 0], [0, 0, 0], [0, 0, 1e-3]])
    0.6666666666666666
    """
    errors = np.sqrt(np.maximum(squared_errors(X_true, X_pred), 0.0))
    return float(np.mean(np.nan_to_num(errors, nan=np.inf) < tol))


def recovery_rmse(X_true, X_pred):
    """Root mean squared l2 error: ``sqrt(mean_i ||x_pred_i - x_true_i||^2)``.

    As reported in Wu et al. (ICML 2019). NaN rows (failed decodes) make it NaN.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
    X_pred : array-like of shape (n_samples, n_features)

    Returns
    -------
    rmse : float
    """
    return float(np.sqrt(np.mean(squared_errors(X_true, X_pred))))


def normalized_code_error(codes_true, codes_pred):
    """Normalised squared error between code matrices, in percent.

    ``100 * sum ||a_pred - a_true||^2 / sum ||a_true||^2``, the "prediction
    error (%)" of Wang et al. (AAAI 2016), Tables 1 and 2.

    Parameters
    ----------
    codes_true : array-like of shape (n_samples, n_components)
    codes_pred : array-like of shape (n_samples, n_components)

    Returns
    -------
    error : float
    """
    codes_true, codes_pred = _check_codes(codes_true, codes_pred)
    total = np.sum(codes_true**2)
    if total == 0:
        raise ValueError("codes_true is all zero: the normalised error is undefined.")
    return float(100.0 * np.sum((codes_pred - codes_true) ** 2) / total)


def support_error(codes_true, codes_pred):
    """Mean number of mismatched nonzero locations per sample.

    Counts, per row, the positions that are nonzero in exactly one of the two
    codes (the symmetric difference of the supports), averaged over rows;
    Wang et al. (AAAI 2016), Table 3.

    Parameters
    ----------
    codes_true : array-like of shape (n_samples, n_components)
    codes_pred : array-like of shape (n_samples, n_components)

    Returns
    -------
    error : float
    """
    codes_true, codes_pred = _check_codes(codes_true, codes_pred)
    return float(np.mean(np.sum((codes_true != 0) != (codes_pred != 0), axis=1)))


def dictionary_recovery_error(dictionary_true, dictionary_pred, *, return_matching=False):
    """Mean ``1 - |cos|`` between true atoms and their best-matched learned atoms.

    Atoms are rows. Each true atom is matched to a distinct learned atom by
    :func:`scipy.optimize.linear_sum_assignment` on the cost ``1 - |cos|``, so
    the order of the learned atoms and their signs do not matter (an atom and
    its negative are the same direction). 0 is perfect recovery; a random
    dictionary scores far from 0 (about 0.66 for 120 atoms in R^60).

    Parameters
    ----------
    dictionary_true : array-like of shape (n_components, n_features)
    dictionary_pred : array-like of shape (n_components_pred, n_features)
        At least as many atoms as ``dictionary_true``.
    return_matching : bool, default=False
        Also return, for each true atom, the index of its learned atom and
        the sign (+1 or -1) that aligns them.

    Returns
    -------
    error : float
    matching : ndarray of shape (n_components,), int
        Only with ``return_matching``.
    signs : ndarray of shape (n_components,)
        Only with ``return_matching``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.metrics import dictionary_recovery_error
    >>> D = np.eye(3)
    >>> dictionary_recovery_error(D, -D[[2, 0, 1]])
    0.0
    """
    from scipy.optimize import linear_sum_assignment

    true = check_array(dictionary_true, dtype=np.float64)
    pred = check_array(dictionary_pred, dtype=np.float64)
    if true.shape[1] != pred.shape[1]:
        raise ValueError(
            f"dictionary_true has atoms of length {true.shape[1]} but dictionary_pred has "
            f"{pred.shape[1]}."
        )
    if pred.shape[0] < true.shape[0]:
        raise ValueError(
            f"dictionary_pred has {pred.shape[0]} atoms, fewer than the {true.shape[0]} of "
            "dictionary_true: every true atom needs a distinct match."
        )
    norms_true = np.linalg.norm(true, axis=1)
    norms_pred = np.linalg.norm(pred, axis=1)
    if np.any(norms_true == 0):
        raise ValueError("dictionary_true has a zero atom; its direction is undefined.")
    unit_pred = pred / np.where(norms_pred > 0, norms_pred, 1)[:, None]
    cosines = (true / norms_true[:, None]) @ unit_pred.T
    rows, columns = linear_sum_assignment(1 - np.abs(cosines))
    matched = cosines[rows, columns]
    error = float(np.mean(1 - np.abs(matched)))
    if return_matching:
        return error, columns, np.where(matched < 0, -1.0, 1.0)
    return error


def support_precision_recall(codes_true, codes_pred, *, tol=0.0):
    """Precision and recall of the recovered supports, over all entries.

    The support of a code is where ``|code| > tol``. Precision is the share of
    predicted nonzeros that are true nonzeros; recall the share of true
    nonzeros that are predicted. Both codes must index atoms in the same order
    (match learned atoms first, e.g. with :func:`dictionary_recovery_error`).

    Parameters
    ----------
    codes_true : array-like of shape (n_samples, n_components)
    codes_pred : array-like of shape (n_samples, n_components)
    tol : float, default=0.0

    Returns
    -------
    precision : float
        1.0 when nothing is predicted nonzero.
    recall : float
        1.0 when nothing is truly nonzero.

    Examples
    --------
    >>> from skunroll.metrics import support_precision_recall
    >>> support_precision_recall([[1, 0, 2]], [[3, 1, 0]])
    (0.5, 0.5)
    """
    codes_true, codes_pred = _check_codes(codes_true, codes_pred)
    true = np.abs(codes_true) > tol
    pred = np.abs(codes_pred) > tol
    hits = np.sum(true & pred)
    precision = float(hits / pred.sum()) if pred.any() else 1.0
    recall = float(hits / true.sum()) if true.any() else 1.0
    return precision, recall


def _check_codes(codes_true, codes_pred):
    codes_true = check_array(codes_true, dtype=np.float64)
    codes_pred = check_array(codes_pred, dtype=np.float64)
    if codes_true.shape != codes_pred.shape:
        raise ValueError(
            f"codes_true has shape {codes_true.shape} but codes_pred has shape {codes_pred.shape}."
        )
    return codes_true, codes_pred


def excess_low_rank_error(A, approximation, n_components):
    """How much worse than optimal a rank-k approximation is.

    ``||A - approximation||_F - ||A - [A]_k||_F``, with ``[A]_k`` the best
    rank-k approximation (truncated SVD), in float64: the per-matrix term of
    the error Indyk, Vakilian and Yuan (2019) report for learned sketches.
    With the approximation given as factors, a sparse ``A`` is never
    densified and no n x d matrix is formed.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n, d)
        The matrix.
    approximation : array-like of shape (n, d), or factors (U, s, Vt)
        Its approximation, dense, or as factors with ``(U * s) @ Vt`` the
        approximation (``U`` n x r, ``s`` (r,), ``Vt`` r x d): the
        :class:`~skunroll.sketching.LowRankFactors` that
        :meth:`~skunroll.sketching.LearnedSketchLowRank.transform` returns, or
        the output of :func:`~sklearn.utils.extmath.randomized_svd`.
    n_components : int
        The rank k, at least 1.

    Returns
    -------
    error : float
        Nonnegative (up to rounding) for any approximation of rank at most k.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.metrics import excess_low_rank_error
    >>> A = np.diag([3.0, 2.0, 1.0])
    >>> round(excess_low_rank_error(A, np.diag([3.0, 0.0, 0.0]), 1), 6)
    0.0
    >>> round(excess_low_rank_error(A, np.diag([0.0, 2.0, 0.0]), 1), 6)
    0.92621
    """

    if sp.issparse(A):
        A = sp.csr_matrix(A, dtype=np.float64)
    else:
        A = check_array(A, dtype=np.float64)
    if not isinstance(n_components, (int, np.integer)) or not 1 <= n_components:
        raise ValueError(f"n_components must be a positive int; got {n_components!r}.")
    n, d = A.shape
    if _is_factors(approximation, A.shape):
        U, s, Vt = (np.asarray(part, dtype=np.float64) for part in approximation)
        left = U * s  # n x r
        # ||A - L Vt||^2 = ||A||^2 - 2 <A, L Vt> + ||L Vt||^2, all through r x r or r x d products.
        cross = float(np.sum((left.T @ A) * Vt)) if not sp.issparse(A) else float(
            np.sum(np.asarray((A.T @ left)).T * Vt))
        own = float(np.sum((left.T @ left) * (Vt @ Vt.T)))
        squared = max(squared_frobenius(A) - 2 * cross + own, 0.0)
        error = np.sqrt(squared)
    else:
        approximation = np.asarray(approximation, dtype=np.float64)
        if approximation.shape != (n, d):
            raise ValueError(
                f"A has shape {(n, d)} but the approximation has shape {approximation.shape}."
            )
        residual = A - approximation if not sp.issparse(A) else A.toarray() - approximation
        error = np.linalg.norm(residual)
    return float(error - optimal_error(A, n_components))


def _is_factors(approximation, shape):
    """True for a (U, s, Vt) triple whose shapes fit an n x d matrix."""
    if not isinstance(approximation, tuple) or len(approximation) != 3:
        return False
    U, s, Vt = (np.asarray(part) for part in approximation)
    return (U.ndim == 2 and s.ndim == 1 and Vt.ndim == 2 and U.shape[0] == shape[0]
            and Vt.shape[1] == shape[1] and U.shape[1] == s.shape[0] == Vt.shape[0])


# ------------------------------------------------------------ ranking (XML)
def _check_ranking(y_true, y_score, k):
    if isinstance(k, bool) or not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    y_true = check_array(y_true, accept_sparse="csr", dtype=None)
    y_score = check_array(y_score, accept_sparse="csr", dtype=np.float64)
    check_consistent_length(y_true, y_score)
    if y_true.shape[1] != y_score.shape[1]:
        raise ValueError(
            f"y_true has {y_true.shape[1]} labels but y_score has {y_score.shape[1]}."
        )
    values = y_true.data if sp.issparse(y_true) else y_true
    if not np.all(np.isin(values, (0, 1))):
        raise ValueError("y_true must be a 0/1 label indicator matrix.")
    y_true = sp.csr_matrix(y_true, dtype=np.float64)
    y_true.eliminate_zeros()  # a stored zero is not a label
    return y_true, y_score


def precision_at_k(y_true, y_score, *, k=5):
    """Precision@k as the extreme multi-label literature defines it.

    ``P@k = (1 / k) * |top-k(y_score) ∩ labels(y_true)|``, averaged over
    samples; always divided by ``k`` (a sample with fewer than ``k`` true
    labels cannot reach 1), as in the Extreme Classification Repository.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        0/1 label indicator matrix.
    y_score : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Label scores (higher is better), e.g. ``decision_function``. Dense
        ties go to the lower label index; in a sparse matrix only stored
        entries are ranked.
    k : int, default=5

    Returns
    -------
    precision : float

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.metrics import precision_at_k
    >>> y_true = np.array([[1, 0, 1, 0], [0, 1, 0, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.0], [0.2, 0.7, 0.3, 0.1]])
    >>> precision_at_k(y_true, y_score, k=1), precision_at_k(y_true, y_score, k=2)
    (1.0, 0.5)

    With :func:`sklearn.metrics.make_scorer`, for
    :class:`~sklearn.model_selection.GridSearchCV`::

        make_scorer(precision_at_k, response_method="decision_function", k=5)
    """
    y_true, y_score = _check_ranking(y_true, y_score, k)
    top, counts = top_k_labels(y_score, k)
    return float(ranked_hits(y_true, top, counts).sum(axis=1).mean() / k)


def ndcg_at_k(y_true, y_score, *, k=5):
    """nDCG@k as the extreme multi-label literature defines it (binary relevance).

    ``DCG@k = sum_{r=1..k} y_{(r)} / log2(r + 1)`` over the labels ranked by
    ``y_score``, divided by the ideal ``sum_{r=1..min(k, |y|)} 1 / log2(r + 1)``;
    averaged over samples. A sample without labels scores 0.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_samples, n_labels)
        0/1 label indicator matrix.
    y_score : {array-like, sparse matrix} of shape (n_samples, n_labels)
        Label scores (higher is better); ties and sparse scores as in
        :func:`precision_at_k`.
    k : int, default=5

    Returns
    -------
    ndcg : float

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.metrics import ndcg_at_k
    >>> y_true = np.array([[0, 1, 1]])
    >>> round(ndcg_at_k(y_true, np.array([[0.9, 0.8, 0.1]]), k=2), 4)
    0.3869
    """
    y_true, y_score = _check_ranking(y_true, y_score, k)
    top, counts = top_k_labels(y_score, k)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = ranked_hits(y_true, top, counts) @ discounts
    n_relevant = np.minimum(np.diff(y_true.indptr), top.shape[1])
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[n_relevant]
    return float(np.mean(np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1), 0.0)))
