"""The decoders, behind one entry point: :func:`decode`.

``l1-min``:     min ||x||_1  subject to A x = y
``l1-min-pos``: min sum(x)   subject to A x = y, x >= 0
``lasso``:      min 1/2 ||A x - y||^2 + alpha ||x||_1            (``lasso-pos``: x >= 0)
``bpdn``:       min ||x||_1  subject to ||A x - y||_2 <= eps     (``bpdn-pos``: x >= 0)
``linear``:     the least-norm x with A x = y

The l1 decoders run the batched, certified solvers of ``_batched.py`` on all
rows at once; the few rows those cannot certify are solved one by one: the
LPs by HiGHS, the lasso and BPDN by scikit-learn's exact LARS-lasso path.
Rows are split into chunks solved through joblib, so
``joblib.parallel_config(backend="dask")`` sends the work to a dask cluster
unchanged.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from ..exceptions import DecodingWarning
from . import _per_row
from ._batched import METHODS, batched_decode
from ._noise import measurement_precision, noise_alpha, noise_eps, rounding_noise_level

EXACT_DECODERS = ("l1-min", "l1-min-pos")
NOISY_DECODERS = ("lasso", "lasso-pos", "bpdn", "bpdn-pos")
DECODERS = EXACT_DECODERS + NOISY_DECODERS
SOLVERS = ("auto", "batched", "highs")


def decode(A, Y, method="l1-min-pos", *, noise_level="auto", solver="auto", device="auto",
           n_jobs=None, on_infeasible="nan", return_info=False):
    """Decode measurements ``Y = X A^T (+ noise)`` with the decoder named ``method``.

    The one dispatch of decoder names and noise levels that every estimator
    and :class:`~skunroll.multilabel.CompressedLabelClassifier` uses.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    method : {"l1-min-pos", "l1-min", "lasso-pos", "lasso", "bpdn-pos", "bpdn", \
"linear"}, default="l1-min-pos"
        Exact l1 minimisation (:func:`l1_min_decode`), the lasso
        (:func:`lasso_decode`) or basis-pursuit denoising (:func:`bpdn_decode`),
        with ``x >= 0`` for the ``-pos`` forms; or the least-norm solution
        (:func:`linear_decode`).
    noise_level : float, array-like of shape (n_samples,) or "auto", default="auto"
        Standard deviation of the noise per measurement, for the lasso
        (``alpha = noise_alpha(A, noise_level)``) and BPDN
        (``eps = noise_eps(m, noise_level)``). ``"auto"``: the rounding of
        ``Y``'s dtype (:func:`rounding_noise_level`). The exact and linear
        decoders ignore it: exact l1-min always stops at the rounding of ``Y``.
    solver : {"auto", "batched", "highs"}, default="auto"
        Exact l1-min only: ``"highs"`` solves one LP per row with HiGHS.
    device : str or torch.device, default="auto"
        Where the batched solvers run (float64 on every device).
    n_jobs : int, default=None
        Joblib workers over row chunks.
    on_infeasible : {"nan", "nearest"}, default="nan"
        Exact l1-min: see :func:`l1_min_decode`.
    return_info : bool, default=False
        Also return the per-row report described in :func:`l1_min_decode`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.decoding import decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60) / np.sqrt(20)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> y = A @ x + 1e-3 * rng.randn(20)
    >>> x_hat = decode(A, y[None], "lasso-pos", noise_level=1e-3)
    >>> np.flatnonzero(x_hat[0] > 0.1).tolist()
    [3, 17]
    """
    allowed = (*DECODERS, "linear")
    if method not in allowed:
        raise ValueError(f"method={method!r} is not one of {list(allowed)}.")
    if method == "linear":
        return linear_decode(A, Y)
    positive = method.endswith("-pos")
    options = {"positive": positive, "device": device, "n_jobs": n_jobs,
               "return_info": return_info}
    if method in EXACT_DECODERS:
        return l1_min_decode(A, Y, solver=solver, on_infeasible=on_infeasible, **options)
    A, Y = _check_inputs(A, Y)
    level = (rounding_noise_level(Y) if isinstance(noise_level, str) and noise_level == "auto"
             else _check_per_row(noise_level, len(Y), "noise_level"))
    if method.startswith("lasso"):
        return lasso_decode(A, Y, alpha=noise_alpha(A, level, positive), **options)
    return bpdn_decode(A, Y, eps=noise_eps(A.shape[0], level), **options)


def l1_min_decode(A, Y, *, positive=False, solver="auto", device="auto", n_jobs=None,
                  on_infeasible="nan", return_info=False):
    """Decode measurements ``Y = X A^T`` by exact l1 minimisation.

    Solves, for every row ``y`` of ``Y``, ``min ||x||_1 s.t. A x = y``
    (``positive=False``) or ``min sum(x) s.t. A x = y, x >= 0``
    (``positive=True``), in float64:

    - ``solver="batched"`` (``"auto"``): all rows at once on ``device``. A
      homotopy (the lasso path followed down to the rounding level of
      ``Y``) finds each row's support; the answer is solved there in float64
      and accepted with an optimality certificate: ``x`` fits ``y`` to the
      measurements' rounding (relative ``max(1e-11, 64 u)``, ``u`` the unit
      roundoff of ``Y``'s dtype), is ``> 0`` on its support, and a dual ``w``
      with ``max(B'w) <= 1 + 1e-9`` (``B = A``, or ``[A, -A]``) closes the
      duality gap. So ``x`` is the LP's answer for measurements within the
      rounding of ``y``: float32 measurements decode as fast as float64 ones,
      to their own precision. Rows without a certificate go to a batched
      restarted primal-dual method (PDHG), warm-started, certified exactly on
      its support or by a relative duality gap of at most ``1e-6``; only what
      remains is solved by HiGHS.
    - ``solver="highs"``: one LP per row with scipy's HiGHS (the reference).

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    positive : bool, default=False
        Add the constraint ``x >= 0`` (the "l1-min-pos" decoder).
    solver : {"auto", "batched", "highs"}, default="auto"
        How the LPs are solved; see above.
    device : str or torch.device, default="auto"
        Where the batched solver runs (``"auto"`` picks CUDA when available).
        It computes its certificates in float64 on every device; a CUDA
        device that is missing falls back to the CPU with a warning.
    n_jobs : int, default=None
        Number of joblib workers (row chunks of the batched solver, rows of
        HiGHS); ``None`` means 1 unless in a :func:`joblib.parallel_config`
        context.
    on_infeasible : {"nan", "nearest"}, default="nan"
        What an infeasible row gives (measurements no vector, or no
        nonnegative vector, maps to: a predicted embedding, say). ``"nan"``:
        NaN, as the LP has no solution. ``"nearest"``: the least-l1 vector
        among those whose measurements are nearest to ``y`` in l2, i.e. BPDN
        at the smallest feasible ``eps``. The batched solver certifies
        infeasibility (a Farkas certificate) and computes that answer on the
        same path; HiGHS can only say "infeasible", so its infeasible rows
        stay NaN.
    return_info : bool, default=False
        Also return a dict with, per row: ``"success"`` (decoded, or for an
        infeasible row given its nearest answer), ``"certified"`` (solved and
        certified by the batched solvers), ``"infeasible"`` (certified
        infeasible), ``"method"`` (what solved it: ``"homotopy"``,
        ``"first-order"``, ``"highs"``, ``"lars"``, or ``""``), ``"gap"``
        (the relative duality gap of its certificate), ``"steps"`` (homotopy
        breakpoints, -1 where another method solved it) and ``"messages"``
        (a solver's message for each row it failed on, else ``""``).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Decoded vectors. Rows whose LP failed (infeasible measurements, solver
        failure) are NaN, never silently zero, unless
        ``on_infeasible="nearest"``; a :class:`~skunroll.exceptions.DecodingWarning`
        names them and says what was done.
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.decoding import l1_min_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> x_hat = l1_min_decode(A, (A @ x)[None, :], positive=True)
    >>> bool(np.linalg.norm(x_hat[0] - x) < 1e-10)
    True
    """
    if on_infeasible not in ("nan", "nearest"):
        raise ValueError(f"on_infeasible={on_infeasible!r} is not one of ['nan', 'nearest'].")
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {list(SOLVERS)}.")
    return _solve(A, Y, kind="exact", positive=positive, solver=solver, device=device,
                  n_jobs=n_jobs, on_infeasible=on_infeasible, return_info=return_info)


def lasso_decode(A, Y, *, alpha, positive=False, device="auto", n_jobs=None,
                 return_info=False):
    """Decode noisy measurements ``Y = X A^T + E`` by the lasso, many rows at once.

    Solves, for every row ``y`` of ``Y``::

        min_x  1/2 ||A x - y||_2^2 + alpha ||x||_1      (and x >= 0 if positive)

    in float64, by the homotopy of :func:`l1_min_decode` stopped at
    ``alpha`` and certified by the lasso's optimality (KKT) conditions: with
    ``r = y - A x``, ``A_j'r = alpha sign(x_j)`` on the support and
    ``|A_j'r| <= alpha`` elsewhere (``A_j'r <= alpha`` with ``x >= 0``), to
    a relative ``1e-9``. Rows the homotopy does not certify go to a batched
    FISTA (certified exactly on its support, or by a relative duality gap of
    at most ``1e-6``), then to scikit-learn's exact LARS-lasso path
    (:func:`~sklearn.linear_model.lars_path`).

    Note the scaling: scikit-learn's ``Lasso`` minimises
    ``1/(2 m) ||A x - y||^2 + alpha' ||x||_1``, so ``alpha' = alpha / m``.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    alpha : float or array-like of shape (n_samples,)
        The penalty, one for all rows or one per row; ``>= 0``. With white
        noise of standard deviation ``sigma`` per measurement,
        ``alpha = sigma sqrt(2 ln n) max_j ||A_j||`` (:func:`noise_alpha`;
        ``n`` columns, ``2 n`` for signed ``x``) keeps the noise's
        correlation with every column below ``alpha`` with high probability.
    positive : bool, default=False
        Add the constraint ``x >= 0``.
    device : str or torch.device, default="auto"
        Where the batched solvers run (``"auto"``: CUDA when available); answers and
        certificates are float64 on every device.
    n_jobs : int, default=None
        Joblib workers over row chunks.
    return_info : bool, default=False
        Also return the per-row report of :func:`l1_min_decode`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.decoding import lasso_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60) / np.sqrt(20)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> y = A @ x + 1e-3 * rng.randn(20)
    >>> x_hat = lasso_decode(A, y[None], alpha=0.01, positive=True)
    >>> np.flatnonzero(x_hat[0] > 0.1).tolist()
    [3, 17]
    """
    return _solve(A, Y, kind="lasso", positive=positive, alpha=alpha, device=device,
                  n_jobs=n_jobs, return_info=return_info)


def bpdn_decode(A, Y, *, eps, positive=False, device="auto", n_jobs=None, return_info=False):
    """Decode noisy measurements by basis-pursuit denoising, many rows at once.

    Solves, for every row ``y`` of ``Y``::

        min_x  ||x||_1  subject to  ||A x - y||_2 <= eps      (and x >= 0 if positive)

    in float64. Along the lasso's homotopy the residual norm only shrinks, so
    the answer is the lasso's at the ``alpha`` where the residual norm
    reaches ``eps``; the homotopy finds that point in closed form on its
    segment and certifies it by the lasso's KKT conditions plus
    ``||A x - y|| = eps`` (or ``x = 0`` when ``||y|| <= eps``). Uncertified
    rows go to scikit-learn's exact LARS-lasso path; rows no vector fits to
    ``eps`` are NaN with a :class:`~skunroll.exceptions.DecodingWarning`.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_components, n_features)
        Measurement matrix.
    Y : array-like of shape (n_samples, n_components)
        Measurements, one vector per row.
    eps : float or array-like of shape (n_samples,)
        Bound on the residual norm, ``>= 0``. For white noise of standard
        deviation ``sigma`` per measurement, ``sigma sqrt(m + 2 sqrt(2 m))``
        (:func:`noise_eps`: the noise norm's mean square plus two standard
        deviations).
    positive : bool, default=False
        Add the constraint ``x >= 0``.
    device : str or torch.device, default="auto"
        Where the batched solver runs (``"auto"``: CUDA when available); answers and
        certificates are float64 on every device.
    n_jobs : int, default=None
        Joblib workers over row chunks.
    return_info : bool, default=False
        Also return the per-row report of :func:`l1_min_decode`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.decoding import bpdn_decode
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randn(20, 60) / np.sqrt(20)
    >>> x = np.zeros(60); x[[3, 17]] = [1.0, 0.5]
    >>> y = A @ x + 1e-3 * rng.randn(20)
    >>> x_hat = bpdn_decode(A, y[None], eps=0.01, positive=True)
    >>> bool(abs(np.linalg.norm(A @ x_hat[0] - y) - 0.01) < 1e-9)
    True
    """
    return _solve(A, Y, kind="bpdn", positive=positive, eps=eps, device=device, n_jobs=n_jobs,
                  return_info=return_info)


def linear_decode(A, Y):
    """The least-norm ``x`` with ``A x = y`` for each row: ``A^T (A A^T)^-1 y``.

    For a matrix with orthonormal rows (PCA's) this is ``A^T y``, the
    projection onto its row space.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_components, n_features)
    Y : array-like of shape (n_samples, n_components)

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    A, Y = _check_inputs(A, Y)
    gram = A @ A.T
    return np.linalg.lstsq(gram, Y.T, rcond=None)[0].T @ A


