"""Noise levels and the thresholds of the noise-aware decoders.

With white noise of standard deviation ``sigma`` per measurement, the lasso's
penalty ``alpha = sigma sqrt(2 ln n) max_j ||A_j||`` keeps the noise's
correlation with every column below ``alpha`` with high probability, and
BPDN's bound ``eps = sigma sqrt(m + 2 sqrt(2 m))`` is the noise norm's mean
square plus two standard deviations. Measurements are never exact: those
rounded to float32 carry noise of about 1e-7 of their size, and the exact
decoders stop where that rounding begins (``rounding_noise_level``).
"""

import math

import numpy as np

#: The measurements' own rounding: this many units in the last place of their
#: dtype times their root mean square (float32 measurements of float32 data
#: carry the rounding of a sum, not of one entry).
ROUNDING_ULPS = 8


def noise_alpha(A, noise_level, positive=False):
    """The lasso penalty for white noise of standard deviation ``noise_level``.

    ``noise_level * sqrt(2 ln n) * max_j ||A_j||``, with ``n`` the number of
    columns (``2 n`` for signed vectors): the largest correlation of the
    noise with a column stays below it with high probability.

    Parameters
    ----------
    A : array-like of shape (n_components, n_features)
    noise_level : float or ndarray of shape (n_samples,)
    positive : bool, default=False

    Returns
    -------
    alpha : float or ndarray of shape (n_samples,)
    """
    A = np.asarray(A)
    n_columns = A.shape[1] * (1 if positive else 2)
    return (np.asarray(noise_level, dtype=np.float64) * math.sqrt(2 * math.log(max(n_columns, 2)))
            * float(np.linalg.norm(A, axis=0).max(initial=0.0)))


def noise_eps(n_components, noise_level):
    """BPDN's ``eps`` for white noise: ``noise_level * sqrt(m + 2 sqrt(2 m))``.

    Parameters
    ----------
    n_components : int
        Number of measurements m.
    noise_level : float or ndarray of shape (n_samples,)

    Returns
    -------
    eps : float or ndarray of shape (n_samples,)
    """
    m = n_components
    return np.asarray(noise_level, dtype=np.float64) * math.sqrt(m + 2 * math.sqrt(2 * m))


def rounding_noise_level(Y):
    """The rounding of measurements in ``Y``'s dtype, per row.

    ``ROUNDING_ULPS`` units in the last place of ``Y``'s floating dtype times
    the row's root mean square (float64 measurements: about 1e-15 of their
    size, so the noise-aware decoders agree with the exact ones).

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_components)

    Returns
    -------
    noise_level : ndarray of shape (n_samples,)
    """
    Y = np.asarray(Y)
    rms = (np.sqrt(np.mean(np.square(Y, dtype=np.float64), axis=1)) if Y.shape[1]
           else np.zeros(len(Y)))
    return ROUNDING_ULPS * measurement_precision(Y) * rms


def measurement_precision(Y):
    """Unit roundoff of ``Y``'s dtype (float64's for integer or object input)."""
    dtype = Y.dtype if np.issubdtype(Y.dtype, np.floating) else np.float64
    return float(np.finfo(dtype).eps)
