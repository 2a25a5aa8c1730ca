"""Batched exact l1-min decoding: a homotopy shared across vectors, then certificates.

Every vector is either returned with an optimality certificate of its LP or
decoded by the exact per-vector LP (HiGHS), so the answers are those of the
LP (up to the stated tolerances) whatever the homotopy achieves.

The LP, for each measurement vector ``y`` (with ``B = A`` for l1-min-pos, or
``B = [A, -A]`` and ``x = u - v`` for l1-min)::

    min 1'z  s.t.  B z = y,  z >= 0          (dual: max y'w  s.t.  B'w <= 1)

Homotopy. The nonnegative lasso ``min 1/2 ||y - B z||^2 + lam 1'z, z >= 0``
has a piecewise-linear solution path in ``lam``; at ``lam -> 0`` it ends at
the LP's solution. The path starts at ``z = 0``, ``lam = max(B'y)`` and moves
from one breakpoint to the next: a column joins the active set ``S`` when its
correlation ``B_j'(y - B z)`` reaches ``lam``, and leaves it when its
coefficient reaches zero (the positive LARS-lasso steps). For a k-sparse
vector that the LP recovers, the path usually needs about k steps (Donoho and
Tsaig's k-step property), each a (batch x m) @ (m x n) product shared by all
vectors plus a |S| x |S| solve per vector, so it is exact support
identification at the cost of a few dozen matrix products.

Certificate. At the end of the path, with active set ``S`` (``|S| <= m``):

- primal: ``z`` is solved on ``S+``, the columns of ``S`` whose coefficients do
  not vanish on the last segment (when ``y`` lies on a lower-dimensional face,
  some coefficients reach zero exactly at ``lam = 0``; they are recognised by
  cancellation, not by size), from the normal equations with one step of
  iterative refinement, in float64; required: ``z_S+ > 0`` and
  ``||B z - y||_inf <= 1e-11 ||y||_inf``;
- dual: ``w = B_S (B_S'B_S)^{-1} 1`` on the whole of ``S``; required:
  ``max(B'w) <= 1 + tol``. The homotopy's last segment guarantees this ``w``
  is dual feasible in exact arithmetic;
- complementary slackness: ``B_j'w = 1`` on ``S``, which contains the support
  of ``z``, so it holds in exact arithmetic; numerically the duality gap
  ``|1'z - y'w| <= tol max(|1'z|, |y'w|)`` enforces it.

Then ``z`` is optimal to these tolerances. A vector whose path does not finish
within ``max_steps`` breakpoints, whose Gram matrix is singular, or whose
certificate fails, goes to the exact LP.
"""

import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils import gen_even_slices

from ..utils._device import inference_device
from ..utils._threads import limit_torch_threads

# Size of one chunk's (rows x columns of B) arrays: on a CPU small enough to
# stay in cache (2-3x faster than one big batch at d = 8,000), on a GPU large
# enough to fill it.
_CHUNK_ELEMENTS = 2**20
_CHUNK_ELEMENTS_GPU = 2**25
# Primal feasibility of a certified answer: ||B_S z_S - y||_inf <= _PRIMAL_TOL ||y||_inf.
_PRIMAL_TOL = 1e-11


