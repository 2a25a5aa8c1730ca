"""Exact l1-minimisation decoders.

``l1-min``:     min ||x||_1  subject to A x = y
``l1-min-pos``: min sum(x)   subject to A x = y, x >= 0

Each right-hand side is one LP. ``solver="highs"`` solves them one by one with
HiGHS; ``solver="batched"`` runs the certified homotopy of ``_batched.py`` on
all of them at once and hands the vectors it cannot certify to HiGHS. Rows are
split into chunks and solved through joblib, so
``joblib.parallel_config(backend="dask")`` sends the work to a dask cluster
unchanged.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from scipy.optimize import linprog
from sklearn.utils import gen_even_slices

from ..exceptions import DecodingWarning
from ._batched import batched_l1_min_decode

DECODERS = ("l1-min", "l1-min-pos")
SOLVERS = ("auto", "batched", "highs")


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


def l1_min_decode(A, Y, *, positive=False, solver="auto", device="cpu", n_jobs=None,
                  return_info=False):
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
    device : str or torch.device, default="cpu"
        Where the batched solver runs (``"auto"`` picks CUDA when available).
        It computes in float64 on every device. A CUDA device that is missing
        falls back to the CPU with a warning.
    n_jobs : int, default=None
        Number of joblib workers (row chunks of the batched solver, vectors of
        HiGHS); ``None`` means 1 unless in a :func:`joblib.parallel_config`
        context.
    return_info : bool, default=False
        Also return a dict with ``"success"`` (bool per row: decoded),
        ``"certified"`` (bool per row: solved and certified by the batched
        solver; the other successful rows came from HiGHS) and ``"messages"``
        (HiGHS's message for each row it failed on, else ``""``).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Decoded vectors. Rows whose LP failed (infeasible measurements, solver
        failure) are NaN, never silently zero; a :class:`DecodingWarning`
        names them.
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
    X = np.full((n_samples, A.shape[1]), np.nan)
    success = np.zeros(n_samples, dtype=bool)
    certified = np.zeros(n_samples, dtype=bool)
    messages = [""] * n_samples
    if n_samples and solver in ("auto", "batched"):
        X, certified, _ = batched_l1_min_decode(
            A, Y, positive=positive, device=device, n_jobs=n_jobs
        )
        success[:] = certified
    rest = np.flatnonzero(~certified)
    if rest.size:
        n_chunks = min(rest.size, effective_n_jobs(n_jobs))
        results = Parallel(n_jobs=n_jobs)(
            delayed(_solve_chunk)(A, Y[rest[rows]], positive)
            for rows in gen_even_slices(rest.size, n_chunks)
        )
        X[rest] = np.vstack([r[0] for r in results])
        success[rest] = np.concatenate([r[1] for r in results])
        for i, message in zip(rest, (message for r in results for message in r[2])):
            messages[i] = message
    failed = np.flatnonzero(~success)
    if failed.size:
        shown = ", ".join(str(i) for i in failed[:10]) + (", ..." if failed.size > 10 else "")
        warnings.warn(
            f"{failed.size} of {n_samples} vectors could not be decoded and are returned as NaN "
            f"(rows {shown}); first solver message: {messages[failed[0]]!r}",
            DecodingWarning,
        )
    if return_info:
        return X, {"success": success, "certified": certified, "messages": messages}
    return X
