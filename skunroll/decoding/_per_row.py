"""Exact per-row solvers: the last resort of the batched decoders, and references.

``highs_lp``: one LP per row with scipy's HiGHS. ``lars_lasso``: the lasso
(``alpha``) or BPDN (``eps``) row by row on scikit-learn's exact LARS-lasso
path. Both return ``(X, success, messages, gaps)``, the gaps relative
duality gaps (HiGHS's duals; the lasso's dual point, the scaled residual; NaN
for BPDN).
"""

import math
import warnings

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lars_path
from sklearn.utils import gen_even_slices


def highs_lp(A, Y, positive):
    """Solve ``min ||x||_1 s.t. A x = y`` (``x >= 0`` if positive) for each row with HiGHS."""
    m, d = A.shape
    X = np.full((Y.shape[0], d), np.nan)
    success = np.zeros(Y.shape[0], dtype=bool)
    messages = [""] * Y.shape[0]
    # Signed: x = u - v with u, v >= 0, min 1'u + 1'v s.t. [A, -A][u; v] = y.
    A_eq = A if positive else np.hstack([A, -A])
    cost = np.ones(A_eq.shape[1])
    gaps = np.full(Y.shape[0], np.nan)
    for i, y in enumerate(Y):
        result = linprog(cost, A_eq=A_eq, b_eq=y, bounds=(0, None), method="highs")
        if result.status == 0:
            # HiGHS may return -1e-12 for a zero bound; x >= 0 is the constraint.
            X[i] = np.maximum(result.x, 0.0) if positive else result.x[:d] - result.x[d:]
            success[i] = True
            dual_cost = float(y @ result.eqlin.marginals)
            gaps[i] = abs(result.fun - dual_cost) / max(abs(result.fun), abs(dual_cost), 1e-300)
        else:
            messages[i] = result.message
    return X, success, messages, gaps


def lars_lasso(A, Y, positive, alpha, eps):
    """The lasso (``alpha`` per row) or BPDN (``eps`` per row) on the exact LARS-lasso path."""
    m, d = A.shape
    X = np.full((Y.shape[0], d), np.nan)
    success = np.zeros(Y.shape[0], dtype=bool)
    messages = [""] * Y.shape[0]
    for i, y in enumerate(Y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # scikit-learn's alphas are ours divided by m.
            _, _, coefs = lars_path(A, y, method="lasso", positive=positive,
                                    alpha_min=0.0 if alpha is None else alpha[i] / m,
                                    max_iter=max(500, 8 * m))
        if alpha is not None:
            X[i], success[i] = coefs[:, -1], True
            continue
        # BPDN: the first breakpoint within eps, then the crossing on the segment before it.
        residual_norms = np.linalg.norm(y[:, None] - A @ coefs, axis=0)
        within = np.flatnonzero(residual_norms <= eps[i] * (1 + 1e-12))
        if not within.size:
            messages[i] = (f"no vector fits y to eps={eps[i]:.3g} (the least-squares residual "
                           f"is {residual_norms.min():.3g}).")
            continue
        k = within[0]
        if k == 0:
            X[i], success[i] = coefs[:, 0], True
            continue
        start, move = coefs[:, k - 1], coefs[:, k] - coefs[:, k - 1]
        r, u = y - A @ start, A @ move
        a, b, c = u @ u, r @ u, r @ r - eps[i] ** 2
        t = c / (b + math.sqrt(max(b * b - a * c, 0.0))) if b > 0 else 1.0
        X[i], success[i] = start + min(max(t, 0.0), 1.0) * move, True
    gaps = np.full(Y.shape[0], np.nan) if alpha is None else _lasso_gaps(A, Y, alpha, X, positive)
    return X, success, messages, gaps


def _lasso_gaps(A, Y, alpha, X, positive):
    """Relative duality gaps of the lasso, with the residual scaled into the dual set."""
    X = np.nan_to_num(X)
    residual = Y - X @ A.T
    correlation = residual @ A
    top = correlation.max(axis=1) if positive else np.abs(correlation).max(axis=1)
    theta = residual * np.minimum(1.0, alpha / np.maximum(top, 1e-300))[:, None]
    primal = 0.5 * (residual**2).sum(axis=1) + alpha * np.abs(X).sum(axis=1)
    dual = (Y * theta).sum(axis=1) - 0.5 * (theta**2).sum(axis=1)
    return np.maximum(primal - dual, 0.0) / np.maximum(primal, 1e-300)


def solve(A, Y, kind, positive, alpha, eps, n_jobs):
    """HiGHS (exact) or LARS (lasso, BPDN), one row at a time, over joblib chunks."""
    n_chunks = min(len(Y), effective_n_jobs(n_jobs))
    slices = list(gen_even_slices(len(Y), n_chunks))
    if kind == "exact":
        jobs = (delayed(highs_lp)(A, Y[rows], positive) for rows in slices)
    else:
        jobs = (delayed(lars_lasso)(A, Y[rows], positive,
                                    None if alpha is None else alpha[rows],
                                    None if eps is None else eps[rows])
                for rows in slices)
    results = Parallel(n_jobs=n_jobs)(jobs)
    X = np.vstack([r[0] for r in results])
    success = np.concatenate([r[1] for r in results])
    messages = [message for r in results for message in r[2]]
    gaps = np.concatenate([r[3] for r in results])
    return (X, success, messages), gaps
