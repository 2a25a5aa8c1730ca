"""The thresholds of the tied ReLU autoencoder, from Rangamani et al. (2018)'s analysis.

The coherence of a dictionary and the biases that keep off-support units
silent: what ``ReLUDictionaryAutoencoder(bias="auto" | "support")`` uses.
"""

import math

import numpy as np
import scipy.sparse as sp

#: Multiple of the typical off-support pre-activation used by ``bias="auto"``.
#: Chosen on the simulations of the user guide (n = 50..200, h = 2n..4n) with
#: the data's coherence (:func:`data_coherence`), as the paper chose the
#: prefactor of its bias in its own simulations; checked on image patches.
AUTO_BIAS_SCALE = 1.2

#: Rows of the training data whose pairwise inner products estimate :func:`data_coherence`.
DATA_COHERENCE_SAMPLES = 1024


def support_bias_scale(n_components):
    """Multiple used by ``bias="support"``: ``sqrt(2 ln h)``.

    About the largest of h standard Gaussians, so every off-support unit is
    zero with high probability, as in Theorem 3.1.
    """
    return math.sqrt(2 * math.log(max(n_components, 2)))


def rms_coherence(dictionary):
    """Root mean square of ``<d_i, d_j> / (||d_i|| ||d_j||)`` over pairs ``i != j``.

    Computed from the ``n x n`` matrix ``D^T D`` (``||D D^T||_F = ||D^T D||_F``),
    so no ``h x h`` Gram matrix is formed.

    Parameters
    ----------
    dictionary : ndarray of shape (n_components, n_features)

    Returns
    -------
    coherence : float
        0.0 for a single atom.
    """
    D = np.asarray(dictionary, dtype=np.float64)
    norms = np.linalg.norm(D, axis=1)
    D = D[norms > 0] / norms[norms > 0, None]
    h = D.shape[0]
    if h < 2:
        return 0.0
    gram_sq = np.sum((D.T @ D) ** 2)
    return float(np.sqrt(max(gram_sq - h, 0.0) / (h * (h - 1))))


def data_coherence(X, max_samples=DATA_COHERENCE_SAMPLES):
    """The coherence of the data: ``sqrt(mean_{i != j} <y_i, y_j>^2) / mean ||y||^2``.

    It is the typical absolute cosine between a unit vector drawn like the
    data and another sample, ``sqrt(tr(C^2)) / tr(C)`` for the second-moment
    matrix ``C = E[y y^T]``, that is ``1 / sqrt(r)`` with ``r`` the effective
    number of directions the data spans (the participation ratio of ``C``'s
    eigenvalues). For isotropic data ``r = n_features`` and it is
    ``1 / sqrt(n_features)``, the coherence of random atoms; for data that
    concentrates in fewer directions (natural images, with their 1/f
    spectrum) it is larger, and so is the coherence of atoms learned from it.
    Estimated from the Gram matrix of at most ``max_samples`` evenly spaced
    rows (off-diagonal pairs, so the estimate of ``tr(C^2)`` is unbiased);
    no ``n_features x n_features`` matrix is formed and sparse ``X`` stays sparse.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    max_samples : int, default=DATA_COHERENCE_SAMPLES

    Returns
    -------
    coherence : float in [0, 1]
        0.0 with fewer than two nonzero samples.
    """
    n_samples = X.shape[0]
    rows = np.unique(np.linspace(0, n_samples - 1, min(n_samples, max_samples)).astype(int))
    Y = X[rows]
    Y = Y.astype(np.float64) if sp.issparse(Y) else np.asarray(Y, dtype=np.float64)
    gram = Y @ Y.T
    squared_norms = np.asarray(gram.diagonal()).ravel()
    sum_of_squares = float(gram.multiply(gram).sum() if sp.issparse(gram) else np.sum(gram**2))
    mean_squared_norm = squared_norms.mean() if len(rows) else 0.0
    if len(rows) < 2 or mean_squared_norm == 0:
        return 0.0
    off_diagonal = (sum_of_squares - np.sum(squared_norms**2)) / (len(rows) * (len(rows) - 1))
    return float(min(1.0, math.sqrt(max(off_diagonal, 0.0)) / mean_squared_norm))


def auto_bias(X, coherence, scale=AUTO_BIAS_SCALE):
    """The threshold ``scale * coherence * sqrt(mean ||y||^2)`` of the string biases.

    For an atom ``w_i`` off the support S of ``y = sum_j x_j a_j``, the
    pre-activation ``<w_i, y> = sum_{j in S} x_j <w_i, a_j>`` is the sum of
    Theorem 3.1's proof: at most ``mu k b`` in the worst case, of typical
    size ``mu ||x||_2 ~ mu ||y||_2`` when the cross-coherences have random
    signs. The threshold is ``scale`` times that typical size.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    coherence : float
        Typical absolute cosine between distinct atoms.
    scale : float, default=AUTO_BIAS_SCALE

    Returns
    -------
    bias : float
    """
    if sp.issparse(X):
        squared_norms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    else:
        squared_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    return float(scale * coherence * math.sqrt(squared_norms.mean()))
