"""skunroll: learned, unrolled sparse-recovery and sketching estimators.

scikit-learn compatible estimators trained with PyTorch:

- :class:`~skunroll.sensing.L1AEEncoder`: a compressed-sensing measurement
  matrix learned by unrolling l1-min decoding (l1-AE).
- :class:`~skunroll.sensing.GaussianMeasurement`: the random Gaussian baseline.
- :class:`~skunroll.sparse_coding.DeepL0Encoder` and
  :class:`~skunroll.sparse_coding.DeepL0Classifier`: unrolled iterative hard
  thresholding (Deep l0 encoders).
- :class:`~skunroll.sketching.LearnedSketchLowRank`: a learned CountSketch for
  Sarlos-Clarkson-Woodruff low-rank approximation.
- :class:`~skunroll.sparse_coding.ReLUDictionaryAutoencoder`: a tied-weight
  ReLU autoencoder that learns an overcomplete dictionary.
- :class:`~skunroll.multilabel.CompressedLabelClassifier`: multi-label and
  extreme multi-label classification through a compressed label space.
"""

__version__ = "0.1.0"

from .multilabel import CompressedLabelClassifier
from .sensing import GaussianMeasurement, L1AEEncoder
from .sketching import LearnedSketchLowRank
from .sparse_coding import DeepL0Classifier, DeepL0Encoder, ReLUDictionaryAutoencoder
from .utils._show_versions import show_versions

__all__ = ["CompressedLabelClassifier", "DeepL0Classifier", "DeepL0Encoder", "GaussianMeasurement",
           "L1AEEncoder", "LearnedSketchLowRank", "ReLUDictionaryAutoencoder", "__version__",
           "show_versions"]
