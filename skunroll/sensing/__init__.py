"""Compressed sensing with learned measurement matrices (l1-AE) and baselines."""

from ._baselines import GaussianMeasurement
from ._decoders import bpdn_decode, l1_min_decode, lasso_decode, noise_alpha, noise_eps
from ._l1ae import L1AEEncoder
from ._modules import L1AENetwork

__all__ = [
    "GaussianMeasurement",
    "L1AEEncoder",
    "L1AENetwork",
    "bpdn_decode",
    "l1_min_decode",
    "lasso_decode",
    "noise_alpha",
    "noise_eps",
]
