"""Untrained measurement matrices to compare learned ones against."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._device import inference_device
from ..utils._validation import atomic_fit, check_n_components
from ._base import MeasurementMixin, with_decoder_docs
from ._decoders import DECODERS


@with_decoder_docs
class GaussianMeasurement(MeasurementMixin, BaseEstimator):
    """Random Gaussian measurements ``A_ij ~ N(0, 1/m)``, decoded by l1-min.

    The classical compressed-sensing baseline, with the API of
    :class:`L1AEEncoder` so that comparisons are one line. ``fit`` only
    draws ``A``; it learns nothing from the data beyond its width.

    Parameters
    ----------
    n_components : int, default=20
        Number of measurements m; at most n_features.
    nonnegative : bool, default=True
        The data are nonnegative: reject negative input and decode with
        ``"l1-min-pos"`` under ``decoder="auto"``.
    decoder : {"auto", "l1-min-pos", "l1-min", "lasso-pos", "lasso", "bpdn-pos", "bpdn"}, \
default="auto"
        {decoder_doc}
    noise_level : float >= 0 or "auto", default="auto"
        {noise_level_doc}
    solver : {"auto", "batched", "highs"}, default="auto"
        How the decoders solve their LPs; see :func:`l1_min_decode`.
    device : str or torch.device, default="auto"
        Where the batched solver runs; ``"auto"`` picks CUDA when available.
    n_jobs : int, default=None
        Joblib workers for the LP decoders.
    random_state : int, RandomState instance or None, default=None
        Seeds ``A``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The measurement matrix A.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    L1AEEncoder : Learned measurements.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import GaussianMeasurement
    >>> X = make_block_sparse(n_samples=50, n_features=100, random_state=0)
    >>> GaussianMeasurement(n_components=60, random_state=0).fit(X).transform(X).shape
    (50, 60)
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
        "decoder": [StrOptions({"auto", *DECODERS})],
        "noise_level": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "solver": [StrOptions({"auto", "batched", "highs"})],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=20, *, nonnegative=True, decoder="auto", noise_level="auto",
                 solver="auto", device="auto", n_jobs=None, random_state=None):
        self.n_components = n_components
        self.nonnegative = nonnegative
        self.decoder = decoder
        self.noise_level = noise_level
        self.solver = solver
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    @atomic_fit
    def fit(self, X, y=None):
        """Draw ``A`` for data with the width of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; only its shape (and sign, if ``nonnegative``) is used.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = self._validate_X(X, reset=True)
        check_n_components(self.n_components, X.shape[1])
        self._check_decoder()
        inference_device(self.device)  # a bad device string fails here, not at decoding
        rng = check_random_state(self.random_state)
        self.components_ = rng.standard_normal((self.n_components, X.shape[1])) / np.sqrt(
            self.n_components
        )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
