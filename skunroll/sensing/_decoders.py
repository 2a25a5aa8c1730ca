"""Exact l1-minimisation decoders (linear programs solved by HiGHS).

``l1-min``:     min ||x||_1  subject to A x = y
``l1-min-pos``: min sum(x)   subject to A x = y, x >= 0

Each right-hand side is one LP. Rows are split into ``n_jobs`` chunks and
solved through joblib, so ``joblib.parallel_config(backend="dask")`` sends the
work to a dask cluster unchanged.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from scipy.optimize import linprog
from sklearn.utils import gen_even_slices

from ..exceptions import DecodingWarning

DECODERS = ("l1-min", "l1-min-pos")


def _solve_chunk(A, Y, positive):
    """Solve the LPs for the rows of Y one by one. Returns (X, success, messages)."""
    m, d = A.shape
    X = np.full((Y.shape[0], d), np.nan)
    success = np.zeros(Y.shape[0], dtype=bool)
    messages = []
    if positive:
        cost = np.ones(d)
        A_eq = A
        bounds = (0, None)
    else:
        # x = u - v with u, v >= 0: min 1'u + 1'v  s.t. [A, -A][u; v] = y.
        cost = np.ones(2 * d)
        A_eq = np.hstack([A, -A])
        bounds = (0, None)
    for i, y in enumerate(Y):
        result = linprog(cost, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
        if result.status == 0:
            x = result.x if positive else result.x[:d] - result.x[d:]
            X[i] = x
            success[i] = True
            messages.append("")
        else:
            messages.append(result.message)
    return X, success, messages


def l1_min_decode(A, Y, *, positive=False, n_jobs=None, return_info=False):
    """Decode measurements ``Y = X A^T`` by exact l1 minimisation.

    Solves, for every row ``y`` of ``Y``, ``min ||x||_1 s.t. A x = y``
    (``positive=False``) or ``min sum(x) s.t. A x = y, x >= 0``
    (``positive=True``) with scipy's HiGHS LP solver, in float64.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    positive : bool, default=False
        Add the constraint ``x >= 0`` (the "l1-min-pos" decoder).
    n_jobs : int, default=None
        Number of joblib workers; ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context.
    return_info : bool, default=False
        Also return a boolean mask of the rows whose LP was solved and the
        solver's message for each failed row.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Decoded vectors. Rows whose LP failed (infeasible measurements, solver
        failure) are NaN, never silently zero; a :class:`DecodingWarning`
        names them.
    success : ndarray of shape (n_samples,), dtype=bool
        Only with ``return_info=True``.
    messages : list of str
        Only with ``return_info=True``; empty strings for solved rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sensing import l1_min_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> x_hat = l1_min_decode(A, (A @ x)[None, :], positive=True)
    >>> bool(np.linalg.norm(x_hat[0] - x) < 1e-10)
    True
    """
    A = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != A.shape[0]:
        raise ValueError(
            f"Y has shape {Y.shape}; expected (n_samples, {A.shape[0]}) to match A of shape {A.shape}."
        )
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(Y))):
        raise ValueError("A and Y must not contain NaN or infinity.")
    n_samples = Y.shape[0]
    if n_samples == 0:
        X, success, messages = np.empty((0, A.shape[1])), np.zeros(0, dtype=bool), []
    else:
        n_chunks = min(n_samples, effective_n_jobs(n_jobs))
        results = Parallel(n_jobs=n_jobs)(
            delayed(_solve_chunk)(A, Y[rows], positive)
            for rows in gen_even_slices(n_samples, n_chunks)
        )
        X = np.vstack([r[0] for r in results])
        success = np.concatenate([r[1] for r in results])
        messages = [message for r in results for message in r[2]]
    failed = np.flatnonzero(~success)
    if failed.size:
        shown = ", ".join(str(i) for i in failed[:10]) + (", ..." if failed.size > 10 else "")
        warnings.warn(
            f"{failed.size} of {n_samples} vectors could not be decoded and are returned as NaN "
            f"(rows {shown}); first solver message: {messages[failed[0]]!r}",
            DecodingWarning,
        )
    if return_info:
        return X, success, messages
    return X
