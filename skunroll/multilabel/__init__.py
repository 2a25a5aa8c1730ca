"""Multi-label and extreme multi-label classification through compressed label spaces."""

from ._compressed import CompressedLabelClassifier

__all__ = ["CompressedLabelClassifier"]
