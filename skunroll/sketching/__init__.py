"""Learned sketches for low-rank approximation (learned CountSketch + SCW)."""

from ._learned_sketch import LearnedSketchLowRank
from ._modules import CountSketch, scw_loss
from ._scw import LowRankFactors, countsketch_matrix, scw_error, scw_factors

__all__ = ["CountSketch", "LearnedSketchLowRank", "LowRankFactors", "countsketch_matrix",
           "scw_error", "scw_factors", "scw_loss"]
