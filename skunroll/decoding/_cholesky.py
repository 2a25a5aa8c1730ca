"""Batched Cholesky factors of growing and shrinking Gram matrices.

Each batch entry holds the lower factor ``L`` of the Gram matrix of its active
columns in the leading ``size x size`` block of a ``capacity x capacity``
array whose remaining diagonal is 1 and off-diagonal 0, so one batched
triangular solve serves every entry whatever its size. Appending a column
and deleting one are rank-one modifications in O(capacity^2) per entry, with
no loop over positions: a deletion is a rank-one *update* of the trailing
factor, whose closed form (Gill, Golub, Murray and Saunders, 1974) is a
cumulative sum.
"""

import torch


def identity_factors(n_rows, capacity, *, dtype, device):
    """``n_rows`` empty factors: identity matrices of size ``capacity``."""
    return torch.eye(capacity, dtype=dtype, device=device).expand(n_rows, -1, -1).clone()


def grow(factors, capacity):
    """Pad factors to a larger capacity, with identity in the new positions."""
    n_rows, old, _ = factors.shape
    grown = identity_factors(n_rows, capacity, dtype=factors.dtype, device=factors.device)
    grown[:, :old, :old] = factors
    return grown


def solve_gram(factors, rhs):
    """Solve ``L L' x = rhs`` for every entry; ``rhs`` is (n, capacity, k)."""
    half = torch.linalg.solve_triangular(factors, rhs, upper=False)
    return torch.linalg.solve_triangular(factors.transpose(1, 2), half, upper=True)


def append(factors, rows, position, cross, self_product):
    """Add one variable at ``position`` (after every active one) to ``rows`` (in place).

    Parameters
    ----------
    factors : tensor of shape (n, capacity, capacity)
    rows : long tensor of shape (k,)
    position : long tensor of shape (k,)
        A free place of each row with no active place after it.
    cross : tensor of shape (k, capacity)
        Inner products of the new column with the active ones (zero elsewhere).
    self_product : tensor of shape (k,)
        Squared norm of the new column.

    Returns
    -------
    pivot_squared : tensor of shape (k,)
        The new diagonal entry squared, ``||b||^2 - ||L^-1 B_S'b||^2``: the
        squared distance of the column from the span of the active ones. The
        caller must not keep a column whose pivot is not positive.
    """
    if 2 * len(rows) > len(factors):  # most rows: one solve over all, no copy of the factors
        full = torch.zeros(factors.shape[:2], dtype=cross.dtype, device=cross.device)
        full[rows] = cross
        solved = torch.linalg.solve_triangular(factors, full[..., None], upper=False)[rows, :, 0]
    else:
        solved = torch.linalg.solve_triangular(factors[rows], cross[..., None],
                                               upper=False)[..., 0]
    pivot_squared = self_product - (solved * solved).sum(dim=1)
    solved[torch.arange(len(rows), device=rows.device), position] = \
        pivot_squared.clamp(min=0).sqrt()
    factors[rows, position] = solved
    return pivot_squared


def delete(factors, rows, position):
    """Free the variable at ``position`` of ``rows`` (in place); the others keep their places.

    Row and column ``position`` become identity, which leaves a lower
    triangular ``H`` with ``H H' = G' - v v'`` (``v``: the freed column below
    the diagonal), so the new factor is that of ``H H' + v v'``: ``H K`` with
    ``K`` the factor of ``I + w w'``, ``w = H^-1 v``, given in closed form by
    the running sums ``t_k = 1 + sum_{i<=k} w_i^2`` (only the places after
    ``position`` change).
    """
    sub = factors[rows]
    capacity = sub.shape[1]
    entry = torch.arange(len(rows), device=sub.device)
    removed = sub[entry, :, position]
    removed = torch.where(torch.arange(capacity, device=sub.device)[None, :] > position[:, None],
                          removed, 0.0)
    sub[entry, position, :] = 0.0
    sub[entry, :, position] = 0.0
    sub[entry, position, position] = 1.0
    w = torch.linalg.solve_triangular(sub, removed[..., None], upper=False)[..., 0]
    squares = w * w
    running = 1.0 + torch.cumsum(squares, dim=1)
    before = running - squares
    scale = torch.sqrt(running / before)
    beta = w / torch.sqrt(running * before)
    # suffix[i, j] = sum_{k > j} H[i, k] w_k, as the row sum less the running
    # sum, in place (fresh arrays of this size cost page faults).
    suffix = sub * w[:, None, :]
    total = suffix.sum(dim=2, keepdim=True)
    torch.cumsum(suffix, dim=2, out=suffix)
    suffix.neg_().add_(total)
    factors[rows] = sub.mul_(scale[:, None, :]).addcmul_(suffix, beta[:, None, :])


def compact(factors, order):
    """Reorder the places of every factor by ``order`` (n, capacity) (free places last).

    Free places are identity rows and columns, independent of the rest, so
    moving them keeps the factors exact.
    """
    capacity = factors.shape[1]
    moved = torch.gather(factors, 1, order[:, :, None].expand(-1, -1, capacity))
    return torch.gather(moved, 2, order[:, None, :].expand(-1, capacity, -1))
