"""The training objectives of LearnedSketchLowRank, one batch of samples at a time.

Each takes the sketch module, a batch of flattened samples, their scale
factors, the rank k and the matrices' shape, and returns the mean loss.
"""

import torch

from ._modules import SparseMatrices


def scw_objective(module, X_batch, scales, n_components, matrix_shape):
    """Mean SCW error ``||A - [A V]_k V^T||_F`` of the rescaled matrices (dense or COO)."""
    n, d = matrix_shape
    if X_batch.is_sparse:
        index = X_batch.indices()
        matrices = SparseMatrices(
            index[0], index[1] // d, index[1] % d,
            X_batch.values() * scales[index[0]], (X_batch.shape[0], n, d),
        )
    else:
        matrices = X_batch.view(-1, n, d) * scales[:, None, None]
    return module(matrices, n_components).mean()


def few_shot_objective(module, X_batch, scales, n_components, matrix_shape):
    """Mean few-shot loss of samples ``U_j diag(s_j)``, per unit of squared target weight.

    The loss reads ``U_j``, its tail columns weighted by ``s_i / s_k`` (see
    :func:`~skunroll.sketching._modules.few_shot_loss`); dividing by the summed
    squared weights lets one learning rate fit every n and r.
    """
    n = matrix_shape[0]
    scaled = X_batch.view(X_batch.shape[0], n, -1)
    tiny = torch.finfo(scaled.dtype).tiny
    norms = torch.linalg.vector_norm(scaled, dim=1, keepdim=True)
    basis = scaled / torch.clamp(norms, min=tiny)
    kth = norms[..., n_components - 1: n_components]
    weights = torch.clamp(norms / torch.clamp(kth, min=tiny), max=1.0)
    return (module.few_shot(basis * weights, n_components)
            / (n_components * (weights**2).sum(dim=(1, 2)))).mean()


#: objective parameter -> batch loss
OBJECTIVES = {"scw": scw_objective, "few-shot": few_shot_objective}
