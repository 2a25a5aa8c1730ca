"""l1 decoders: exact l1-minimisation and its two noise-aware forms.

``l1-min``:     min ||x||_1  subject to A x = y
``l1-min-pos``: min sum(x)   subject to A x = y, x >= 0
``lasso``:      min 1/2 ||A x - y||^2 + alpha ||x||_1            (``lasso-pos``: x >= 0)
``bpdn``:       min ||x||_1  subject to ||A x - y||_2 <= eps     (``bpdn-pos``: x >= 0)

``solver="batched"`` runs the certified homotopy of ``_batched.py`` on all
rows at once; the rows it cannot certify are solved one by one: the LPs by
HiGHS (``solver="highs"`` does that for every row), the lasso and BPDN by
scikit-learn's exact LARS-lasso path. Rows are split into chunks and solved
through joblib, so ``joblib.parallel_config(backend="dask")`` sends the work
to a dask cluster unchanged.
"""

import warnings

import math

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lars_path
from sklearn.utils import gen_even_slices

from ..exceptions import DecodingWarning
from ._batched import batched_homotopy_decode

EXACT_DECODERS = ("l1-min", "l1-min-pos")
NOISY_DECODERS = ("lasso", "lasso-pos", "bpdn", "bpdn-pos")
DECODERS = EXACT_DECODERS + NOISY_DECODERS
SOLVERS = ("auto", "batched", "highs")
#: ``noise_level="auto"``: the measurements' own rounding, this many units in
#: the last place of their dtype times their root mean square (float32
#: measurements of float32 data carry the rounding of a sum, not of one entry).
ROUNDING_ULPS = 8

_NOISY_DECODER_PARAMETERS = """positive : bool, default=False
        Add the constraint ``x >= 0``.
    device : str or torch.device, default="auto"
        Where the homotopy runs, in float64 (``"auto"``: CUDA when available).
    n_jobs : int, default=None
        Joblib workers over row chunks.
    return_info : bool, default=False
        Also return a dict with ``"success"`` and ``"certified"`` (bool per
        row) and ``"messages"``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    info : dict
        Only with ``return_info=True``."""


def _with_noisy_decoder_parameters(function):
    function.__doc__ = function.__doc__.replace("{noisy_decoder_parameters}",
                                                _NOISY_DECODER_PARAMETERS)
    return function


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
            # HiGHS may return -1e-12 for a zero bound; x >= 0 is the constraint.
            x = np.maximum(result.x, 0.0) if positive else result.x[:d] - result.x[d:]
            X[i] = x
            success[i] = True
            messages.append("")
        else:
            messages.append(result.message)
    return X, success, messages


