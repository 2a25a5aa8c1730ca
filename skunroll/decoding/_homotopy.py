"""The homotopy of the nonnegative lasso, followed for many vectors at once.

For each measurement vector ``y`` (with ``B = A`` for the nonnegative
problems, or ``B = [A, -A]`` and ``x = u - v`` for the signed ones) the lasso
``min 1/2 ||y - B z||^2 + lam 1'z, z >= 0`` has a solution that is piecewise
linear in ``lam``. The path starts at ``z = 0``, ``lam = max(B'y)`` and moves
from one breakpoint to the next: a column joins the active set ``S`` when its
correlation ``c_j = B_j'(y - B z)`` reaches ``lam``, and leaves it when its
coefficient reaches zero (the positive LARS-lasso steps). It stops at
``lam_stop`` (the lasso's ``alpha``; for exact l1-min the rounding level of
the measurements), or where the residual norm falls to ``eps`` (BPDN). For a
k-sparse vector that the LP recovers, the path usually needs a few times k
breakpoints.

Cost per breakpoint and row: one product ``A'u`` (m x d), shared by the
whole batch as one matrix product, plus O(|S| m + |S|^2) for the active set,
whose Gram matrix's Cholesky factor is updated by rank-one steps
(``_cholesky.py``). The correlations live in ``path_dtype`` (float32 by
default on wide problems: half the memory traffic and twice the product
rate); they are recomputed from the float64 residual every few steps, so
their rounding stays relative to the current ``lam``. The path only has to
find the active set: every answer is then solved and certified in float64
(``_certificates.py``).

Rows enter a batch of fixed size as others finish, so the matrix products
keep their width until the last rows run out; a row leaves when its path
ends (``"ended"``), when its next column would make the active columns
dependent, or when it runs out of steps (``"stalled"``).
"""

import torch

from ._paths import REFRESH_EVERY, PathBatch

#: A column joins only if its rate ``1 - B_j'u`` exceeds this (else it never reaches lam).
_MIN_RATE = 1e-12
#: Tiers of active-set sizes (and m): a row moves to the next when it outgrows one.
TIER_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)


