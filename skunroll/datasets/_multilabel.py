"""Multi-label data: the Extreme Classification Repository format, Yeast, a synthetic XML set."""

import os

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize


def load_xml_repository(path, *, n_features=None, n_labels=None, dtype=np.float64):
    """Read a data file in the Extreme Classification Repository's text format.

    The format (used by EURLex-4K, Wiki10-31K, Amazon-670K, ...): a header
    line ``n_samples n_features n_labels``, then one line per sample,
    ``l1,l2,... f:v f:v ...``, with 0-based label and feature indices; a
    sample without labels starts with a space. The files are downloaded from
    the repository (http://manikvarma.org/downloads/XC/XMLRepository.html)
    by the user; this reader needs no network.

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
    Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels), int8, 0/1

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
    with open(path) as handle:
        header = handle.readline().split()
        if len(header) != 3 or not all(token.isdigit() for token in header):
            raise ValueError(
                f"{path}: the first line must be 'n_samples n_features n_labels'; got "
                f"{' '.join(header)!r}."
            )
        n_samples, header_features, header_labels = (int(token) for token in header)
        x_rows, x_cols, x_vals, y_rows, y_cols = [], [], [], [], []
        lines = handle.read().split("\n")
        while lines and not lines[-1].strip():  # trailing blank lines are not samples
            lines.pop()
        row = -1
        # Every other line is a sample; a blank one has no labels and no features.
        for line_number, line in enumerate(lines, start=2):
            row += 1
            tokens = line.split(" ")
            labels, features = tokens[0], [t for t in tokens[1:] if t]
            if ":" in labels:  # no labels and no leading space
                labels, features = "", [labels] + features
            try:
                for label in filter(None, labels.split(",")):
                    y_rows.append(row)
                    y_cols.append(int(label))
                for feature in features:
                    index, value = feature.split(":")
                    x_rows.append(row)
                    x_cols.append(int(index))
                    x_vals.append(float(value))
            except ValueError as exc:
                raise ValueError(f"{path}, line {line_number}: cannot parse "
                                 f"{line.strip()!r}.") from exc
    n_read = row + 1
    if n_read != n_samples:
        raise ValueError(f"{path}: the header announces {n_samples} samples but {n_read} were "
                         "read.")
    n_features = header_features if n_features is None else n_features
    n_labels = header_labels if n_labels is None else n_labels
    for name, indices, size in (("feature", x_cols, n_features), ("label", y_cols, n_labels)):
        if indices and (max(indices) >= size or min(indices) < 0):
            raise ValueError(f"{path}: a {name} index is outside [0, {size}).")
    X = sp.csr_matrix((np.asarray(x_vals, dtype=dtype), (x_rows, x_cols)),
                      shape=(n_samples, n_features))
    Y = sp.csr_matrix((np.ones(len(y_rows), dtype=np.int8), (y_rows, y_cols)),
                      shape=(n_samples, n_labels))
    X.sum_duplicates()
    Y.sum_duplicates()
    Y.data[:] = 1  # a label listed twice is still one label
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