def l1_min_decode(A, Y, *, positive=False, solver="auto", device="auto", n_jobs=None,
                  on_infeasible="nan", return_info=False):
    """Decode measurements ``Y = X A^T`` by exact l1 minimisation.

    Solves, for every row ``y`` of ``Y``, ``min ||x||_1 s.t. A x = y``
    (``positive=False``) or ``min sum(x) s.t. A x = y, x >= 0``
    (``positive=True``), in float64. Both solvers give the LP's solution:

    - ``"highs"``: one LP per vector with scipy's HiGHS.
    - ``"batched"``: all vectors at once with torch on ``device``. A homotopy
      (the nonnegative lasso path followed down to ``lam = 0``, one shared
      matrix product per breakpoint) identifies each vector's support; the
      solution on that support is then checked by an optimality certificate
      (``z >= 0`` with ``||B z - y||_inf <= 1e-11 ||y||_inf``, a dual ``w``
      with ``max(B'w) <= 1 + 1e-9`` and ``B_j'w = 1`` on the support, duality
      gap ``|1'z - y'w| <= 1e-9 max(|1'z|, |y'w|)``, where ``B = A``, or
      ``[A, -A]`` for l1-min). Vectors without a certificate are solved by
      HiGHS. Where the LP's solution is unique both solvers return it, up to
      HiGHS's own tolerances (errors up to about 1e-8 on our benchmarks,
      against about 1e-15 for the certified answers).
    - ``"auto"``: ``"batched"``. The homotopy is faster than one LP per
      vector at every size we measured (``benchmarks/bench_batched_decode.py``).

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    positive : bool, default=False
        Add the constraint ``x >= 0`` (the "l1-min-pos" decoder).
    solver : {"auto", "batched", "highs"}, default="auto"
        How the LPs are solved; see above.
    device : str or torch.device, default="auto"
        Where the batched solver runs (``"auto"`` picks CUDA when available,
        as the estimators do).
        It computes in float64 on every device. A CUDA device that is missing
        falls back to the CPU with a warning.
    n_jobs : int, default=None
        Number of joblib workers (row chunks of the batched solver, vectors of
        HiGHS); ``None`` means 1 unless in a :func:`joblib.parallel_config`
        context.
    on_infeasible : {"nan", "nearest"}, default="nan"
        What an infeasible row gives (measurements no vector, or no
        nonnegative vector, maps to: a predicted embedding, say). ``"nan"``:
        NaN, as the LP has no solution. ``"nearest"``: the least-l1 vector
        among those whose measurements are nearest to ``y`` in l2, i.e. BPDN
        (:func:`bpdn_decode`) at the smallest feasible ``eps``. The batched
        solver certifies infeasibility (a Farkas certificate, see
        ``_batched.py``) and computes that answer on the same path, so such
        rows never cost a per-vector LP; HiGHS can only say "infeasible", so
        its infeasible rows stay NaN.
    return_info : bool, default=False
        Also return a dict with ``"success"`` (bool per row: decoded, or for
        an infeasible row given its nearest answer), ``"certified"`` (bool per
        row: solved and certified by the batched solver; the other successful
        rows came from HiGHS), ``"infeasible"`` (bool per row: certified
        infeasible by the batched solver) and ``"messages"`` (HiGHS's message
        for each row it failed on, else ``""``).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Decoded vectors. Rows whose LP failed (infeasible measurements, solver
        failure) are NaN, never silently zero, unless
        ``on_infeasible="nearest"``; a :class:`DecodingWarning` names them and
        says what was done.
    info : dict
        Only with ``return_info=True``.

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
    if on_infeasible not in ("nan", "nearest"):
        raise ValueError(f"on_infeasible={on_infeasible!r} is not one of ['nan', 'nearest'].")
    return _decode(A, Y, positive=positive, solver=solver, device=device, n_jobs=n_jobs,
                   on_infeasible=on_infeasible, return_info=return_info)


@_with_noisy_decoder_parameters
def lasso_decode(A, Y, *, alpha, positive=False, device="auto", n_jobs=None,
                 return_info=False):
    """Decode noisy measurements ``Y = X A^T + E`` by the lasso, many rows at once.

    Solves, for every row ``y`` of ``Y``::

        min_x  1/2 ||A x - y||_2^2 + alpha ||x||_1      (and x >= 0 if positive)

    in float64, by the homotopy of :func:`l1_min_decode` stopped at
    ``alpha`` and certified by the lasso's optimality (KKT) conditions: with
    ``r = y - A x``, ``A_j'r = alpha sign(x_j)`` on the support and
    ``|A_j'r| <= alpha`` elsewhere (``A_j'r <= alpha`` with ``x >= 0``), to
    a relative ``1e-9``. Rows the homotopy does not certify are solved by
    scikit-learn's exact LARS-lasso path (:func:`~sklearn.linear_model.lars_path`).

    Note the scaling: scikit-learn's ``Lasso`` minimises
    ``1/(2 m) ||A x - y||^2 + alpha' ||x||_1``, so ``alpha' = alpha / m``.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    alpha : float or array-like of shape (n_samples,)
        The penalty, one for all rows or one per row; ``>= 0``. With white
        noise of standard deviation ``sigma`` per measurement,
        ``alpha = sigma sqrt(2 ln n) max_j ||A_j||`` (:func:`noise_alpha`;
        ``n`` columns, ``2 n`` for signed ``x``) keeps the noise's
        correlation with every column below ``alpha`` with high probability.
    {noisy_decoder_parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sensing import lasso_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60) / np.sqrt(20)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> y = A @ x + 1e-3 * rng.randn(20)
    >>> x_hat = lasso_decode(A, y[None], alpha=0.01, positive=True)
    >>> np.flatnonzero(x_hat[0] > 0.1).tolist()
    [3, 17]
    """
    return _decode(A, Y, positive=positive, alpha=alpha, device=device, n_jobs=n_jobs,
                   return_info=return_info)


@_with_noisy_decoder_parameters
def bpdn_decode(A, Y, *, eps, positive=False, device="auto", n_jobs=None,
                return_info=False):
    """Decode noisy measurements by basis-pursuit denoising, many rows at once.

    Solves, for every row ``y`` of ``Y``::

        min_x  ||x||_1  subject to  ||A x - y||_2 <= eps      (and x >= 0 if positive)

    in float64. Along the lasso's homotopy the residual norm only shrinks, so
    the answer is the lasso's at the ``alpha`` where the residual norm
    reaches ``eps``; the homotopy finds that point in closed form on its
    segment and certifies it by the lasso's KKT conditions plus
    ``||A x - y|| = eps`` (or ``x = 0`` when ``||y|| <= eps``). Uncertified
    rows go to scikit-learn's exact LARS-lasso path; rows no vector fits to
    ``eps`` are NaN with a :class:`DecodingWarning`.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    eps : float or array-like of shape (n_samples,)
        Bound on the residual norm, ``>= 0``. For white noise of standard
        deviation ``sigma`` per measurement, ``sigma sqrt(m + 2 sqrt(2 m))``
        (:func:`noise_eps`: the noise norm's mean square plus two standard
        deviations).
    {noisy_decoder_parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sensing import bpdn_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60) / np.sqrt(20)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> y = A @ x + 1e-3 * rng.randn(20)
    >>> x_hat = bpdn_decode(A, y[None], eps=0.01, positive=True)
    >>> bool(abs(np.linalg.norm(A @ x_hat[0] - y) - 0.01) < 1e-9)
    True
    """
    return _decode(A, Y, positive=positive, eps=eps, device=device, n_jobs=n_jobs,
                   return_info=return_info)


def noise_alpha(A, noise_level, positive=False):
    """The lasso penalty for white noise of standard deviation ``noise_level``.

    ``noise_level * sqrt(2 ln n) * max_j ||A_j||``, with ``n`` the number of
    columns (``2 n`` for signed vectors): the largest correlation of the
    noise with a column stays below it with high probability.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
    noise_level : float or ndarray of shape (n_samples,)
    positive : bool, default=False

    Returns
    -------
    alpha : float or ndarray of shape (n_samples,)
    """
    A = np.asarray(A)
    n_columns = A.shape[1] * (1 if positive else 2)
    return (np.asarray(noise_level, dtype=np.float64) * math.sqrt(2 * math.log(max(n_columns, 2)))
            * float(np.linalg.norm(A, axis=0).max(initial=0.0)))


def noise_eps(n_components, noise_level):
    """BPDN's ``eps`` for white noise: ``noise_level * sqrt(m + 2 sqrt(2 m))``.

    Parameters
    ----------
    n_components : int
        Number of measurements m.
    noise_level : float or ndarray of shape (n_samples,)

    Returns
    -------
    eps : float or ndarray of shape (n_samples,)
    """
    m = n_components
    return np.asarray(noise_level, dtype=np.float64) * math.sqrt(m + 2 * math.sqrt(2 * m))


def rounding_noise_level(Y):
    """``noise_level="auto"``: the rounding of measurements in ``Y``'s dtype, per row.

    ``ROUNDING_ULPS`` units in the last place of ``Y``'s floating dtype times
    the row's root mean square (float64 measurements: about 1e-15 of their
    size, so the noise-aware decoders agree with the exact ones).

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_components)

    Returns
    -------
    noise_level : ndarray of shape (n_samples,)
    """
    dtype = Y.dtype if np.issubdtype(Y.dtype, np.floating) else np.float64
    rms = np.sqrt(np.mean(np.square(Y, dtype=np.float64), axis=1)) if Y.shape[1] else \
        np.zeros(len(Y))
    return ROUNDING_ULPS * float(np.finfo(dtype).eps) * rms


def _per_row(value, n_samples, name):
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        value = np.full(n_samples, float(value))
    if value.shape != (n_samples,):
        raise ValueError(f"{name} has shape {value.shape}; expected a number or one per row "
                         f"({n_samples},).")
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        raise ValueError(f"{name} must be finite and >= 0.")
    return value


def _lars_chunk(A, Y, positive, alpha, eps):
    """The lasso (``alpha``) or BPDN (``eps``) row by row on the exact LARS-lasso path."""
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
    return X, success, messages


def _decode(A, Y, *, positive, alpha=None, eps=None, solver="auto", device="auto", n_jobs=None,
            on_infeasible="nan", return_info=False):
    """The decoders' shared body: validate, batched homotopy, per-row fallback, warn."""
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {list(SOLVERS)}.")
    A = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != A.shape[0]:
        raise ValueError(
            f"Y has shape {Y.shape}; expected (n_samples, {A.shape[0]}) to match A of shape "
            f"{A.shape}."
        )
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(Y))):
        raise ValueError("A and Y must not contain NaN or infinity.")
    n_samples = Y.shape[0]
    exact = alpha is None and eps is None
    if alpha is not None:
        alpha = _per_row(alpha, n_samples, "alpha")
    if eps is not None:
        eps = _per_row(eps, n_samples, "eps")
    X = np.full((n_samples, A.shape[1]), np.nan)
    success = np.zeros(n_samples, dtype=bool)
    certified = np.zeros(n_samples, dtype=bool)
    infeasible = np.zeros(n_samples, dtype=bool)
    messages = [""] * n_samples
    if n_samples and (solver != "highs" or not exact):
        X, certified, _, infeasible = batched_homotopy_decode(
            A, Y, positive=positive, alpha=alpha, eps=eps, device=device, n_jobs=n_jobs
        )
        success[:] = certified
        if on_infeasible == "nearest":
            success |= infeasible
        else:
            X[infeasible] = np.nan
            for i in np.flatnonzero(infeasible):
                messages[i] = "certified infeasible (Farkas)"
    rest = np.flatnonzero(~certified & ~infeasible)
    if rest.size:
        n_chunks = min(rest.size, effective_n_jobs(n_jobs))
        slices = list(gen_even_slices(rest.size, n_chunks))
        if exact:
            jobs = (delayed(_solve_chunk)(A, Y[rest[rows]], positive) for rows in slices)
        else:
            jobs = (delayed(_lars_chunk)(A, Y[rest[rows]], positive,
                                         None if alpha is None else alpha[rest[rows]],
                                         None if eps is None else eps[rest[rows]])
                    for rows in slices)
        results = Parallel(n_jobs=n_jobs)(jobs)
        X[rest] = np.vstack([r[0] for r in results])
        success[rest] = np.concatenate([r[1] for r in results])
        for i, message in zip(rest, (message for r in results for message in r[2])):
            messages[i] = message
    _warn_about(success, infeasible, messages, on_infeasible)
    if return_info:
        return X, {"success": success, "certified": certified, "infeasible": infeasible,
                   "messages": messages}
    return X


def _rows(indices):
    return ", ".join(str(i) for i in indices[:10]) + (", ..." if indices.size > 10 else "")


def _warn_about(success, infeasible, messages, on_infeasible):
    n_samples = len(success)
    failed = np.flatnonzero(~success)
    if failed.size:
        warnings.warn(
            f"{failed.size} of {n_samples} vectors could not be decoded and are returned as NaN "
            f"(rows {_rows(failed)}); first solver message: {messages[failed[0]]!r}",
            DecodingWarning,
        )
    nearest = np.flatnonzero(infeasible & success)
    if on_infeasible == "nearest" and nearest.size:
        warnings.warn(
            f"{nearest.size} of {n_samples} measurement vectors are infeasible for exact "
            f"l1-min (certified; rows {_rows(nearest)}); they were decoded to the least-l1 "
            "vector among those whose measurements are nearest in l2 (BPDN at the smallest "
            "feasible eps).",
            DecodingWarning,
        )