def follow_paths(problem, y, lam_stop, eps_sq, queue, *, batch_rows, max_steps):
    """Follow the paths of the rows of ``y`` named in ``queue``, ``batch_rows`` at a time.

    Rows enter as others leave (in groups of at least a quarter of the
    batch, so that the products stay wide). Each row sits in the tier that
    holds its active set (at most 64, 128, 256, ... or m columns), so that the
    long paths of a few rows (those whose answer is not sparse) do not make
    every row pay for their large active sets, and all tiers share one
    product ``B'u`` per step. Rows the caller adds to ``queue`` (a deque,
    with ``y`` updated for them) while it runs start again; when no row is
    left it yields ``"drained"``, and goes on if the caller added some then.

    Yields
    ------
    status : str
        ``"zero"`` (the answer is 0), ``"separated"`` (certified infeasible,
        nearest point 0), ``"ended"`` (to be certified), ``"broken"`` (the next
        column was dependent), ``"stalled"`` (out of steps) or ``"drained"``.
    state : dict
        The rows' state (``ids`` the row numbers in ``y``; for ``"zero"`` and
        ``"separated"`` only ``ids``; None for ``"drained"``).
    """
    sizes = [size for size in TIER_SIZES if size < problem.m] + [problem.m]
    tiers = [PathBatch(problem, max_size=size) for size in sizes]
    buffers = _WorkBuffers(problem)
    while True:
        n_live = sum(len(tier) for tier in tiers)
        free = batch_rows - n_live
        if queue and (not n_live or free >= max(1, batch_rows // 4)):
            ids = torch.as_tensor([queue.popleft() for _ in range(min(free, len(queue)))],
                                  dtype=torch.long, device=problem.device)
            yield from _start(problem, tiers[0], ids, y[ids], lam_stop[ids], eps_sq[ids])
            continue
        if not n_live:
            yield "drained", None
            if queue:
                continue
            return
        yield from _step(problem, tiers, buffers, max_steps)


class _WorkBuffers:
    """(rows, d + 1) arrays reused at every step: fresh ones cost page faults."""

    def __init__(self, problem):
        self.problem = problem
        self.product, self.arrays = None, None
        self.steps = 0

    def get(self, n_product, n_rows):
        """A product array of ``n_product`` rows and three work arrays of ``n_rows``."""
        p = self.problem
        if self.product is None or len(self.product) < n_product:
            self.product = torch.empty(max(n_product, 2 * n_rows), p.d + 1, dtype=p.path_dtype,
                                       device=p.device)
        if self.arrays is None or len(self.arrays[0]) < n_rows:
            self.arrays = tuple(torch.empty(n_rows, p.d + 1, dtype=p.path_dtype, device=p.device)
                                for _ in range(3))
        return (self.product[:n_product], *(array[:n_rows] for array in self.arrays))


def _start(problem, tier, ids, y, lam_stop, eps_sq):
    """Admit rows whose path starts now; yields those that end before it starts."""
    corr, _, first, first_sign, at_zero, separated = start_paths(problem, y, lam_stop, eps_sq)
    for status, mask in (("zero", at_zero), ("separated", separated & ~at_zero)):
        if bool(mask.any()):
            yield status, {"ids": ids[mask]}
    live = ~at_zero & ~separated
    if bool(live.any()):
        tier.admit(tier.fresh_state(ids[live], y[live], lam_stop[live], eps_sq[live],
                                    corr[live], first[live], first_sign[live]))


def _step(problem, tiers, buffers, max_steps):
    """One breakpoint for every row of every tier; yields the rows that finished."""
    active = [tier for tier in tiers if len(tier)]
    directions = [tier.prepare() for tier in active]
    n_rows = sum(len(direction) for direction in directions)
    # Correlations due to be recomputed from the float64 residual ride along in
    # this step's product: their rounding grows with the updates since they were
    # last computed (every REFRESH_EVERY steps, and for a row whose lam has
    # halved since: near the end of a path lam falls by orders of magnitude).
    due = [(tier, tier.stale_rows(buffers.steps % REFRESH_EVERY == 0)) for tier in active]
    due = [(tier, rows) for tier, rows in due if len(rows)]
    vectors = directions + [tier.residual_of(rows) for tier, rows in due]
    u = vectors[0] if len(vectors) == 1 else torch.cat(vectors)
    product, corr, rate, ratio = buffers.get(len(u), n_rows)
    torch.mm(u.to(problem.path_dtype), problem.A_path, out=product)  # B_j'v for every column
    slope, offset = product[:n_rows], n_rows
    for tier, rows in due:
        tier.set_correlations(rows, product[offset:offset + len(rows)])
        offset += len(rows)
    if len(active) == 1:
        corr = active[0].state["corr"]
    else:
        torch.cat([tier.state["corr"] for tier in active], out=corr)
    width = max(tier.capacity for tier in active)
    parts = [tier.join_inputs(width) for tier in active]
    inputs = parts[0] if len(parts) == 1 else {key: torch.cat([part[key] for part in parts])
                                                for key in parts[0]}
    join_gamma, joiner, joiner_sign = join_search(problem, inputs, slope, corr, rate, ratio)
    _check_near_end(problem, active, inputs["lam"], join_gamma, joiner, joiner_sign)
    moving, offset = [], 0
    for tier in active:
        rows = slice(offset, offset + len(tier))
        offset += len(tier)
        ended, broken, outgrown = tier.advance(slope[rows], join_gamma[rows], joiner[rows],
                                               joiner_sign[rows])
        stalled = ~ended & ~broken & ~outgrown & (tier.state["steps"] >= max_steps)
        done = ended | broken | stalled | outgrown
        if not bool(done.any()):
            continue
        status = torch.where(ended, 0, torch.where(broken, 1, torch.where(stalled, 2, 3)))[done]
        state = tier.take(done)
        for code, name in enumerate(("ended", "broken", "stalled", "outgrown")):
            chosen = status == code
            if bool(chosen.any()):
                part = {key: value[chosen] for key, value in state.items()}
                if name == "outgrown":
                    moving.append((tiers[tiers.index(tier) + 1], part))
                else:
                    yield name, part
    # After every tier has used this step's product: rows move up a tier.
    for tier, part in moving:
        tier.admit(part)
    buffers.steps += 1


def _check_near_end(problem, active, lam, join_gamma, joiner, joiner_sign):
    """Joins that low-precision correlations put near the end, looked at again in float64.

    Before or after the end: leaves are exact already, and for exact l1-min
    every column's join ties with the end of the last segment. The float64
    correlations found there also replace those rows' own.
    """
    if not problem.end_band:
        return
    leave = torch.cat([tier._prepared["leave"] for tier in active])
    end = torch.cat([tier._prepared["end"] for tier in active])
    unsure = ((join_gamma - end).abs() <= problem.end_band * lam) & (join_gamma < leave)
    if not bool(unsure.any()):
        return
    found, offset = [], 0
    for tier in active:
        rows = torch.nonzero(unsure[offset:offset + len(tier)]).flatten()
        offset += len(tier)
        if len(rows):
            found.append((tier, rows, *tier.exact_join_inputs(rows)))
    residual = torch.cat([item[2] for item in found])
    u = torch.cat([item[3] for item in found])
    # One pass over the float64 matrix for both.
    product = torch.cat([residual, u]) @ problem.columns.T
    corr, slope = product[:len(residual)], product[len(residual):]
    inputs = {key: torch.cat([item[0].join_inputs(problem.m + 1)[key][item[1]]
                              for item in found])
              for key in ("lam", "banned", "used", "sign", "index")}
    exact = join_search(problem, inputs, slope, corr, torch.empty_like(slope),
                        torch.empty_like(slope))
    rows = torch.nonzero(unsure).flatten()
    join_gamma[rows], joiner[rows], joiner_sign[rows] = exact
    offset = 0
    for tier, tier_rows, *_ in found:
        tier.set_correlations(tier_rows, corr[offset:offset + len(tier_rows)])
        offset += len(tier_rows)


def start_paths(problem, y, lam_stop, eps_sq):
    """The correlations ``B'y`` and the path's first column, for rows about to enter.

    Returns ``(corr, lam, first, first_sign, at_zero, separated)``: rows
    ``at_zero`` end before they start (``y = 0``, the lasso's ``alpha >=
    max(B'y)``, BPDN's ``||y|| <= eps``: the answer is 0); for exact l1-min
    with ``x >= 0``, ``max(A'y) <= 0`` with ``y != 0`` certifies
    infeasibility (``separated``: ``w = y`` separates y from the cone, whose
    nearest point is 0).
    """
    corr = y @ problem.A
    if problem.positive:
        lam, first = corr.max(dim=1)
        first_sign = torch.ones_like(lam)
    else:
        lam, first = corr.abs().max(dim=1)
        first_sign = torch.sign(corr.gather(1, first[:, None])[:, 0])
    nonzero = y.any(dim=1)
    if problem.kind == "exact":
        at_zero = ~nonzero
        separated = nonzero & (lam <= 0)
    elif problem.kind == "lasso":
        at_zero = (lam <= lam_stop) | ~nonzero
        separated = torch.zeros_like(at_zero)
    else:
        at_zero = ((y * y).sum(dim=1) <= eps_sq) | ~nonzero
        separated = torch.zeros_like(at_zero)
    return corr, lam, first, first_sign, at_zero, separated


def join_search(problem, st, slope, corr, rate, ratio):
    """The next column to join each row's path: (gamma, column, sign).

    A column joins when its correlation, falling at its rate, meets lam:
    ``gamma_j = (lam - c_j) / (1 - a_j)`` with ``a_j = B_j'u`` in ``slope``
    (on the side of ``-A_j``: ``(lam + c_j) / (1 + a_j)``). A rate at or
    below ``_MIN_RATE`` (a column that never reaches lam) becomes 0, and the
    gap is kept above a tiny positive number, so that its gamma is infinite,
    while a correlation that rounding lifted to or above lam joins at once.
    ``rate`` and ``ratio`` are work arrays of the shape of ``slope``.
    """
    dtype, device, d = slope.dtype, slope.device, problem.d
    lam = st["lam"].to(dtype)[:, None]
    one = torch.ones((), dtype=dtype, device=device)
    tiny = 1e3 * torch.finfo(dtype).tiny
    best_gamma, best_column, best_sign = None, None, None
    for side in (1.0,) if problem.positive else (1.0, -1.0):
        torch.sub(one, slope, alpha=side, out=rate)
        torch.nn.functional.threshold_(rate, _MIN_RATE, 0.0)
        # Active columns stay on lam (in exact arithmetic); free slots point at
        # the zero column d, which never joins either; nor does the column that
        # just left, at once.
        active = st["used"] & (st["sign"] * side > 0)
        rate.scatter_(1, torch.where(active, st["index"], d), 0.0)
        banned = st["banned"] - (0 if side > 0 else d + 1)
        rows = torch.nonzero((banned >= 0) & (banned <= d)).flatten()
        rate[rows, banned[rows]] = 0.0
        torch.sub(lam, corr, alpha=side, out=ratio).clamp_(min=tiny)
        gamma, column = ratio.div_(rate).min(dim=1)
        gamma = gamma.to(torch.float64)
        if best_gamma is None:
            best_gamma, best_column = gamma, column
            best_sign = torch.ones_like(gamma)
        else:
            better = gamma < best_gamma
            best_gamma = torch.where(better, gamma, best_gamma)
            best_column = torch.where(better, column, best_column)
            best_sign = torch.where(better, -1.0, best_sign)
    return best_gamma, best_column, best_sign
