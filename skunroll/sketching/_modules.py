"""CountSketch and the Sarlos-Clarkson-Woodruff (SCW) loss as torch code.

Tensors only: no numpy, no validation, no training loop. A batch of matrices
is either a dense ``(B, n, d)`` tensor or a :class:`SparseMatrices` (the
nonzeros of ``B`` matrices, never densified). The sketch is applied by
scattering rows into buckets, so its cost is O(nnz(A)) and no ``m x n`` matrix
is ever formed.
"""

from collections import namedtuple

import torch
from torch import nn

SparseMatrices = namedtuple("SparseMatrices", "matrix row col value shape")
SparseMatrices.__doc__ = """Nonzeros of a batch of matrices: entry ``value`` at
``(matrix, row, col)``; ``shape`` is ``(B, n, d)``."""


class CountSketch(nn.Module):
    """An ``n_rows x n`` sketch made of CountSketch blocks.

    Block ``b`` sends column ``i`` of the sketch (row ``i`` of ``A``) to row
    ``positions[b, i]`` with weight ``values[b, i]``; blocks occupy disjoint row
    ranges, so every column has one nonzero per block. The values of the first
    ``n_learned`` blocks are trainable, the rest are fixed (mixed sketches).

    Parameters
    ----------
    positions : LongTensor of shape (n_blocks, n)
    values : Tensor of shape (n_blocks, n)
    n_rows : int
        Number of rows m of the sketch.
    n_learned : int
        Number of leading blocks whose values are trained.
    n_active : int or None
        Number of leading blocks applied (None: all). Later blocks are kept
        but not applied, for a sketch whose learned part is trained alone.
    """

    def __init__(self, positions, values, n_rows, n_learned, n_active=None):
        super().__init__()
        self.n_rows = int(n_rows)
        self.n_active = positions.shape[0] if n_active is None else int(n_active)
        self.register_buffer("positions", positions.long().clone())
        self.learned_values = nn.Parameter(values[:n_learned].clone())
        self.register_buffer("fixed_values", values[n_learned:].clone())

    def values(self):
        return torch.cat([self.learned_values, self.fixed_values], dim=0)

    def apply(self, A):
        """``S A`` for a dense ``(B, n, d)`` tensor or :class:`SparseMatrices`."""
        values = self.values().to(_dtype_of(A))[: self.n_active]
        positions = self.positions[: self.n_active]
        if isinstance(A, SparseMatrices):
            n_matrices, _, n_cols = A.shape
            out = A.value.new_zeros(n_matrices * self.n_rows * n_cols)
            for block_positions, block_values in zip(positions, values, strict=False):
                target = (A.matrix * self.n_rows + block_positions[A.row]) * n_cols + A.col
                out = out.index_add(0, target, A.value * block_values[A.row])
            return out.view(n_matrices, self.n_rows, n_cols)
        n_matrices, _, n_cols = A.shape
        out = A.new_zeros(n_matrices, self.n_rows, n_cols)
        for block_positions, block_values in zip(positions, values, strict=False):
            out = out.index_add(1, block_positions, A * block_values[None, :, None])
        return out

    def forward(self, A, n_components):
        """Frobenius error ``||A - SCW(S, A)||_F`` of each matrix in the batch."""
        return scw_loss(A, self.apply(A), n_components)

    def few_shot(self, U, n_components):
        """Few-shot loss :func:`few_shot_loss` of each ``(n, r)`` basis in ``U`` (dense)."""
        return few_shot_loss(self.apply(U), n_components)


def countsketch_network(positions, values, structure):
    """The trainable CountSketch of a fit, from its blocks' positions and values.

    ``structure`` holds the fit's ``sketch`` and ``sketch_size``.
    """
    # mixed-separate trains its learned half alone: the random half is kept
    # in the module but not applied until training is over.
    n_active = 1 if structure["sketch"] == "mixed-separate" else positions.shape[0]
    return CountSketch(torch.as_tensor(positions), torch.as_tensor(values, dtype=torch.float32),
                       n_rows=structure["sketch_size"], n_learned=1, n_active=n_active)


def right_multiply(A, V):
    """``A @ V`` for dense or :class:`SparseMatrices` ``A`` and ``V`` of shape (B, d, r)."""
    if isinstance(A, SparseMatrices):
        n_matrices, n, _ = A.shape
        out = V.new_zeros(n_matrices * n, V.shape[-1])
        out = out.index_add(0, A.matrix * n + A.row, A.value[:, None] * V[A.matrix, A.col])
        return out.view(n_matrices, n, V.shape[-1])
    return A @ V


