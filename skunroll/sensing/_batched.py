"""Batched l1 decoding: a homotopy shared across vectors, then certificates.

Every vector is either returned with an optimality certificate of its problem
or handed back uncertified (the callers solve those one by one), so the
answers are those of the problem (up to the stated tolerances) whatever the
homotopy achieves.

The problems, for each measurement vector ``y`` (with ``B = A`` for the
nonnegative decoders, or ``B = [A, -A]`` and ``x = u - v`` for the signed ones):

- exact l1-min, an LP: ``min 1'z  s.t.  B z = y,  z >= 0``
  (dual: ``max y'w  s.t.  B'w <= 1``);
- the lasso ``min 1/2 ||y - B z||^2 + alpha 1'z,  z >= 0``;
- basis-pursuit denoising (BPDN) ``min 1'z  s.t.  ||y - B z||_2 <= eps,  z >= 0``.

Homotopy. The lasso's solution is piecewise linear in ``alpha``. The path
starts at ``z = 0``, ``lam = max(B'y)`` and moves from one breakpoint to the
next: a column joins the active set ``S`` when its correlation
``B_j'(y - B z)`` reaches ``lam``, and leaves it when its coefficient reaches
zero (the positive LARS-lasso steps). It stops at ``lam = alpha`` (the lasso),
where the residual norm falls to ``eps`` (BPDN: the residual shrinks along the
path, and on a segment its squared norm is a quadratic in the step, so the
crossing is found in closed form; the BPDN solution is the lasso's at that
``lam``), or at ``lam -> 0`` (exact l1-min). For a k-sparse vector that the LP
recovers, the path usually needs about k steps (Donoho and Tsaig's k-step
property), each a (batch x m) @ (m x n) product shared by all vectors plus a
|S| x |S| solve per vector; noisy measurements stopped at the noise level need
about as many, where the exact path would go on fitting the noise.

Certificates. At the end of the path, with active set ``S`` (``|S| <= m``) and
``lam`` its end value:

- every decoder: ``z`` is solved on ``S+``, the columns of ``S`` whose
  coefficients do not vanish on the last segment (recognised by cancellation,
  not by size), from ``B_S'B_S z = B_S'y - lam 1`` with one step of iterative
  refinement, in float64; required: ``z_S+ > 0``;
- the lasso (and BPDN) at ``lam > 0``, by its KKT conditions: the residual
  ``r = y - B z`` has ``|B_j'r - lam| <= tol lam_0`` on ``S+`` and
  ``max(B'r) <= lam + tol lam_0`` (``lam_0 = max(B'y)``); for BPDN also
  ``| ||r|| - eps | <= tol max(eps, ||y||)``, so ``lam`` is its multiplier;
- exact l1-min: ``||B z - y||_inf <= 1e-11 ||y||_inf``; the dual
  ``w = B_S (B_S'B_S)^{-1} 1`` on the whole of ``S`` with ``max(B'w) <= 1 + tol``;
  and the duality gap ``|1'z - y'w| <= tol max(|1'z|, |y'w|)``;
- infeasibility of exact l1-min (a Farkas certificate from the same path):
  at ``lam -> 0`` the path ends at the nonnegative least-squares fit. If its
  residual ``r`` is not zero (``||r||_inf > 1e-11 ||y||_inf``) while
  ``max(B'r) <= tol ||r|| max_j ||B_j||`` and ``y'r > 0``, then ``w = r``
  separates ``y`` from the cone ``{B z : z >= 0}``: every ``z >= 0`` has
  ``||B z - y|| >= y'r / ||r|| - tol max_j ||B_j|| ||z||_1``, so no
  ``z`` of bounded size fits ``y``. The fit itself is returned: the least-l1
  point among the best least-squares fits, i.e. BPDN at the smallest ``eps``
  that is feasible.

A vector whose path does not finish within ``max_steps`` breakpoints, whose
Gram matrix is singular, or whose certificate fails, is returned uncertified.
"""

import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils import gen_even_slices

from ..exceptions import DeviceFallbackWarning
from ..utils._device import inference_device
from ..utils._threads import limit_torch_threads

