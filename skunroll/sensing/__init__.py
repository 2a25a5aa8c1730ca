"""Compressed sensing with learned measurement matrices (l1-AE) and baselines."""

from ._autoencoders import MLPAutoencoder, SimpleAEEncoder
from ._baselines import (
    GaussianMeasurement,
    LBCSMeasurement,
    ModelBasedCoSaMP,
    PartialFourierMeasurement,
    PCAMeasurement,
)
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
]
