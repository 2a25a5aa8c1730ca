"""Optimality certificates for the decoders' answers, in float64.

With ``B = A`` for the nonnegative problems, or ``B = [A, -A]`` and
``x = u - v`` for the signed ones, every answer is a ``z >= 0`` on a set of
columns ``S`` and is accepted only with a certificate of its problem:

- exact l1-min, an LP ``min 1'z s.t. B z = y, z >= 0`` (dual
  ``max y'w s.t. B'w <= 1``): ``z`` solves the least-squares problem on
  ``S+`` (the columns of ``S`` whose coefficients do not vanish), with
  ``z_S+ > 0`` and ``||B z - y||_inf <= primal_tol ||y||_inf``, where
  ``primal_tol`` is the rounding of the measurements (1e-11 for float64); the
  dual ``w = B_S (B_S'B_S)^-1 1`` on the whole of ``S`` has
  ``max(B'w) <= 1 + tol``; the duality gap ``|1'z - y'w|`` is at most
  ``tol max(|1'z|, |y'w|)`` plus what the primal residual explains,
  ``||B z - y|| ||w||``. So ``z`` is the LP's answer for measurements within
  the rounding of ``y``.
- infeasibility of exact l1-min (Farkas): at the end of the path the least-
  squares fit ``z`` misses ``y`` (``||r||_inf > primal_tol ||y||_inf``) while
  ``max(B'r) <= tol ||r|| max_j ||B_j||`` and ``y'r > ||r||^2 / 2``: then
  ``w = r`` separates ``y`` from the cone ``{B z : z >= 0}``, and ``z`` is the
  nearest fit, the least-l1 point among the best least-squares fits.
- the lasso at ``lam > 0`` (and BPDN, the lasso at its multiplier): the KKT
  conditions, ``|B_j'r - lam| <= tol lam_0`` on ``S+`` and
  ``max(B'r) <= lam + tol lam_0`` (``lam_0 = max(B'y)``); for BPDN also
  ``| ||r|| - eps | <= tol max(eps, ||y||)``.

Each check returns the relative duality gap it measured, which the decoders
report per row.
"""

import torch

from . import _cholesky

#: Nonpositive least-squares coefficients at most this fraction (times the
#: measurements' rounding) of the largest are the path's end on a face.
_DROP_ROUNDING = 1e3
#: Rounds of dropping such coefficients and solving again.
_FACE_ROUNDS = 3


#: Rows solved together, sorted by the size of their active sets (padding is per group).
_SOLVE_GROUP = 16


def _active_set(problem, state):
    """Each row's columns (slots as given), and the path's factor of their Gram matrix.

    A path's state carries both (``cols``, ``chol``, free slots identity);
    otherwise the columns are gathered and the dual solved afresh. Either way
    the checks below use fresh products, so a factor that rounding has worn
    can fail a certificate but never pass a wrong one.
    """
    if "chol" in state:
        return state["cols"], state["chol"]
    cols = problem.signed_columns(state["index"], state["sign"]) * state["used"][..., None]
    return cols, None


def _solve_grouped(cols, keep, y, lam, target=None):
    """Per row, on the columns ``keep``: the least-squares ``B_K'B_K z = B_K'y - lam 1``
    (one step of iterative refinement), or with ``target`` the system ``B_K'B_K z = target``.

    Rows go in groups of similar size, each padded to its own largest set.
    Returns ``(z, info)``, ``info != 0`` where a Gram matrix is singular.
    """
    n, _, m = cols.shape
    counts = keep.sum(dim=1)
    z = torch.zeros(keep.shape, dtype=cols.dtype, device=cols.device)
    info = torch.zeros(n, dtype=torch.int32, device=cols.device)
    for rows in torch.argsort(counts).split(_SOLVE_GROUP):
        width = max(1, int(counts[rows].max()))
        order = torch.argsort((~keep[rows]).to(torch.int8), dim=1, stable=True)[:, :width]
        sub_keep = keep[rows].gather(1, order)
        sub = cols[rows].gather(1, order[:, :, None].expand(-1, -1, m)) * sub_keep[..., None]
        gram = sub @ sub.transpose(1, 2) + torch.diag_embed((~sub_keep).to(sub.dtype))
        factor, info[rows] = torch.linalg.cholesky_ex(gram)
        if target is not None:
            rhs = target[rows].gather(1, order) * sub_keep
            x = torch.cholesky_solve(rhs[..., None], factor)[..., 0]
        else:
            x = _least_squares(factor, sub, y[rows], sub_keep, lam[rows])
        z[rows] = torch.zeros_like(z[rows]).scatter_(1, order, torch.where(sub_keep, x, 0.0))
    return z, info


