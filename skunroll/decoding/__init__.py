"""Decoding: from measurements back to sparse vectors, many rows at once.

:func:`decode` is the one entry point (decoder names and noise levels are
dispatched there for every estimator); :func:`l1_min_decode`,
:func:`lasso_decode` and :func:`bpdn_decode` are the certified l1 decoders
(a batched homotopy with rank-one Cholesky updates, a batched first-order
fallback, HiGHS and LARS as the last resort), :func:`linear_decode` the
least-norm solution and :func:`model_cosamp_decode` model-based CoSaMP.
"""

from ._api import (
    DECODERS,
    EXACT_DECODERS,
    NOISY_DECODERS,
    bpdn_decode,
    decode,
    l1_min_decode,
    lasso_decode,
    linear_decode,
)
from ._cosamp import BlockModel, GroupModel, model_cosamp_decode
from ._noise import noise_alpha, noise_eps, rounding_noise_level

__all__ = [
    "BlockModel",
    "DECODERS",
    "EXACT_DECODERS",
    "GroupModel",
    "NOISY_DECODERS",
    "bpdn_decode",
    "decode",
    "l1_min_decode",
    "lasso_decode",
    "linear_decode",
    "model_cosamp_decode",
    "noise_alpha",
    "noise_eps",
    "rounding_noise_level",
]