def squared_norms(A):
    """Squared Frobenius norm of each matrix, shape (B,)."""
    if isinstance(A, SparseMatrices):
        out = A.value.new_zeros(A.shape[0])
        return out.index_add(0, A.matrix, A.value**2)
    return (A**2).sum(dim=(1, 2))


def row_space_basis(sketched, rtol=None):
    """Orthonormal bases of the row spaces of ``sketched`` (B, m, d), one by one.

    The numerical rank is found without gradient (singular values above
    ``rtol * max(m, d) * sigma_max``, numpy's ``matrix_rank`` rule); the basis
    is then the QR factor of ``sketched^T U_r``, whose columns span the same
    space and are well conditioned. Differentiating through this QR, rather
    than through an SVD, avoids the ``1 / (s_i^2 - s_j^2)`` terms that turn
    into NaN when singular values coincide or vanish (rank-deficient S A).

    Returns a list of ``(d, r_b)`` tensors (ranks may differ in the batch).
    """
    m, d = sketched.shape[1:]
    eps = torch.finfo(sketched.dtype).eps if rtol is None else rtol
    bases = []
    for matrix in sketched:
        with torch.no_grad():
            left, singular, _ = torch.linalg.svd(matrix, full_matrices=False)
            threshold = eps * max(m, d) * singular[:1]
            rank = int((singular > threshold).sum()) if singular.numel() else 0
        if rank == 0:
            bases.append(matrix.new_zeros(d, 0))
            continue
        spanning = matrix.T @ left[:, :rank]
        basis, _ = torch.linalg.qr(spanning, mode="reduced")
        bases.append(basis)
    return bases


def scw_loss(A, sketched, n_components):
    """``||A - [A V]_k V^T||_F`` for each matrix, V a basis of the row space of ``S A``.

    The differentiable (torch, batched) form of :func:`scw_error`, the
    training loss of :class:`LearnedSketchLowRank`.

    Uses ``||A - [AV]_k V^T||_F^2 = ||A||_F^2 - sum_{i<=k} s_i(AV)^2`` (the
    output is the projection of ``A`` onto a rank-k subspace of ``span(V)``),
    so only ``A V`` is formed, never the ``n x d`` residual. Only eigenvalues
    are differentiated (no eigenvector gaps), and the square root is clamped
    away from zero so an exact approximation gives a finite, not a NaN,
    gradient. In float32 the difference has a rounding floor of about
    ``sqrt(eps) ||A||_F``; errors below it are not resolved.
    """
    bases = row_space_basis(sketched)
    energies = []
    for index, basis in enumerate(bases):
        if basis.shape[1] == 0:
            # A zero S A (zero matrix): no energy captured; kept in the graph so
            # backward works on a batch of zero matrices too.
            energies.append(sketched[index].sum() * 0)
            continue
        if isinstance(A, SparseMatrices):
            mask = A.matrix == index
            single = SparseMatrices(
                A.matrix[mask] * 0, A.row[mask], A.col[mask], A.value[mask],
                (1,) + tuple(A.shape[1:]),
            )
            projected = right_multiply(single, basis[None])[0]
        else:
            projected = A[index] @ basis
        gram = projected.T @ projected
        eigenvalues = torch.linalg.eigvalsh(gram)
        energies.append(eigenvalues[-n_components:].sum())
    energy = torch.stack(energies)
    residual = squared_norms(A) - energy
    tiny = torch.finfo(residual.dtype).tiny
    return torch.sqrt(torch.clamp(residual, min=tiny))


def few_shot_loss(sketched_basis, n_components):
    """``||(S U_k)^T S U - I_0||_F^2`` for each matrix (Indyk, Wagner, Woodruff 2021).

    ``sketched_basis`` is ``S U`` (B, m, r) for ``U`` the left singular vectors
    of a training matrix in decreasing order of singular value, ``U_k`` its
    first ``n_components`` columns and ``I_0`` the k x r matrix ``[I_k 0]``:
    small when S preserves the top-k subspace (``U_k^T S^T S U_k = I``) and
    keeps it apart from the rest (``U_k^T S^T S U_tail = 0``). No SVD, so a
    step costs O(B m r k).
    """
    head = sketched_basis[..., :n_components]
    product = head.transpose(-2, -1) @ sketched_basis
    eye = torch.eye(n_components, product.shape[-1], dtype=product.dtype, device=product.device)
    return ((product - eye) ** 2).sum(dim=(-2, -1))


def _dtype_of(A):
    return A.value.dtype if isinstance(A, SparseMatrices) else A.dtype