# ----------------------------------------------------------------- the body
def _check_inputs(A, Y):
    """Dense float64 ``A`` and ``Y`` that match; names what is wrong."""
    A = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=np.float64)
    Y = np.asarray(Y)
    if Y.ndim != 2 or A.ndim != 2 or Y.shape[1] != A.shape[0]:
        raise ValueError(
            f"Y has shape {Y.shape}; expected (n_samples, {A.shape[0]}) to match A of shape "
            f"{A.shape}."
        )
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(Y))):
        raise ValueError("A and Y must not contain NaN or infinity.")
    return A, Y


def _check_per_row(value, n_samples, name):
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        value = np.full(n_samples, float(value))
    if value.shape != (n_samples,):
        raise ValueError(f"{name} has shape {value.shape}; expected a number or one per row "
                         f"({n_samples},).")
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        raise ValueError(f"{name} must be finite and >= 0.")
    return value


def _solve(A, Y, *, kind, positive, alpha=None, eps=None, solver="auto", device="auto",
           n_jobs=None, on_infeasible="nan", return_info=False):
    """The decoders' shared body: validate, batched solvers, per-row fallback, warn."""
    A, Y = _check_inputs(A, Y)
    precision = measurement_precision(Y)
    n_samples = len(Y)
    if kind == "exact":
        lam_stop = noise_alpha(A, rounding_noise_level(Y), positive)
    elif kind == "lasso":
        lam_stop = _check_per_row(alpha, n_samples, "alpha")
    else:
        lam_stop = np.zeros(n_samples)
        eps = _check_per_row(eps, n_samples, "eps")
    Y = Y.astype(np.float64, copy=False)
    if n_samples and solver != "highs":
        report = batched_decode(A, Y, kind=kind, positive=positive, lam_stop=lam_stop, eps=eps,
                                precision=precision, device=device, n_jobs=n_jobs)
    else:
        report = {"X": np.full((n_samples, A.shape[1]), np.nan),
                  "certified": np.zeros(n_samples, dtype=bool),
                  "infeasible": np.zeros(n_samples, dtype=bool),
                  "method": np.zeros(n_samples, dtype=int), "gap": np.full(n_samples, np.nan),
                  "steps": np.full(n_samples, -1)}
    X, infeasible = report["X"], report["infeasible"]
    success = report["certified"].copy()
    messages = [""] * n_samples
    if on_infeasible == "nearest":
        success |= infeasible
    else:
        X[infeasible] = np.nan
        for i in np.flatnonzero(infeasible):
            messages[i] = "certified infeasible (Farkas)"
    rest = np.flatnonzero(~report["certified"] & ~infeasible)
    if rest.size:
        method = "highs" if kind == "exact" else "lars"
        solved, gaps = _per_row.solve(A, Y[rest], kind, positive,
                                      None if kind != "lasso" else lam_stop[rest],
                                      None if eps is None else eps[rest], n_jobs)
        X[rest], success[rest] = solved[0], solved[1]
        report["gap"][rest] = gaps
        report["method"][rest] = np.where(solved[1], METHODS.index(method), 0)
        for i, message in zip(rest, solved[2], strict=True):
            messages[i] = message
    _warn_about(success, infeasible, messages, on_infeasible)
    if not return_info:
        return X
    return X, {"success": success, "certified": report["certified"], "infeasible": infeasible,
               "method": np.array(METHODS, dtype=object)[report["method"]],
               "gap": report["gap"], "steps": report["steps"], "messages": messages}


def _rows(indices):
    return ", ".join(str(i) for i in indices[:10]) + (", ..." if indices.size > 10 else "")


def _warn_about(success, infeasible, messages, on_infeasible):
    n_samples = len(success)
    failed = np.flatnonzero(~success)
    if failed.size:
        warnings.warn(
            f"{failed.size} of {n_samples} vectors could not be decoded and are returned as NaN "
            f"(rows {_rows(failed)}); first solver message: {messages[failed[0]]!r}",
            DecodingWarning, stacklevel=3,
        )
    nearest = np.flatnonzero(infeasible & success)
    if on_infeasible == "nearest" and nearest.size:
        warnings.warn(
            f"{nearest.size} of {n_samples} measurement vectors are infeasible for exact "
            f"l1-min (certified; rows {_rows(nearest)}); they were decoded to the least-l1 "
            "vector among those whose measurements are nearest in l2 (BPDN at the smallest "
            "feasible eps).",
            DecodingWarning, stacklevel=3,
        )
