"""skunroll: learned, unrolled sparse-recovery and sketching estimators.

scikit-learn compatible estimators trained with PyTorch:

- :class:`~skunroll.sensing.L1AEEncoder`: a compressed-sensing measurement
  matrix learned by unrolling l1-min decoding (l1-AE).
- :class:`~skunroll.sensing.GaussianMeasurement`: the random Gaussian baseline.
"""

__version__ = "0.1.0.dev0"

from .sensing import GaussianMeasurement, L1AEEncoder

__all__ = ["GaussianMeasurement", "L1AEEncoder", "__version__"]
