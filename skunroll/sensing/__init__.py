"""Compressed sensing with learned measurement matrices (l1-AE) and baselines."""

from ._baselines import GaussianMeasurement
from ._decoders import l1_min_decode
from ._l1ae import L1AEEncoder
from ._modules import L1AENetwork

__all__ = ["GaussianMeasurement", "L1AEEncoder", "L1AENetwork", "l1_min_decode"]
