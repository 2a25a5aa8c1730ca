"""Batched exact l1-min decoding: a first-order method shared across vectors, then certificates.

Every vector is either returned with an optimality certificate of its LP or
decoded by the exact per-vector LP (HiGHS), so the answers are those of the
LP (up to the stated tolerances) whatever the first-order phase achieves.

The LP, for each measurement vector ``y`` (with ``B = A`` for l1-min-pos, or
``B = [A, -A]`` and ``x = u - v`` for l1-min)::

    min 1'z  s.t.  B z = y,  z >= 0          (dual: max y'lam  s.t.  B'lam <= 1)

Phase 1 runs PDHG (Chambolle-Pock) on all vectors at once with torch. Every
``check_every`` iterations, each unresolved vector gets a polish: its support
``S`` is read off the iterate, ``z_S`` solves ``B_S z_S = y`` (least squares),
and the dual iterate is projected onto ``{lam : B_S' lam = 1}``. The pair is a
certificate when

- primal feasibility: ``z_S > 0`` and ``||B_S z_S - y||_inf <= tol (1 + ||y||_inf)``;
- dual feasibility: ``max(B' lam) <= 1 + tol``;
- complementary slackness: by construction (reduced costs are 0 on ``S``, and
  ``z`` is 0 off ``S``).

Then ``1'z = y'lam`` up to the tolerances, so ``z`` is optimal. Vectors still
uncertified after ``max_iter`` iterations go to the exact LP.
"""

import numpy as np
import torch

from ..utils._device import resolve_device
from ._decoders import l1_min_decode


def batched_l1_min_decode(A, Y, *, positive=False, device="cpu", max_iter=3000, check_every=50,
                          tol=1e-9, n_jobs=None, return_info=False):
    """Decode ``Y = X A^T`` by exact l1 minimisation, many vectors at once.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
    Y : array-like of shape (n_samples, n_components)
    positive : bool, default=False
        Solve l1-min-pos (``min sum(x) s.t. A x = y, x >= 0``) instead of
        l1-min (``min ||x||_1 s.t. A x = y``).
    device : str or torch.device, default="cpu"
        Where the first-order phase runs.
    max_iter : int, default=3000
        PDHG iterations before the remaining vectors go to the exact LP.
    check_every : int, default=50
        Iterations between polish-and-certify attempts.
    tol : float, default=1e-9
        Tolerance of the certificate (see the module docstring).
    n_jobs : int or None, default=None
        joblib workers for the exact-LP fallback.
    return_info : bool, default=False
        Also return a dict: ``certified`` (bool per vector: certified by the
        batched phase; False means decoded by the LP), ``iterations`` (the
        PDHG iteration at which each certified vector was certified; -1 for
        the LP ones).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64. Vectors the LP fallback could not decode are NaN, with a
        :class:`~skunroll.exceptions.DecodingWarning` (as
        :func:`~skunroll.sensing.l1_min_decode`).
    info : dict
        Only with ``return_info``.
    """
    A = np.asarray(A, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(Y))):
        raise ValueError("A and Y must not contain NaN or infinity.")
    if Y.shape[1] != A.shape[0]:
        raise ValueError(f"Y has {Y.shape[1]} columns but A has {A.shape[0]} rows.")
    n_samples, d = Y.shape[0], A.shape[1]
    B = A if positive else np.hstack([A, -A])
    X = np.full((n_samples, d), np.nan)
    certified = np.zeros(n_samples, dtype=bool)
    iterations = np.full(n_samples, -1)

    device = resolve_device(device)
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    Bt = torch.as_tensor(B, dtype=dtype, device=device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=device)
    # tau * sigma * ||B||^2 < 1 for convergence.
    step = 0.95 / max(np.linalg.norm(B, 2), 1e-12)
    Z = torch.zeros((n_samples, B.shape[1]), dtype=dtype, device=device)
    Lam = torch.zeros((n_samples, B.shape[0]), dtype=dtype, device=device)
    active = np.arange(n_samples)
    for iteration in range(1, max_iter + 1):
        Z_new = torch.relu(Z - step * (1.0 - Lam @ Bt))
        Lam = Lam + step * (Yt - (2 * Z_new - Z) @ Bt.T)
        Z = Z_new
        if iteration % check_every and iteration != max_iter:
            continue
        Z_host, Lam_host = Z.cpu().numpy().astype(np.float64), Lam.cpu().numpy().astype(np.float64)
        done = np.zeros(len(active), dtype=bool)
        for row, sample in enumerate(active):
            z = _certify(B, Y[sample], Z_host[row], Lam_host[row], tol)
            if z is not None:
                X[sample] = z if positive else z[:d] - z[d:]
                certified[sample] = True
                iterations[sample] = iteration
                done[row] = True
        if done.any():
            keep = torch.as_tensor(~done, device=device)
            Z, Lam, Yt = Z[keep], Lam[keep], Yt[keep]
            active = active[~done]
        if not len(active):
            break
    if len(active):
        X[active] = l1_min_decode(A, Y[active], positive=positive, n_jobs=n_jobs)
    if return_info:
        return X, {"certified": certified, "iterations": iterations}
    return X


def _certify(B, y, z, lam, tol):
    """The polished primal ``z`` if it carries an optimality certificate, else None."""
    scale = z.max() if z.size else 0.0
    if scale <= 0:
        # z = 0 is optimal only for y = 0.
        return np.zeros_like(z) if not np.any(y) else None
    support = np.flatnonzero(z > 1e-6 * scale)
    m = B.shape[0]
    if support.size > m:
        return None
    B_S = B[:, support]
    z_S, _, rank, _ = np.linalg.lstsq(B_S, y, rcond=None)
    if rank < support.size or np.any(z_S <= 0):
        return None
    y_norm = 1.0 + np.abs(y).max()
    if np.abs(B_S @ z_S - y).max() > tol * y_norm:
        return None
    # Project the dual iterate onto {lam : B_S' lam = 1}: reduced costs 0 on the support.
    gram = B_S.T @ B_S
    lam = lam + B_S @ np.linalg.solve(gram, 1.0 - B_S.T @ lam)
    if (B.T @ lam).max() > 1.0 + tol:
        return None
    polished = np.zeros_like(z)
    polished[support] = z_S
    return polished
