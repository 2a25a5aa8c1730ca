"""Iterative sparse coding solvers: ISTA (l1), IHT (l0-regularised) and M-sparse IHT.

All three work on the form a <- h(B + a S) with ``B = mu X D^T`` and
``S = I - mu D D^T`` (``D`` holds the atoms as rows, scikit-learn's
convention), so ``X`` is touched once, as a sparse-aware product, and never
densified.

With step size ``mu`` and ``||D||_2^2 <= 1 / mu``, IHT minimises
``||x - D^T a||^2 + alpha ||a||_0`` (Blumensath and Davies, 2008) with threshold
``sqrt(alpha * mu)``; for ``mu = 1`` this is eq. (6)-(8) of Wang et al. (2016).
Note the objective has no 1/2 (the one whose IHT threshold is ``sqrt(alpha)``,
as eq. 7); the paper's eq. (1), written with a 1/2, would have ``alpha / 2``.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot

from ._modules import keep_largest


def default_step_size(dictionary):
    """``1 / ||D||_2^2``, the largest step for which IHT and ISTA converge."""
    return 1.0 / np.linalg.norm(dictionary, ord=2) ** 2


def _linear_parts(X, dictionary, step_size):
    D = np.asarray(dictionary, dtype=np.float64)
    step = default_step_size(D) if step_size is None else float(step_size)
    B = step * np.asarray(safe_sparse_dot(X, D.T, dense_output=True), dtype=np.float64)
    S = np.eye(D.shape[0]) - step * (D @ D.T)
    return B, S, step


def _iterate(B, S, threshold, n_iter, init, tol, name=None):
    """Run ``A <- threshold(B + A S)``; warn (when ``name`` is given) if ``tol`` is not met."""
    A = np.zeros_like(B) if init is None else np.array(init, dtype=np.float64)
    change = np.inf
    for _ in range(n_iter):
        A_next = threshold(B + A @ S)
        change = np.max(np.abs(A_next - A), initial=0.0)
        A = A_next
        if tol is not None and change <= tol:
            return A
    if name is not None and tol is not None:
        warnings.warn(f"{name} did not converge in {n_iter} iterations: the last step still "
                      f"moved a code by {change:.2e} > tol={tol}.", ConvergenceWarning,
                      stacklevel=2)
    return A


def ista(X, dictionary, *, alpha, n_iter=1000, init=None, step_size=None, tol=1e-8):
    """l1 sparse codes by ISTA: ``min_a 0.5 ||x - D^T a||^2 + alpha ||a||_1``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows.
    alpha : float
        l1 penalty.
    n_iter : int, default=1000
    init : array-like of shape (n_samples, n_components), default=None
    step_size : float, default=None
        ``1 / ||D||_2^2`` if None.
    tol : float or None, default=1e-8
        Stop when no code moves by more than ``tol``.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
    """
    B, S, step = _linear_parts(X, dictionary, step_size)
    shrink = alpha * step
    return _iterate(B, S, lambda U: np.sign(U) * np.maximum(np.abs(U) - shrink, 0.0), n_iter,
                    init, tol)


def fista(X, dictionary, *, alpha, n_iter=1000, step_size=None, tol=1e-8):
    """l1 sparse codes by FISTA (Beck and Teboulle, 2009): ISTA with Nesterov momentum.

    Same problem as :func:`ista`, ``min_a 0.5 ||x - D^T a||^2 + alpha ||a||_1``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows.
    alpha : float
        l1 penalty.
    n_iter : int, default=1000
    step_size : float, default=None
        ``1 / ||D||_2^2`` if None.
    tol : float or None, default=1e-8
        Stop when no code moves by more than ``tol``.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
    """
    B, S, step = _linear_parts(X, dictionary, step_size)
    shrink = alpha * step
    codes = extrapolated = np.zeros_like(B)
    t = 1.0
    for _ in range(n_iter):
        U = B + extrapolated @ S
        following = np.sign(U) * np.maximum(np.abs(U) - shrink, 0.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        extrapolated = following + ((t - 1) / t_next) * (following - codes)
        change = np.max(np.abs(following - codes), initial=0.0)
        codes, t = following, t_next
        if tol is not None and change <= tol:
            break
    return codes


def iht(X, dictionary, *, alpha=0.5, n_iter=10, init=None, step_size=None, tol=None):
    """l0-regularised codes by iterative hard thresholding (seed eq. 6).

    ``a <- H_theta(a + mu D (x - D^T a))`` with ``theta = sqrt(alpha * mu)``,
    which decreases ``||x - D^T a||^2 + alpha ||a||_0``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows.
    alpha : float, default=0.5
        l0 penalty (the seed's lambda).
    n_iter : int, default=10
    init : array-like of shape (n_samples, n_components), default=None
        Starting codes (zeros if None).
    step_size : float, default=None
        ``mu``; ``1 / ||D||_2^2`` if None.
    tol : float, default=None
        Stop early when no code moves by more than ``tol``.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sparse_coding import iht
    >>> D = np.eye(4)
    >>> iht(np.array([[2.0, 0.1, -3.0, 0.5]]), D, alpha=1.0, n_iter=3)
    array([[ 2.,  0., -3.,  0.]])
    """
    B, S, step = _linear_parts(X, dictionary, step_size)
    theta = np.sqrt(alpha * step)
    return _iterate(B, S, lambda U: np.where(np.abs(U) >= theta, U, 0.0), n_iter, init, tol)


def m_sparse_iht(X, dictionary, *, n_nonzero_coefs=32, n_iter=10, init=None, step_size=None,
                 tol=None):
    """M-sparse codes by iterative hard thresholding (seed eq. 10).

    ``a <- H_M(a + mu D (x - D^T a))``, keeping the ``n_nonzero_coefs`` largest
    magnitudes (ties to the lower index).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    dictionary : array-like of shape (n_components, n_features)
    n_nonzero_coefs : int, default=32
        Nonzeros kept per code (the seed's M).
    n_iter : int, default=10
    init : array-like of shape (n_samples, n_components), default=None
    step_size : float, default=None
    tol : float, default=None

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
    """
    B, S, step = _linear_parts(X, dictionary, step_size)
    return _iterate(B, S, lambda U: keep_largest(U, n_nonzero_coefs), n_iter, init, tol)


def optimal_codes(X, dictionary, *, sparsity="l0", alpha=0.5, n_nonzero_coefs=32, l1_alpha=None,
                  max_iter=1000, tol=1e-6, step_size=None):
    """The paper's "optimal codes": l1 solution first, then IHT to convergence.

    Wang et al. (2016) solve the l1 problem for a stable start and then run the
    l0 iteration (eq. 6, ``sparsity="l0"``, or eq. 10, ``sparsity="M"``) until
    convergence; the result is the regression target and the ground truth.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    dictionary : array-like of shape (n_components, n_features)
    sparsity : {"l0", "M", "l1"}, default="l0"
        ``"l1"``: the lasso codes ``min_a 0.5 ||x - D^T a||^2 + alpha ||a||_1``
        alone (ISTA to convergence), the targets of LISTA.
    alpha : float, default=0.5
        l0 penalty (``sparsity="l0"``, the seed's lambda), l1 penalty (``sparsity="l1"``).
    n_nonzero_coefs : int, default=32
        Nonzeros per code (``sparsity="M"``, the seed's M).
    l1_alpha : float, default=None
        Penalty of the l1 start; ``sqrt(alpha) / 2`` if None (half the
        hard threshold at unit step).
    max_iter : int, default=1000
        Iterations at most, for each of the two phases.
    tol : float, default=1e-6
    step_size : float, default=None

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)

    Warns
    -----
    ConvergenceWarning
        When the l0 phase still moves a code by more than ``tol`` after
        ``max_iter`` iterations.
    """
    if sparsity == "l1":
        return ista(X, dictionary, alpha=alpha, n_iter=max_iter, step_size=step_size, tol=tol)
    start_alpha = np.sqrt(alpha) / 2 if l1_alpha is None else l1_alpha
    start = ista(X, dictionary, alpha=start_alpha, n_iter=max_iter, step_size=step_size, tol=tol)
    B, S, step = _linear_parts(X, dictionary, step_size)
    if sparsity == "l0":
        theta = np.sqrt(alpha * step)
        return _iterate(B, S, lambda U: np.where(np.abs(U) >= theta, U, 0.0), max_iter, start,
                        tol, name="IHT (optimal_codes)")
    return _iterate(B, S, lambda U: keep_largest(U, n_nonzero_coefs), max_iter,
                    keep_largest(start, n_nonzero_coefs), tol, name="M-sparse IHT (optimal_codes)")