def _least_squares(factor, cols, y, keep, lam):
    """``z`` on ``keep`` (whose Gram matrix ``factor`` factors):
    ``B_K'B_K z = B_K'y - lam 1``, with one step of iterative refinement."""
    target = keep.to(cols.dtype) * lam[:, None]
    z = torch.zeros(keep.shape, dtype=cols.dtype, device=cols.device)
    for _ in range(2):
        residual = y - torch.bmm(z[:, None, :], cols)[:, 0]
        rhs = torch.bmm(cols, residual[:, :, None])[..., 0] - target
        z = z + torch.cholesky_solve(rhs[..., None], factor)[..., 0]
    return torch.where(keep, z, 0.0)


def _correlations(problem, vectors):
    """``B'v`` summarised: the largest entry over all (signed) columns, and ``A'v``."""
    product = vectors @ problem.A
    top = product.amax(dim=1) if problem.positive else product.abs().amax(dim=1)
    return top, product


def certify(problem, state, *, tol, primal_tol, drop_tol, column_norm, dual=None):
    """Solve on each row's final active set and check its certificate.

    Parameters
    ----------
    problem : PathProblem
    state : dict
        ``y``, ``used``, ``index``, ``sign``, ``vanishing``, ``lam``,
        ``lam_start`` and, for BPDN, ``eps_sq``, one row per answer.
    tol : float
        Dual feasibility and duality gap tolerance (relative).
    primal_tol : ndarray or tensor of shape (rows,)
        Relative primal residual allowed (the rounding of each row).
    drop_tol : tensor of shape (rows,)
        Nonpositive coefficients at most this times the largest one leave.
    column_norm : float
        ``max_j ||A_j||`` (Farkas test).
    dual : tensor of shape (rows, m), optional
        Exact l1-min: a dual estimate (a first-order method's) to certify with,
        moved onto ``B_S'w = 1``, instead of the path's ``B_S (B_S'B_S)^-1 1``.

    Returns
    -------
    z : tensor of shape (rows, slots)
        Coefficients on ``state["index"]`` (times ``state["sign"]``).
    ok, separated : bool tensors of shape (rows,)
    gap : tensor of shape (rows,)
        Relative duality gap (exact l1-min: with the dual scaled to
        feasibility; the lasso and BPDN: of the lasso at ``lam``).
    fits : bool tensor of shape (rows,)
        Exact l1-min: ``z > 0`` fits ``y`` to ``primal_tol`` (whatever the dual).
    """
    y, index, sign, valid = state["y"], state["index"], state["sign"], state["used"]
    cols, factor = _active_set(problem, state)
    exact = problem.kind == "exact"
    lam = torch.zeros_like(state["lam"]) if exact else state["lam"]
    keep = valid & ~state["vanishing"]
    z, info = _solve_grouped(cols, keep, y, lam)
    # The path's end on a face (y in the span of fewer active columns) leaves
    # coefficients at the rounding level, of either sign: they leave, and the
    # rest is solved again (the checks below then hold or fail on the rest).
    for _ in range(_FACE_ROUNDS):
        largest = z.abs().amax(dim=1, keepdim=True)
        face = keep & (z.abs() <= drop_tol[:, None] * largest)
        rows = torch.nonzero((face & (z <= 0)).any(dim=1)).flatten()
        if not len(rows):
            break
        keep[rows] &= ~face[rows]
        z[rows], info[rows] = _solve_grouped(cols[rows], keep[rows], y[rows], lam[rows])
    positive_coef = torch.where(keep, z > 0, True).all(dim=1) & (info == 0)
    residual = y - torch.bmm(z[:, None, :], cols)[:, 0]
    if exact:
        checks = _certify_exact(problem, y, cols, factor, valid, z, residual, positive_coef,
                                tol, primal_tol, column_norm, dual)
    else:
        checks = _certify_lasso(problem, state, index, sign, keep, z, residual, positive_coef,
                                tol)
    return (z, *checks)