# Size of one chunk's (rows x columns of B) arrays: on a CPU small enough to
# stay in cache (2-3x faster than one big batch at d = 8,000), on a GPU large
# enough to fill it.
_CHUNK_ELEMENTS = 2**20
_CHUNK_ELEMENTS_GPU = 2**25
# Size of one chunk's support arrays (rows x 2 m^2: gathered columns, Gram
# matrices), which fill up only as supports grow: a separate, larger budget, so
# that a large m does not shrink the chunks to a few rows (at m = 100, L = 465
# chunks of 51 rows decoded 2.7x slower than chunks of 410).
_SUPPORT_ELEMENTS = 2**23
# Primal feasibility of a certified exact answer: ||B_S z_S - y||_inf <= _PRIMAL_TOL ||y||_inf.
_PRIMAL_TOL = 1e-11


def batched_l1_min_decode(A, Y, *, positive=False, device="cpu", max_steps=None, tol=1e-9,
                          n_jobs=None):
    """Decode ``Y = X A^T`` by the certified homotopy, many vectors at once.

    Exact l1-min; see :func:`batched_homotopy_decode` for the other problems.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The certified solutions; NaN for the rows not certified.
    certified : ndarray of shape (n_samples,), dtype=bool
    steps : ndarray of shape (n_samples,), dtype=int
        Homotopy breakpoints taken by each row (-1 for rows not certified).
    """
    X, certified, steps, infeasible = batched_homotopy_decode(
        A, Y, positive=positive, device=device, max_steps=max_steps, tol=tol, n_jobs=n_jobs)
    X[infeasible] = np.nan
    return X, certified, steps


