"""Compressed sensing with learned measurement matrices (l1-AE) and baselines."""

from ._baselines import (
    GaussianMeasurement,
    LBCSMeasurement,
    ModelBasedCoSaMP,
    PartialFourierMeasurement,
    PCAMeasurement,
)
from ._autoencoders import MLPAutoencoder, SimpleAEEncoder
from ._base import linear_decode
from ._cosamp import model_cosamp_decode
from ._decoders import bpdn_decode, l1_min_decode, lasso_decode, noise_alpha, noise_eps
from ._l1ae import L1AEEncoder
from ._modules import L1AENetwork

__all__ = [
    "GaussianMeasurement",
    "L1AEEncoder",
    "L1AENetwork",
    "LBCSMeasurement",
    "MLPAutoencoder",
    "ModelBasedCoSaMP",
    "PCAMeasurement",
    "PartialFourierMeasurement",
    "SimpleAEEncoder",
    "bpdn_decode",
    "l1_min_decode",
    "lasso_decode",
    "linear_decode",
    "model_cosamp_decode",
    "noise_alpha",
    "noise_eps",
]