def _certify_exact(problem, y, cols, factor, valid, z, residual, positive_coef, tol,
                   primal_tol, column_norm, hint=None):
    target = valid.to(cols.dtype)
    if hint is not None:  # the least change of the hint that puts B_S'w on 1
        target = target - torch.bmm(cols, hint[:, :, None])[..., 0] * valid
    if factor is not None:  # the path's factor of the Gram matrix of S
        dual_coef = _cholesky.solve_gram(factor, target[..., None])[..., 0] * valid
    else:
        dual_coef, _ = _solve_grouped(cols, valid, y, None, target=target)
    dual = torch.bmm(dual_coef[:, None, :], cols)[:, 0]
    if hint is not None:
        dual = dual + hint
    dual_max, _ = _correlations(problem, dual)
    y_scale = y.abs().amax(dim=1)
    fits = residual.abs().amax(dim=1) <= primal_tol * y_scale
    cost, dual_cost = z.sum(dim=1), (y * dual).sum(dim=1)
    explained = residual.norm(dim=1) * dual.norm(dim=1)
    scale = torch.maximum(cost.abs(), dual_cost.abs())
    gap_ok = (cost - dual_cost).abs() <= tol * scale + explained
    ok = positive_coef & fits & (dual_max <= 1.0 + tol) & gap_ok
    # The gap with the dual scaled to feasibility (a lower bound on the optimum).
    feasible_cost = dual_cost / torch.clamp(dual_max, min=1.0)
    gap = (cost - feasible_cost).abs() / torch.clamp(scale, min=torch.finfo(cost.dtype).tiny)
    separated = torch.zeros_like(ok)
    misses = positive_coef & ~fits
    if bool(misses.any()):
        rows = torch.nonzero(misses).flatten()
        r = residual[rows]
        r_norm = r.norm(dim=1)
        top, _ = _correlations(problem, r)
        separated[rows] = ((top <= tol * column_norm * r_norm)
                           & ((y[rows] * r).sum(dim=1) > 0.5 * r_norm**2))
    return ok, separated, gap, positive_coef & fits


def _certify_lasso(problem, state, index, sign, keep, z, residual, positive_coef, tol):
    lam = state["lam"]
    top, product = _correlations(problem, residual)
    slack = tol * state["lam_start"]
    on_support = torch.where(keep, (sign * product.gather(1, index.clamp(max=problem.d - 1))
                                    - lam[:, None]).abs(), 0.0).amax(dim=1) <= slack
    ok = positive_coef & on_support & (top <= lam + slack)
    if problem.kind == "bpdn":
        eps = state["eps_sq"].sqrt()
        scale = torch.maximum(eps, state["y"].norm(dim=1))
        ok = ok & ((residual.norm(dim=1) - eps).abs() <= tol * scale)
    # The lasso's duality gap at lam, with the dual point r scaled into |B'theta| <= lam.
    primal = 0.5 * (residual * residual).sum(dim=1) + lam * z.sum(dim=1)
    theta = residual / torch.clamp(top / torch.clamp(lam, min=1e-300), min=1.0)[:, None]
    y = state["y"]
    dual = (y * theta).sum(dim=1) - 0.5 * (theta * theta).sum(dim=1)
    gap = (primal - dual).abs() / torch.clamp(primal.abs(), min=torch.finfo(lam.dtype).tiny)
    return ok, torch.zeros_like(ok), gap, torch.zeros_like(ok)
