"""Saying so when a fit learned codes that are (almost) all zero."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._validation import as_csr_or_array

#: The report looks at most this many training rows, spread evenly over them.
REPORT_ROWS = 2000


def report_rows(X):
    """At most ``REPORT_ROWS`` rows of ``X``, evenly spaced (ndarray or CSR)."""
    X = as_csr_or_array(X)
    rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], REPORT_ROWS)).astype(int))
    return X[rows]


def warn_if_dead(estimator, codes, why, remedy):
    """A ConvergenceWarning when ``codes`` have fewer than one nonzero per row on average.

    ``why`` says what made the units dead and ``remedy`` what to change;
    both end the message.
    """
    nonzeros = float((codes != 0).sum(axis=1).mean())
    if nonzeros >= 1.0:
        return
    alive = int((codes != 0).any(axis=0).sum())
    warnings.warn(
        f"{type(estimator).__name__} learned (almost) nothing: the codes of the training data "
        f"have {nonzeros:.2f} nonzeros per row on average and {alive} of {codes.shape[1]} "
        f"units are ever active ({why}). {remedy}", ConvergenceWarning, stacklevel=4)
