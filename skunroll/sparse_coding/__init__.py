"""Sparse coding with unrolled networks (Deep l0 encoders) and the iterative solvers they unroll."""

from ._deep_l0 import DeepL0Classifier, DeepL0Encoder
from ._iterative import iht, ista, keep_largest, m_sparse_iht, optimal_codes
from ._modules import DeepL0Network, helu, helu_sigma, keep_top_m

__all__ = [
    "DeepL0Classifier",
    "DeepL0Encoder",
    "DeepL0Network",
    "helu",
    "helu_sigma",
    "iht",
    "ista",
    "keep_largest",
    "keep_top_m",
    "m_sparse_iht",
    "optimal_codes",
]
