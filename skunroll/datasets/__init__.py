"""Data generators from the papers and loaders for real sparse data."""

from ._real import load_flights_onehot
from ._synthetic import make_block_sparse, make_power_law_sparse

__all__ = ["load_flights_onehot", "make_block_sparse", "make_power_law_sparse"]
