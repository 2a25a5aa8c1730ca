"""Multi-label data: the Extreme Classification Repository format, Yeast, a synthetic XML set."""

import os

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ._xml_format import check_range, check_sample_count, load_line_by_line, parse_plain


def load_xml_repository(path, *, n_features=None, n_labels=None, dtype=np.float64):
    """Read a data file in the Extreme Classification Repository's text format.

    The format (used by EURLex-4K, Wiki10-31K, Amazon-670K, ...): a header
    line ``n_samples n_features n_labels``, then one line per sample,
    ``l1,l2,... f:v f:v ...``, with 0-based label and feature indices; a
    sample without labels starts with a space, and a blank line is a sample
    without labels and features (blank lines at the end are not samples).
    The files are downloaded from the repository
    (http://manikvarma.org/downloads/XC/XMLRepository.html) by the user; this
    reader needs no network.

    Parameters
    ----------
    path : str or path-like
    n_features, n_labels : int, default=None
        Override the header's counts (e.g. to read a test file with the
        training file's sizes); they must not be smaller than an index used.
    dtype : dtype, default=np.float64
        dtype of ``X``.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Sorted indices; a feature listed twice in a line has the sum of its
        values.
    Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels), int8, 0/1

    Raises
    ------
    ValueError
        If the header is not three counts, a line cannot be parsed (the
        message names the file and the line), the number of samples is not
        the header's, or an index is outside its range.

    Notes
    -----
    A file in the repository's plain form (ASCII digits and separators,
    increasing feature indices of at most 7 digits within a line) is parsed
    by NumPy operations over its bytes; the values that are not
    ``[sign]digits[.digits]`` of at most 16 characters with a mantissa below
    2**53 (an exponent, a long mantissa) are read by ``float`` one at a
    time. Anything else (unsorted or repeated feature indices, tabs,
    ``nan``, signed indices or labels, a malformed line) goes through a
    line-by-line Python parser, which returns the same arrays and names the
    line it cannot parse.

    Examples
    --------
    >>> import tempfile, os
    >>> from skunroll.datasets import load_xml_repository
    >>> path = os.path.join(tempfile.mkdtemp(), "train.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("2 4 3\\n0,2 0:0.5 3:1.0\\n 1:2.0\\n")
    >>> X, Y = load_xml_repository(path)
    >>> X.toarray().tolist(), Y.toarray().tolist()
    ([[0.5, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0]], [[1, 0, 1], [0, 0, 0]])
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        content = handle.read()
    parsed = parse_plain(path, content)
    if parsed is None:
        return load_line_by_line(path, n_features, n_labels, dtype)
    (n_samples, header_features, header_labels), (values, indices, indptr), rows, columns = parsed
    check_sample_count(path, n_samples, len(indptr) - 1)
    n_features = header_features if n_features is None else n_features
    n_labels = header_labels if n_labels is None else n_labels
    for name, used, size in (("feature", indices, n_features), ("label", columns, n_labels)):
        check_range(path, name, (used.min(), used.max()) if len(used) else None, size)
    if np.dtype(dtype).kind in "fc":
        values = np.asarray(values, dtype=dtype)
    else:  # as numpy converts Python floats (e.g. an error for inf to an integer dtype)
        values = np.asarray(values.tolist(), dtype=dtype)
    X = sp.csr_matrix((values, indices, indptr), shape=(n_samples, n_features))
    label_indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_samples), out=label_indptr[1:])
    Y = sp.csr_matrix((np.ones(len(columns), dtype=np.int8), columns, label_indptr),
                      shape=(n_samples, n_labels))
    return X, Y


def load_yeast():
    """The Yeast multi-label data set (MULAN): 2,417 genes, 103 features, 14 labels.

    Bundled with the ``river`` package (optional ``benchmarks`` extra); no
    download.

    Returns
    -------
    X : ndarray of shape (2417, 103)
    Y : ndarray of shape (2417, 14), int8, 0/1
    """
    try:
        from river.datasets import Yeast
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("load_yeast needs 'river': pip install 'skunroll[benchmarks]'") from exc
    rows = list(Yeast())
    feature_names = list(rows[0][0])
    label_names = list(rows[0][1])
    X = np.array([[features[name] for name in feature_names] for features, _ in rows])
    Y = np.array([[bool(labels[name]) for name in label_names] for _, labels in rows],
                 dtype=np.int8)
    return X, Y


def make_linear_xml(n_samples=6000, n_features=300, n_labels=2000, n_per_sample=4, noise=0.5,
                    random_state=0):
    """A synthetic extreme multi-label set: power-law labels, features from label prototypes.

    Label j is drawn with probability proportional to 1 / (j + 10) (a long
    tail, as in XML data; the label columns are shuffled at the end, so an
    index says nothing about a label's frequency), ``n_per_sample`` distinct
    labels per sample; each of the first ``n_labels // 2`` samples carries
    two labels of its own, so that every label occurs early at least once.
    ``X = normalize(Y P + noise * G)`` with Gaussian prototypes ``P`` and
    noise ``G``.

    Parameters
    ----------
    n_samples : int, default=6000
    n_features : int, default=300
    n_labels : int, default=2000
    n_per_sample : int, default=4
    noise : float, default=0.5
    random_state : int, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels), int8

    Examples
    --------
    >>> from skunroll.datasets import make_linear_xml
    >>> X, Y = make_linear_xml(n_samples=300, n_labels=100, random_state=0)
    >>> X.shape, Y.shape, int(Y.sum(axis=1).max())
    ((300, 300), (300, 100), 4)
    """
    rng = np.random.RandomState(random_state)
    weights = 1.0 / (np.arange(n_labels) + 10)
    rows, columns = [], []
    for i in range(n_samples):
        labels = set(rng.choice(n_labels, n_per_sample, replace=False, p=weights / weights.sum()))
        if i < n_labels // 2:  # every label in the training part at least once
            labels = set(list(labels)[: n_per_sample - 2]) | {2 * i, 2 * i + 1}
        rows.extend([i] * len(labels))
        columns.extend(labels)
    Y = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, columns)),
                      shape=(n_samples, n_labels))
    prototypes = rng.normal(size=(n_labels, n_features))
    X = Y.astype(np.float64) @ prototypes + noise * rng.normal(size=(n_samples, n_features))
    # Shuffle the label columns: the label index says nothing about its frequency, so
    # ties broken towards the lower index (LP decoders give many zero scores) earn nothing.
    return normalize(X), Y[:, rng.permutation(n_labels)]