def batched_homotopy_decode(A, Y, *, positive=False, alpha=None, eps=None, device="cpu",
                            max_steps=None, tol=1e-9, n_jobs=None):
    """Exact l1-min, the lasso or BPDN of ``Y = X A^T + noise``, many vectors at once.

    Parameters
    ----------
    A : ndarray of shape (n_components, n_features)
        float64 measurement matrix.
    Y : ndarray of shape (n_samples, n_components)
        float64 measurements.
    positive : bool, default=False
        Nonnegative solutions (``B = A``) instead of signed ones.
    alpha : ndarray of shape (n_samples,), default=None
        The lasso's penalty per row (``1/2 ||y - A x||^2 + alpha ||x||_1``).
    eps : ndarray of shape (n_samples,), default=None
        BPDN's residual bound per row. With neither ``alpha`` nor ``eps``: exact
        l1-min.
    device : torch.device or str, default="cpu"
        Where the homotopy runs (always in float64).
    max_steps : int, default=None
        Breakpoints before a vector is handed back; ``None`` means
        ``4 * n_components + 20``.
    tol : float, default=1e-9
        Tolerance of the certificates (see the module docstring).
    n_jobs : int, default=None
        Row chunks are solved through joblib with this many workers.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The certified solutions (for exact l1-min, the certified-infeasible
        rows hold their least-squares fit); NaN for the other rows.
    certified : ndarray of shape (n_samples,), dtype=bool
        Solved and certified optimal.
    steps : ndarray of shape (n_samples,), dtype=int
        Homotopy breakpoints taken by each row (-1 for rows not certified).
    infeasible : ndarray of shape (n_samples,), dtype=bool
        Exact l1-min only: certified infeasible (never together with ``certified``).
    """
    if alpha is not None and eps is not None:
        raise ValueError("give the lasso's alpha or BPDN's eps, not both.")
    m, d = A.shape
    n_samples = Y.shape[0]
    if max_steps is None:
        max_steps = 4 * m + 20
    n_columns = d if positive else 2 * d
    device = inference_device(device)
    if device.type not in ("cpu", "cuda"):
        warnings.warn(f"the batched l1 decoder computes in float64, which {device.type} does "
                      "not support; running it on the CPU.", DeviceFallbackWarning)
        device = torch.device("cpu")
    on_gpu = device.type == "cuda"
    # Per row: the correlation arrays (n_columns) and, once supports grow to m,
    # the gathered columns and Gram matrices (a few m x m).
    budget = _CHUNK_ELEMENTS_GPU if on_gpu else _CHUNK_ELEMENTS
    chunk_rows = max(1, min(budget // n_columns,
                            max(budget, _SUPPORT_ELEMENTS) // (2 * m * m)))
    # On a GPU one process runs the chunks; n_jobs is for the CPU.
    n_chunks = max(1 if on_gpu else effective_n_jobs(n_jobs), -(-n_samples // chunk_rows))
    n_chunks = max(1, min(n_samples, n_chunks))
    results = Parallel(n_jobs=None if on_gpu else n_jobs)(
        delayed(_homotopy_chunk)(A, Y[rows], positive, str(device), max_steps, tol,
                                 None if alpha is None else alpha[rows],
                                 None if eps is None else eps[rows])
        for rows in gen_even_slices(n_samples, n_chunks)
    )
    if not results:
        return np.empty((0, d)), np.zeros(0, bool), np.zeros(0, int), np.zeros(0, bool)
    return tuple(np.concatenate([r[i] for r in results]) for i in range(4))


@limit_torch_threads
def _homotopy_chunk(A, Y, positive, device, max_steps, tol, alpha=None, eps=None):
    # On a dask worker without the GPU the caller saw: the CPU, with a warning.
    device = inference_device(device)
    m, d = A.shape
    B = A if positive else np.hstack([A, -A])
    n_columns = B.shape[1]
    Bt = torch.as_tensor(B, dtype=torch.float64, device=device)
    columns = Bt.T.contiguous()  # column j of B is row j here
    Yt = torch.as_tensor(Y, dtype=torch.float64, device=device)
    n_rows = Y.shape[0]
    exact = alpha is None and eps is None
    lam_stop = torch.as_tensor(np.zeros(n_rows) if alpha is None else alpha,
                               dtype=torch.float64, device=device)
    eps_sq = None if eps is None else torch.as_tensor(eps, dtype=torch.float64,
                                                      device=device) ** 2
    column_norm = float(np.linalg.norm(A, axis=0).max()) if A.size else 0.0

    Z = np.full((n_rows, n_columns), np.nan)
    certified = np.zeros(n_rows, dtype=bool)
    infeasible = np.zeros(n_rows, dtype=bool)
    steps = np.full(n_rows, -1)

    corr = Yt @ Bt  # c = B'(y - B z), with z = 0
    lam, first = corr.max(dim=1)
    # z = 0 is the answer when the path ends before it starts: y = 0, the
    # lasso's alpha >= max(B'y), BPDN's ||y|| <= eps. Otherwise, for exact
    # l1-min, max(B'y) <= 0 with y != 0 certifies infeasibility (w = y), and 0
    # is the nearest point of the cone.
    if exact:
        at_zero = ~Yt.any(dim=1)
        separated = (lam <= 0) & ~at_zero
    else:
        at_zero = lam <= lam_stop if eps is None else (Yt * Yt).sum(dim=1) <= eps_sq
        separated = torch.zeros_like(at_zero)
    for mask, flag in ((at_zero, certified), (separated, infeasible)):
        mask = mask.cpu().numpy()
        Z[mask] = 0.0
        flag[mask] = True
        steps[mask] = 0
    live = ~at_zero & ~separated & (lam > 0)
    rows = torch.nonzero(live).flatten()
    corr, lam, first, lam_stop = corr[rows], lam[rows], first[rows], lam_stop[rows]
    lam_start = lam
    Yt = Yt[rows]
    if eps_sq is not None:
        eps_sq = eps_sq[rows]
    rows = rows.cpu().numpy()

    # Active set as padded slots: idx[b, s] is a column of B when valid[b, s].
    capacity = 1
    idx = first[:, None].clone()
    valid = torch.ones_like(idx, dtype=torch.bool)
    coef = torch.zeros_like(idx, dtype=torch.float64)
    banned = torch.zeros(len(rows), dtype=torch.long, device=device)
    has_banned = torch.zeros(len(rows), dtype=torch.bool, device=device)
    arange = torch.arange(len(rows), device=device)
    # The Gram matrices of the active columns, kept across steps: a joining
    # column adds one row and column (|S| m work instead of |S|^2 m), entries of
    # freed slots are masked out.
    gram = (columns[idx] ** 2).sum(dim=2, keepdim=True)

    for step in range(1, max_steps + 1):
        if not len(rows):
            break
        arange = arange[: len(rows)]
        gathered = columns[idx]  # (rows, capacity, m)
        pair = valid[:, :, None] & valid[:, None, :]
        system = torch.where(pair, gram, 0.0) + torch.diag_embed((~valid).to(gram.dtype))
        direction, info = _gram_solve(system, valid.to(gram.dtype))
        del system
        broken = info != 0
        direction = torch.where(valid, direction, 0.0)
        u = torch.einsum("bs,bsm->bm", direction, gathered)

        # Breakpoints: a column joins, a coefficient hits zero, or lam reaches its end.
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
        end_gamma = lam - lam_stop
        if eps_sq is not None:
            # The residual r - gamma u reaches norm eps: the smaller root of
            # ||u||^2 g^2 - 2 (r'u) g + ||r||^2 - eps^2 = 0.
            residual = Yt - torch.einsum("bs,bsm->bm", coef, gathered)
            a, b = (u * u).sum(dim=1), (residual * u).sum(dim=1)
            c = (residual * residual).sum(dim=1) - eps_sq
            disc = b * b - a * c
            root = c / (b + disc.clamp(min=0.0).sqrt())  # = (b - sqrt(disc)) / a, stably
            end_gamma = torch.where((disc >= 0) & (b > 0), torch.minimum(root, end_gamma),
                                    end_gamma)
        gamma = torch.minimum(torch.minimum(join_gamma, leave_gamma), end_gamma)
        # An event within rounding of the path's end is the end.
        finished = (gamma >= end_gamma - 1e-11 * lam_start) & ~broken
        gamma = torch.where(finished, end_gamma, gamma)
        joins = ~finished & (join_gamma <= leave_gamma) & ~broken
        leaves = ~finished & ~joins & ~broken

        coef = torch.where(valid, coef + gamma[:, None] * direction, 0.0)
        corr.addcmul_(gamma[:, None], rate, value=1.0).sub_(gamma[:, None])  # c -= gamma s
        lam = lam - gamma
        if step % 16 == 0:  # refresh the correlations, which drift by rounding
            corr = (Yt - torch.einsum("bs,bsm->bm", coef, gathered)) @ Bt
        # Coefficients the last segment drives to zero exactly at its end (y on a
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
                if capacity == m:  # a support larger than m: hand back
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
                    gram = torch.nn.functional.pad(gram, (0, 1, 0, 1))
            # The joiner's inner products with every slot (stale slots are masked;
            # a slot added just now is the joiner's own).
            joining = columns[joiner[r]]
            entries = torch.einsum("bsm,bm->bs", gathered[r], joining)
            if entries.shape[1] < capacity:
                entries = torch.nn.functional.pad(entries, (0, 1))
            slot = (~valid[r]).to(torch.int8).argmax(dim=1)
            idx[r, slot] = joiner[r]
            valid[r, slot] = True
            entries[torch.arange(len(r), device=device), slot] = (joining * joining).sum(dim=1)
            gram[r, slot, :] = entries
            gram[r, :, slot] = entries

        done = finished | broken
        if bool(done.any()):
            ended = torch.nonzero(finished).flatten()
            if len(ended):
                z, ok, separated = _certify(
                    columns, Bt, Yt[ended], idx[ended], valid[ended],
                    valid[ended] & ~vanishing[ended], tol,
                    lam=None if exact else lam[ended], lam_start=lam_start[ended],
                    eps=None if eps_sq is None else eps_sq[ended].sqrt(),
                    column_norm=column_norm)
                target = rows[ended.cpu().numpy()]
                Z[target] = z
                certified[target] = ok
                infeasible[target] = separated
                steps[target] = np.where(ok | separated, step, -1)
            keep = torch.nonzero(~done).flatten()
            rows = rows[keep.cpu().numpy()]
            corr, lam, lam_start, lam_stop, Yt = (
                corr[keep], lam[keep], lam_start[keep], lam_stop[keep], Yt[keep])
            if eps_sq is not None:
                eps_sq = eps_sq[keep]
            idx, valid, coef, banned, has_banned, gram = (
                idx[keep], valid[keep], coef[keep], banned[keep], has_banned[keep], gram[keep]
            )
    Z[~(certified | infeasible)] = np.nan
    X = Z if positive else Z[:, :d] - Z[:, d:]
    return X, certified, steps, infeasible


def _gram_solve(gram, rhs):
    """Solve the batched symmetric positive definite systems ``gram x = rhs`` by Cholesky.

    Returns ``(x, info)``; ``info != 0`` where a Gram matrix is not positive
    definite (dependent columns). Cholesky rather than LU: half the work, and
    MKL's batched LU was seen to fail ("Parameter 6 was incorrect on entry to
    DLASWP") on these systems with two threads, sending rows down
    max_steps-long paths.
    """
    factor, info = torch.linalg.cholesky_ex(gram)
    return torch.cholesky_solve(rhs[..., None], factor)[..., 0], info


def _certify(columns, Bt, Y, idx, valid, keep, tol, lam=None, lam_start=None, eps=None,
             column_norm=None):
    """Polish and check the supports ``idx[valid]``; returns (Z, certified, infeasible).

    ``lam=None``: exact l1-min. The dual comes from the whole active set ``S``
    (``valid``) of the path's last segment; the primal is solved on ``S+``
    (``keep``), the part of ``S`` whose coefficients do not vanish.
    Complementary slackness holds in exact arithmetic, since ``B_j'w = 1`` on
    all of ``S``; numerically the duality gap check enforces it. A nonzero
    least-squares residual that separates ``y`` from the cone certifies
    infeasibility instead.

    ``lam`` given (per row): the lasso's KKT conditions at ``lam`` (and, with
    ``eps``, the residual norm of BPDN).
    """
    exact = lam is None
    lam_vector = torch.zeros(len(Y), dtype=Y.dtype, device=Y.device) if exact else lam
    gathered = torch.where(valid[:, :, None], columns[idx], 0.0)  # (rows, slots, m)
    if exact:
        gram = gathered @ gathered.transpose(1, 2) + torch.diag_embed((~valid).to(Y.dtype))
        dual_coef, dual_info = _gram_solve(gram, valid.to(Y.dtype))
        dual = torch.einsum("bs,bsm->bm", dual_coef, gathered)

    gathered = torch.where(keep[:, :, None], gathered, 0.0)
    gram = gathered @ gathered.transpose(1, 2) + torch.diag_embed((~keep).to(Y.dtype))
    coef = torch.zeros(keep.shape, dtype=Y.dtype, device=Y.device)
    info = torch.zeros(len(Y), dtype=torch.int32, device=Y.device)
    target = keep.to(Y.dtype) * lam_vector[:, None]  # B_S'r = lam on S+
    for _ in range(2):  # a solve and one step of iterative refinement
        residual = Y - torch.einsum("bs,bsm->bm", coef, gathered)
        correction, solve_info = _gram_solve(
            gram, torch.einsum("bsm,bm->bs", gathered, residual) - target
        )
        coef = coef + correction
        info = info | solve_info
    residual = Y - torch.einsum("bs,bsm->bm", coef, gathered)
    coef = torch.where(keep, coef, 0.0)
    positive_coef = torch.where(keep, coef > 0, True).all(dim=1)
    correlation = residual @ Bt

    if exact:
        # Relative tolerances (zero rows never get here).
        fits = residual.abs().amax(dim=1) <= _PRIMAL_TOL * Y.abs().amax(dim=1)
        dual_feasible = (dual @ Bt).amax(dim=1) <= 1.0 + tol
        cost, dual_cost = coef.sum(dim=1), (Y * dual).sum(dim=1)
        gap = (cost - dual_cost).abs() <= tol * torch.maximum(cost.abs(), dual_cost.abs())
        ok = (info == 0) & (dual_info == 0) & positive_coef & fits & dual_feasible & gap
        residual_norm = residual.norm(dim=1)
        separated = (
            (info == 0) & positive_coef & ~fits
            & (correlation.amax(dim=1) <= tol * column_norm * residual_norm)
            & ((Y * residual).sum(dim=1) > 0.5 * residual_norm**2)
        )
    else:
        slack = tol * lam_start
        on_support = torch.where(keep, (torch.gather(correlation, 1, idx) - lam[:, None]).abs(),
                                 0.0).amax(dim=1) <= slack
        ok = (info == 0) & positive_coef & on_support & (correlation.amax(dim=1) <= lam + slack)
        if eps is not None:
            scale = torch.maximum(eps, Y.norm(dim=1))
            ok = ok & ((residual.norm(dim=1) - eps).abs() <= tol * scale)
        separated = torch.zeros_like(ok)

    Z = torch.zeros(len(Y), Bt.shape[1], dtype=torch.float64, device=Y.device)
    Z.scatter_add_(1, idx, coef)
    return Z.cpu().numpy(), ok.cpu().numpy(), separated.cpu().numpy()
