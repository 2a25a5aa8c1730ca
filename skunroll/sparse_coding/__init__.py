"""Sparse coding: unrolled networks (Deep l0 encoders), the iterative solvers they unroll,
and dictionary learning with a tied-weight ReLU autoencoder."""

from ._deep_l0 import DeepL0Classifier, DeepL0Encoder
from ._iterative import fista, iht, ista, m_sparse_iht, optimal_codes
from ._lista import LISTAEncoder
from ._modules import (
    TiedReLUAutoencoder,
    UnrolledThresholdingNetwork,
    helu,
    helu_sigma,
    keep_largest,
    relu_autoencoder_loss,
    soft_threshold,
)
from ._relu_autoencoder import ReLUDictionaryAutoencoder
from ._relu_theory import auto_bias, data_coherence, rms_coherence, support_bias_scale

__all__ = [
    "DeepL0Classifier",
    "DeepL0Encoder",
    "LISTAEncoder",
    "ReLUDictionaryAutoencoder",
    "TiedReLUAutoencoder",
    "UnrolledThresholdingNetwork",
    "auto_bias",
    "data_coherence",
    "fista",
    "helu",
    "helu_sigma",
    "iht",
    "ista",
    "keep_largest",
    "m_sparse_iht",
    "optimal_codes",
    "relu_autoencoder_loss",
    "soft_threshold",
    "rms_coherence",
    "support_bias_scale",
]
