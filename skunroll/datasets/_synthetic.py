"""The synthetic sparse data sets of Wu et al. (ICML 2019)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params


def _finish(X, sparse):
    X = normalize(X.tocsr(), norm="l2", axis=1)
    return X if sparse else X.toarray()


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "sparse": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_block_sparse(n_samples=10000, n_features=1000, *, block_size=10, n_blocks=1,
                      sparse=True, random_state=None):
    """Block-sparse nonnegative vectors: the paper's Synthetic1 and Synthetic2.

    The ``n_features`` coordinates are cut into ``n_features // block_size``
    aligned blocks. Each row switches on ``n_blocks`` distinct blocks chosen
    uniformly, fills them with values drawn from U[0, 1], and is scaled to
    unit l2 norm. Synthetic1 is ``block_size=10, n_blocks=1``; Synthetic2 is
    ``block_size=5, n_blocks=2`` (the defaults of the authors' code are
    ``n_samples=10000, n_features=1000``).

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=1000
    block_size : int, default=10
        Length of a block of consecutive nonzeros.
    n_blocks : int, default=1
        Nonzero blocks per row; at most ``n_features // block_size``.
    sparse : bool, default=True
        Return a CSR matrix; a dense ndarray otherwise.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> X = make_block_sparse(n_samples=5, n_features=100, random_state=0)
    >>> X.shape, X.getnnz(axis=1).tolist()
    ((5, 100), [10, 10, 10, 10, 10])
    """
    n_slots = n_features // block_size
    if n_blocks > n_slots:
        raise ValueError(
            f"n_blocks={n_blocks} blocks of block_size={block_size} do not fit in "
            f"n_features={n_features} (at most {n_slots})."
        )
    rng = check_random_state(random_state)
    # Built as COO triplets: the dense matrix is never formed.
    nnz_per_row = n_blocks * block_size
    cols = np.empty((n_samples, nnz_per_row), dtype=np.int64)
    values = np.empty((n_samples, nnz_per_row))
    offsets = np.arange(block_size)
    for i in range(n_samples):
        for j, slot in enumerate(rng.choice(n_slots, n_blocks, replace=False)):
            cols[i, j * block_size : (j + 1) * block_size] = slot * block_size + offsets
            values[i, j * block_size : (j + 1) * block_size] = rng.uniform(0.0, 1.0, block_size)
    rows = np.repeat(np.arange(n_samples), nnz_per_row)
    X = sp.coo_matrix((values.ravel(), (rows, cols.ravel())), shape=(n_samples, n_features))
    return _finish(X, sparse)


def _bernoulli_positions(rng, n, p):
    """Indices i < n of independent Bernoulli(p) successes, in increasing order."""
    if p >= 1.0:
        return np.arange(n)
    chunk = int(n * p + 10 * np.sqrt(n * p) + 10)
    positions = np.cumsum(rng.geometric(p, size=chunk)) - 1
    while positions[-1] < n:
        more = positions[-1] + np.cumsum(rng.geometric(p, size=chunk))
        positions = np.concatenate([positions, more])
    return positions[positions < n]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "average_nnz": [Interval(Real, 0, None, closed="neither")],
        "exponent": [Interval(Real, 0, None, closed="left")],
        "bias": [Interval(Real, 0, None, closed="neither")],
        "sparse": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_power_law_sparse(n_samples=10000, n_features=1000, *, average_nnz=10, exponent=1.0,
                          bias=1.0, sparse=True, random_state=None):
    """Sparse nonnegative vectors whose support follows a power law.

    Coordinate ``i`` is nonzero independently with probability
    ``p_i = min(1, c / (i + bias) ** exponent)``, where ``c`` scales the
    uncapped probabilities to sum to ``average_nnz`` (as in the authors'
    code, the cap is applied after scaling, so the mean count can fall a
    little short). Nonzero values are U[0, 1]; rows are scaled to unit l2
    norm (a row that drew no nonzero stays zero).

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=1000
    average_nnz : float, default=10
    exponent : float, default=1.0
    bias : float, default=1.0
    sparse : bool, default=True
        Return a CSR matrix; a dense ndarray otherwise.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)

    Examples
    --------
    >>> from skunroll.datasets import make_power_law_sparse
    >>> X = make_power_law_sparse(n_samples=2000, random_state=0)
    >>> bool(9 < X.getnnz(axis=1).mean() < 10.5)
    True
    """
    rng = check_random_state(random_state)
    probabilities = 1.0 / (np.arange(n_features) + bias) ** exponent
    probabilities = np.minimum(probabilities / probabilities.sum() * average_nnz, 1.0)
    # Column by column, the rows of a Bernoulli(p) process drawn as geometric
    # gaps: O(nnz) work, and the dense n_samples x n_features mask is never formed.
    row_lists = [_bernoulli_positions(rng, n_samples, p) for p in probabilities]
    rows = np.concatenate(row_lists)
    cols = np.repeat(np.arange(n_features), [len(r) for r in row_lists])
    values = rng.uniform(0.0, 1.0, rows.size)
    X = sp.coo_matrix((values, (rows, cols)), shape=(n_samples, n_features))
    return _finish(X, sparse)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "average_nnz": [Interval(Real, 0, None, closed="neither")],
        "exponent": [Interval(Real, 0, None, closed="left")],
        "bias": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_power_law_chunks(n_samples=800_000, n_features=47_236, *, chunk_size=10_000,
                          average_nnz=76, exponent=1.0, bias=1.0, random_state=None):
    """CSR chunks of power-law sparse vectors, generated one at a time (RCV1 scale by default).

    The rows of :func:`make_power_law_sparse` (the l1-AE paper's model of
    RCV1-like text: d = 47,236, ``average_nnz=76``, which the cap of each
    coordinate's probability at 1 brings to about 65 nonzeros per row), drawn chunk by
    chunk so that a data set of any length streams through ``partial_fit``
    without ever being held in memory: only one chunk exists at a time. Each
    chunk has its own seed drawn from ``random_state``, so a fixed seed gives
    the same stream every time.

    Parameters
    ----------
    n_samples : int, default=800_000
        Total number of rows (the last chunk may be shorter).
    n_features : int, default=47_236
    chunk_size : int, default=10_000
    average_nnz, exponent, bias : float
        As in :func:`make_power_law_sparse`.
    random_state : int, RandomState instance or None, default=None

    Yields
    ------
    chunk : scipy.sparse.csr_matrix of shape (<= chunk_size, n_features)

    Examples
    --------
    >>> from skunroll.datasets import make_power_law_chunks
    >>> chunks = make_power_law_chunks(2500, 5000, chunk_size=1000, average_nnz=20,
    ...                                random_state=0)
    >>> [chunk.shape[0] for chunk in chunks]
    [1000, 1000, 500]
    """
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=-(-n_samples // chunk_size))
    for index, seed in enumerate(seeds):
        rows = min(chunk_size, n_samples - index * chunk_size)
        yield make_power_law_sparse(rows, n_features, average_nnz=average_nnz, exponent=exponent,
                                    bias=bias, sparse=True, random_state=seed)


@validate_params(
    {
        "n_matrices": [Interval(Integral, 1, None, closed="left")],
        "n_rows": [Interval(Integral, 1, None, closed="left")],
        "n_columns": [Interval(Integral, 1, None, closed="left")],
        "rank": [Interval(Integral, 1, None, closed="left")],
        "n_signal_rows": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_low_rank_family(n_matrices=100, n_rows=60, n_columns=40, *, rank=4, n_signal_rows=12,
                         noise=0.3, random_state=None):
    """Matrices of one "scene": a shared low-rank signal on a few rows, plus noise.

    ``A_i = L W_i R + noise * G_i``: ``L`` (n_rows x rank) is nonzero on
    ``n_signal_rows`` fixed rows only, ``R`` (rank x n_columns) is fixed,
    ``W_i = 1 + 0.3 N(0, 1)`` varies per matrix and ``G_i`` is standard
    Gaussian noise on every entry. Like frames of one video, the matrices
    share where their signal lives, which a learned sketch can exploit and a
    random one cannot (a random CountSketch adds noise-only rows into every
    bucket).

    Parameters
    ----------
    n_matrices : int, default=100
    n_rows, n_columns : int, default=60, 40
        Shape (n, d) of each matrix.
    rank : int, default=4
        Rank of the shared signal.
    n_signal_rows : int, default=12
        Number of rows that carry the signal (at most n_rows).
    noise : float, default=0.3
        Standard deviation of the noise.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    matrices : ndarray of shape (n_matrices, n_rows, n_columns)

    Examples
    --------
    >>> from skunroll.datasets import make_low_rank_family
    >>> make_low_rank_family(5, 30, 20, random_state=0).shape
    (5, 30, 20)
    """
    if n_signal_rows > n_rows:
        raise ValueError(f"n_signal_rows={n_signal_rows} must be <= n_rows={n_rows}.")
    rng = check_random_state(random_state)
    rows = rng.choice(n_rows, n_signal_rows, replace=False)
    left = np.zeros((n_rows, rank))
    left[rows] = rng.normal(size=(n_signal_rows, rank))
    right = rng.normal(size=(rank, n_columns))
    weights = 1 + 0.3 * rng.normal(size=(n_matrices, rank, rank))
    return left @ weights @ right + noise * rng.normal(size=(n_matrices, n_rows, n_columns))


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left"), None],
        "support_exponent": [Interval(Real, 0, 1, closed="neither")],
        "value_range": [tuple],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_nonnegative_sparse_code(n_samples=1000, n_features=60, n_components=120, *,
                                 n_nonzero_coefs=None, support_exponent=0.3,
                                 value_range=(1.0, 2.0), random_state=None):
    """Signals ``y = A* x*`` of the sparse-coding model of Rangamani et al. (2018).

    The dictionary ``A*`` has ``n_components`` (h) unit-norm atoms in
    ``R^n_features`` (n), drawn as normalised Gaussian vectors, so it is
    overcomplete when h > n and incoherent with high probability (pairwise
    absolute cosines of order ``sqrt(log h / n)``). Each code ``x*`` is nonnegative
    with exactly ``n_nonzero_coefs`` nonzeros (default ``round(h **
    support_exponent)``, the paper's support size h^p) at uniformly random
    positions, with values uniform in ``value_range`` = [a, b].

    As scikit-learn's :func:`~sklearn.datasets.make_sparse_coded_signal`,
    samples and atoms are rows: ``Y = X* @ D`` with ``D = A*^T``.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=60
        Signal dimension n.
    n_components : int, default=120
        Number of atoms h.
    n_nonzero_coefs : int or None, default=None
        Support size of each code; at most ``n_components``.
    support_exponent : float in (0, 1), default=0.3
        p in the support size h^p, used when ``n_nonzero_coefs`` is None.
    value_range : tuple (a, b), default=(1.0, 2.0)
        Range of the nonzero code values, 0 <= a <= b.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    Y : ndarray of shape (n_samples, n_features)
        The signals.
    dictionary : ndarray of shape (n_components, n_features)
        The atoms (rows, unit norm).
    codes : ndarray of shape (n_samples, n_components)
        The nonnegative sparse codes.

    Examples
    --------
    >>> from skunroll.datasets import make_nonnegative_sparse_code
    >>> Y, D, X = make_nonnegative_sparse_code(100, 60, 120, n_nonzero_coefs=4, random_state=0)
    >>> Y.shape, D.shape, X.shape, int((X > 0).sum(axis=1).max())
    ((100, 60), (120, 60), (100, 120), 4)
    """
    low, high = (float(v) for v in value_range) if len(value_range) == 2 else (None, None)
    if low is None or not 0 <= low <= high:
        raise ValueError("value_range must be a pair (a, b) with 0 <= a <= b; got "
                         f"{value_range!r}.")
    if n_nonzero_coefs is None:
        n_nonzero_coefs = max(1, int(round(n_components**support_exponent)))
    if n_nonzero_coefs > n_components:
        raise ValueError(
            f"n_nonzero_coefs={n_nonzero_coefs} must be <= n_components={n_components}."
        )
    rng = check_random_state(random_state)
    dictionary = normalize(rng.normal(size=(n_components, n_features)))
    support = np.argsort(rng.uniform(size=(n_samples, n_components)), axis=1)[:, :n_nonzero_coefs]
    codes = np.zeros((n_samples, n_components))
    np.put_along_axis(codes, support, rng.uniform(low, high, size=support.shape), axis=1)
    return codes @ dictionary, dictionary, codes
