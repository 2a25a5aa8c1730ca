"""Helpers of the decoding tests: certificates of given supports, truncated homotopies."""

import numpy as np
import torch

import skunroll.decoding._batched as batched
from skunroll.decoding._certificates import certify
from skunroll.decoding._paths import PathProblem


def homotopy_only(max_steps, first_order):
    """``batched_decode`` with its paths cut after ``max_steps`` breakpoints."""
    real = batched.batched_decode

    def patched(*args, **kwargs):
        return real(*args, max_steps=max_steps, first_order=first_order, **kwargs)

    return patched


def certify_support(A, y, support, *, kind="exact", lam=0.0, lam_start=1.0, tol=1e-9):
    """The certificate of one row's answer on ``support`` (columns of A, x >= 0)."""
    problem = PathProblem(torch.as_tensor(A), positive=True, path_dtype=torch.float64, kind=kind)
    used = torch.ones(1, len(support), dtype=torch.bool)
    state = {"y": torch.as_tensor(y[None]), "used": used, "index": torch.as_tensor([support]),
             "sign": torch.ones(1, len(support), dtype=torch.float64),
             "vanishing": torch.zeros_like(used), "lam": torch.tensor([lam], dtype=torch.float64),
             "lam_start": torch.tensor([lam_start], dtype=torch.float64)}
    one = torch.ones(1, dtype=torch.float64)
    z, ok, separated, gap, _ = certify(problem, state, tol=tol, primal_tol=1e-11 * one,
                                    drop_tol=2e-13 * one,
                                    column_norm=float(np.linalg.norm(A, axis=0).max()))
    return z[0].numpy(), bool(ok[0]), bool(separated[0])