def batched_l1_min_decode(A, Y, *, positive=False, device="cpu", max_steps=None, tol=1e-9,
                          n_jobs=None):
    """Decode ``Y = X A^T`` by the certified homotopy, many vectors at once.

    Parameters
    ----------
    A : ndarray of shape (n_components, n_features)
        float64 measurement matrix.
    Y : ndarray of shape (n_samples, n_components)
        float64 measurements.
    positive : bool, default=False
        l1-min-pos instead of l1-min.
    device : torch.device or str, default="cpu"
        Where the homotopy runs (always in float64).
    max_steps : int, default=None
        Breakpoints before a vector is handed over; ``None`` means
        ``4 * n_components + 20``.
    tol : float, default=1e-9
        Tolerance of the certificate (see the module docstring).
    n_jobs : int, default=None
        Row chunks are solved through joblib with this many workers.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The certified solutions; NaN for the rows not certified.
    certified : ndarray of shape (n_samples,), dtype=bool
    steps : ndarray of shape (n_samples,), dtype=int
        Homotopy breakpoints taken by each row (-1 for rows not certified).
    """
    m, d = A.shape
    n_samples = Y.shape[0]
    if max_steps is None:
        max_steps = 4 * m + 20
    n_columns = d if positive else 2 * d
    device = inference_device(device)
    if device.type not in ("cpu", "cuda"):
        warnings.warn(f"the batched l1 decoder computes in float64, which {device.type} does "
                      "not support; running it on the CPU.", RuntimeWarning)
        device = torch.device("cpu")
    on_gpu = device.type == "cuda"
    # Per row: the correlation arrays (n_columns) and, once supports grow to m,
    # the gathered columns and Gram matrices (a few m x m).
    row_elements = n_columns + 2 * m * m
    chunk_rows = max(1, (_CHUNK_ELEMENTS_GPU if on_gpu else _CHUNK_ELEMENTS) // row_elements)
    # On a GPU one process runs the chunks; n_jobs is for the CPU (and HiGHS).
    n_chunks = max(1 if on_gpu else effective_n_jobs(n_jobs), -(-n_samples // chunk_rows))
    n_chunks = max(1, min(n_samples, n_chunks))
    results = Parallel(n_jobs=None if on_gpu else n_jobs)(
        delayed(_homotopy_chunk)(A, Y[rows], positive, str(device), max_steps, tol)
        for rows in gen_even_slices(n_samples, n_chunks)
    )
    X = np.vstack([r[0] for r in results]) if results else np.empty((0, d))
    certified = np.concatenate([r[1] for r in results]) if results else np.zeros(0, bool)
    steps = np.concatenate([r[2] for r in results]) if results else np.zeros(0, int)
    return X, certified, steps


@limit_torch_threads
def _homotopy_chunk(A, Y, positive, device, max_steps, tol):
    # On a dask worker without the GPU the caller saw: the CPU, with a warning.
    device = inference_device(device)
    m, d = A.shape
    B = A if positive else np.hstack([A, -A])
    n_columns = B.shape[1]
    Bt = torch.as_tensor(B, dtype=torch.float64, device=device)
    columns = Bt.T.contiguous()  # column j of B is row j here
    Yt = torch.as_tensor(Y, dtype=torch.float64, device=device)
    n_rows = Y.shape[0]

    Z = np.full((n_rows, n_columns), np.nan)
    certified = np.zeros(n_rows, dtype=bool)
    steps = np.full(n_rows, -1)

    corr = Yt @ Bt  # c = B'(y - B z), with z = 0
    lam, first = corr.max(dim=1)
    zero_rows = ~Yt.any(dim=1)
    # z = 0 is the answer for y = 0. Any other y with max(B'y) <= 0 is infeasible
    # (w = t y is dual feasible for every t > 0); the LP fallback says so.
    Z[zero_rows.cpu().numpy()] = 0.0
    certified[zero_rows.cpu().numpy()] = True
    steps[zero_rows.cpu().numpy()] = 0
    live = (lam > 0) & ~zero_rows
    lam_start = lam
    rows = torch.nonzero(live).flatten()
    corr, lam, first, lam_start = corr[rows], lam[rows], first[rows], lam_start[rows]
    Yt = Yt[rows]
    rows = rows.cpu().numpy()

    # Active set as padded slots: idx[b, s] is a column of B when valid[b, s].
    capacity = 1
    idx = first[:, None].clone()
    valid = torch.ones_like(idx, dtype=torch.bool)
    coef = torch.zeros_like(idx, dtype=torch.float64)
    banned = torch.zeros(len(rows), dtype=torch.long, device=device)
    has_banned = torch.zeros(len(rows), dtype=torch.bool, device=device)
    arange = torch.arange(len(rows), device=device)

    for step in range(1, max_steps + 1):
        if not len(rows):
            break
        arange = arange[: len(rows)]
        gathered = columns[idx]  # (rows, capacity, m)
        pair = valid[:, :, None] & valid[:, None, :]
        gram = torch.where(pair, gathered @ gathered.transpose(1, 2), 0.0)
        gram = gram + torch.diag_embed((~valid).to(gram.dtype))
        direction, info = torch.linalg.solve_ex(gram, valid.to(gram.dtype))
        broken = info != 0
        direction = torch.where(valid, direction, 0.0)
        u = torch.einsum("bs,bsm->bm", direction, gathered)

        # Breakpoints: a column joins, a coefficient hits zero, or lam reaches zero.
        # A column j joins when c_j - gamma s_j = lam - gamma (s = B'u is the
        # slope of the correlations). Active columns have s_j = 1 in exact
        # arithmetic: pinning their rate 1 - s_j to exactly 0 keeps them out of
        # the joiners without a dense mask and their c_j on lam. (A product
        # scatter, since stale indices of free slots may repeat active ones.)
        rate = torch.rsub(u @ Bt, 1.0)
        rate.scatter_reduce_(1, idx, (~valid).to(rate.dtype), reduce="prod")
        ratio = torch.sub(lam[:, None], corr).clamp_(min=0.0).div_(rate)
        ratio.masked_fill_(rate <= 1e-12, torch.inf)
        # The column that just left does not rejoin at once.
        ratio[arange, banned] = torch.where(has_banned, torch.inf, ratio[arange, banned])
        join_gamma, joiner = ratio.min(dim=1)
        del ratio
        leaving = valid & (direction < -1e-14 * direction.abs().amax(dim=1, keepdim=True))
        leave_gamma = torch.where(leaving, -coef / direction, torch.inf)
        leave_gamma, leaver = leave_gamma.min(dim=1)
        gamma = torch.minimum(torch.minimum(join_gamma, leave_gamma), lam)
        # An event within rounding of the path's end is the end.
        finished = (gamma >= lam - 1e-11 * lam_start) & ~broken
        gamma = torch.where(finished, lam, gamma)
        joins = ~finished & (join_gamma <= leave_gamma) & ~broken
        leaves = ~finished & ~joins & ~broken

        coef = torch.where(valid, coef + gamma[:, None] * direction, 0.0)
        corr.addcmul_(gamma[:, None], rate, value=1.0).sub_(gamma[:, None])  # c -= gamma s
        lam = lam - gamma
        if step % 16 == 0:  # refresh the correlations, which drift by rounding
            corr = (Yt - torch.einsum("bs,bsm->bm", coef, gathered)) @ Bt
        # Coefficients the last segment drives to zero exactly at lam = 0 (y on a
        # lower-dimensional face) end as rounding noise: recognised by cancellation,
        # not by size, so that a small true coefficient is kept.
        moved = gamma[:, None] * direction
        vanishing = valid & (coef.abs() <= 1e-9 * ((coef - moved).abs() + moved.abs()))

        # Drop the leavers (their slot is freed), then add the joiners.
        banned = torch.where(leaves, idx[arange, leaver], 0)
        has_banned = leaves
        if leaves.any():
            r = torch.nonzero(leaves).flatten()
            valid[r, leaver[r]] = False
            coef[r, leaver[r]] = 0.0
        if joins.any():
            r = torch.nonzero(joins).flatten()
            if bool(valid[r].all(dim=1).any()):
                if capacity == m:  # a support larger than m: hand over to the LP
                    full = valid.all(dim=1) & joins
                    broken = broken | full
                    joins = joins & ~full
                    r = torch.nonzero(joins).flatten()
                else:
                    capacity += 1
                    idx = torch.cat([idx, idx[:, :1]], dim=1)
                    valid = torch.cat([valid, torch.zeros_like(valid[:, :1])], dim=1)
                    coef = torch.cat([coef, torch.zeros_like(coef[:, :1])], dim=1)
                    vanishing = torch.cat([vanishing, torch.zeros_like(vanishing[:, :1])], dim=1)
            slot = (~valid[r]).to(torch.int8).argmax(dim=1)
            idx[r, slot] = joiner[r]
            valid[r, slot] = True

        done = finished | broken
        if bool(done.any()):
            ended = torch.nonzero(finished).flatten()
            if len(ended):
                z, ok = _certify(columns, Bt, Yt[ended], idx[ended], valid[ended],
                                 valid[ended] & ~vanishing[ended], tol)
                target = rows[ended.cpu().numpy()]
                Z[target] = z
                certified[target] = ok
                steps[target] = np.where(ok, step, -1)
            keep = torch.nonzero(~done).flatten()
            rows = rows[keep.cpu().numpy()]
            corr, lam, lam_start, Yt = corr[keep], lam[keep], lam_start[keep], Yt[keep]
            idx, valid, coef, banned, has_banned = (
                idx[keep], valid[keep], coef[keep], banned[keep], has_banned[keep]
            )
    Z[~certified] = np.nan
    X = Z if positive else Z[:, :d] - Z[:, d:]
    return X, certified, steps


def _certify(columns, Bt, Y, idx, valid, keep, tol):
    """Polish and check the supports ``idx[valid]``; returns (Z, certified).

    The dual comes from the whole active set ``S`` (``valid``) of the path's
    last segment. The primal is solved on ``S+`` (``keep``), the part of ``S``
    whose coefficients do not vanish. Complementary slackness holds in exact
    arithmetic, since ``B_j'w = 1`` on all of ``S``; numerically the duality gap
    check enforces it.
    """
    gathered = torch.where(valid[:, :, None], columns[idx], 0.0)  # (rows, slots, m)
    gram = gathered @ gathered.transpose(1, 2) + torch.diag_embed((~valid).to(Y.dtype))
    dual_coef, dual_info = torch.linalg.solve_ex(gram, valid.to(Y.dtype))
    dual = torch.einsum("bs,bsm->bm", dual_coef, gathered)

    gathered = torch.where(keep[:, :, None], gathered, 0.0)
    gram = gathered @ gathered.transpose(1, 2) + torch.diag_embed((~keep).to(Y.dtype))
    coef = torch.zeros(keep.shape, dtype=Y.dtype, device=Y.device)
    info = dual_info
    for _ in range(2):  # a solve and one step of iterative refinement
        residual = Y - torch.einsum("bs,bsm->bm", coef, gathered)
        correction, solve_info = torch.linalg.solve_ex(
            gram, torch.einsum("bsm,bm->bs", gathered, residual)
        )
        coef = coef + correction
        info = info | solve_info
    residual = Y - torch.einsum("bs,bsm->bm", coef, gathered)
    coef = torch.where(keep, coef, 0.0)

    # Relative tolerances (zero rows never get here).
    primal = (
        torch.where(keep, coef > 0, True).all(dim=1)
        & (residual.abs().amax(dim=1) <= _PRIMAL_TOL * Y.abs().amax(dim=1))
    )
    dual_feasible = (dual @ Bt).amax(dim=1) <= 1.0 + tol
    cost, dual_cost = coef.sum(dim=1), (Y * dual).sum(dim=1)
    gap = (cost - dual_cost).abs() <= tol * torch.maximum(cost.abs(), dual_cost.abs())
    ok = (info == 0) & primal & dual_feasible & gap

    Z = torch.zeros(len(Y), Bt.shape[1], dtype=torch.float64, device=Y.device)
    Z.scatter_add_(1, idx, coef)
    return Z.cpu().numpy(), ok.cpu().numpy()
