"""Data generators from the papers and loaders for real data."""

from ._multilabel import load_xml_repository, load_yeast, make_linear_xml
from ._real import load_face_matrices, load_flights_onehot, load_video_frames
from ._synthetic import (
    make_block_sparse,
    make_low_rank_family,
    make_nonnegative_sparse_code,
    make_power_law_chunks,
    make_power_law_sparse,
)

__all__ = ["load_face_matrices", "load_flights_onehot", "load_video_frames", "load_xml_repository",
           "load_yeast", "make_block_sparse", "make_linear_xml",
           "make_low_rank_family", "make_nonnegative_sparse_code", "make_power_law_chunks",
           "make_power_law_sparse"]
