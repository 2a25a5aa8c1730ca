"""Untrained measurement matrices to compare learned ones against (the l1-AE paper's baselines)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions

from ..decoding import DECODERS, BlockModel, GroupModel, model_cosamp_decode
from ..utils._device import inference_device
from ..utils._docstrings import fill_doc
from ..utils._validation import atomic_fit, check_n_components
from ._base import DECODER_PIECES, MeasurementMixin

_SHARED_PARAMETERS = """
    n_components : int, default=20
        Number of measurements m; at most n_features.
    nonnegative : bool, default=True
        The data are nonnegative: reject negative input and decode with
        ``"l1-min-pos"`` under ``decoder="auto"``.
    decoder : {"auto", "l1-min-pos", "l1-min", "lasso-pos", "lasso", "bpdn-pos", "bpdn", \
"linear"}, default="auto"
        {decoder_doc}
    noise_level : float >= 0 or "auto", default="auto"
        {noise_level_doc}
    solver : {"auto", "batched", "highs"}, default="auto"
        How the decoders solve their LPs; see :func:`l1_min_decode`.
    device : str or torch.device, default="auto"
        Where the batched solver runs; ``"auto"`` picks CUDA when available.
    n_jobs : int, default=None
        Joblib workers for the LP decoders.
"""

_SHARED_ATTRIBUTES = """
    components_ : ndarray of shape (n_components, n_features)
        The measurement matrix A.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
"""


#: Measurement-baseline docstrings take these pieces; the parameters hold the decoder's.
_PIECES = {"shared_parameters": _SHARED_PARAMETERS.strip("\n"),
           "shared_attributes": _SHARED_ATTRIBUTES.strip("\n"), **DECODER_PIECES}


class _UntrainedMeasurement(MeasurementMixin, BaseEstimator):
    """A measurement matrix that ``fit`` computes without training; decoded like any other."""

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
        "decoder": [StrOptions({"auto", *DECODERS, "linear"})],
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
        """Compute ``A`` for data like ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
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
        self.components_ = self._measurement_matrix(X, check_random_state(self.random_state))
        return self

    def _measurement_matrix(self, X, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def dct_rows(rows, n_features):
    """Rows ``rows`` of the orthonormal DCT-II matrix of size ``n_features`` (no n x n matrix)."""
    rows = np.asarray(rows)
    j = np.arange(n_features)
    basis = np.cos(np.pi * rows[:, None] * (2 * j[None, :] + 1) / (2 * n_features))
    basis *= np.sqrt(2.0 / n_features)
    basis[rows == 0] /= np.sqrt(2.0)
    return basis


@fill_doc(**_PIECES)
class GaussianMeasurement(_UntrainedMeasurement):
    """Random Gaussian measurements ``A_ij ~ N(0, 1/m)``, decoded by l1-min.

    The classical compressed-sensing baseline, with the API of
    :class:`L1AEEncoder` so that comparisons are one line. ``fit`` only
    draws ``A``; it learns nothing from the data beyond its width.

    Parameters
    ----------
{shared_parameters}
    random_state : int, RandomState instance or None, default=None
        Seeds ``A``.

    Attributes
    ----------
{shared_attributes}

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

    def _measurement_matrix(self, X, rng):
        return rng.standard_normal((self.n_components, X.shape[1])) / np.sqrt(self.n_components)


def fourier_rows(frequencies, n_features):
    """Real and imaginary parts of rows ``frequencies`` of the DFT matrix, interleaved."""
    j = np.arange(n_features)
    angles = -2 * np.pi * np.outer(frequencies, j) / n_features
    rows = np.empty((2 * len(frequencies), n_features))
    rows[0::2], rows[1::2] = np.cos(angles), np.sin(angles)
    return rows


@fill_doc(**_PIECES)
class PartialFourierMeasurement(_UntrainedMeasurement):
    """Random partial Fourier measurements: random rows of the DFT, as reals.

    ``ceil(m / 2)`` distinct frequencies drawn at random; each contributes the
    real and the imaginary part of its row of the discrete Fourier transform
    (the last imaginary part is dropped for odd m), scaled by
    ``1 / sqrt(m / 2)`` so that columns have unit norm, as a Gaussian
    ``N(0, 1/m)`` matrix's on average. The construction of Wu et al.'s code
    (which draws the frequencies with replacement), a baseline there decoded
    by model-based CoSaMP (:class:`ModelBasedCoSaMP`).

    Parameters
    ----------
{shared_parameters}
    random_state : int, RandomState instance or None, default=None
        Seeds which frequencies are drawn.

    Attributes
    ----------
{shared_attributes}
    frequencies_ : ndarray of shape (ceil(n_components / 2),)
        The DFT rows drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sensing import PartialFourierMeasurement
    >>> A = PartialFourierMeasurement(8, random_state=0).fit(np.ones((2, 32))).components_
    >>> bool(np.allclose(np.linalg.norm(A, axis=0), 1.0))
    True
    """

    def _measurement_matrix(self, X, rng):
        n_features, m = X.shape[1], self.n_components
        n_frequencies = -(-m // 2)
        if n_frequencies > n_features:
            raise ValueError(f"n_components={m} needs {n_frequencies} distinct frequencies; "
                             f"there are n_features={n_features}.")
        self.frequencies_ = np.sort(rng.choice(n_features, n_frequencies, replace=False))
        return fourier_rows(self.frequencies_, n_features)[:m] / np.sqrt(m / 2)


@fill_doc(**_PIECES)
class PCAMeasurement(_UntrainedMeasurement):
    """PCA as a measurement matrix: the data's top m right singular vectors.

    ``A`` holds the ``n_components`` leading right singular vectors of ``X``
    (:class:`~sklearn.decomposition.TruncatedSVD`, uncentred, so sparse data
    stay sparse). ``decoder="linear"`` is PCA alone (``A^T y``, the projection
    onto the principal subspace); the l1 decoders give the paper's
    "PCA + l1-min" baseline.

    Parameters
    ----------
{shared_parameters}
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD.

    Attributes
    ----------
{shared_attributes}

    See Also
    --------
    sklearn.decomposition.TruncatedSVD : What computes ``A``.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import PCAMeasurement
    >>> X = make_block_sparse(n_samples=300, n_features=100, random_state=0)
    >>> PCAMeasurement(20, decoder="linear", random_state=0).fit(X).components_.shape
    (20, 100)
    """

    def _measurement_matrix(self, X, rng):
        svd = TruncatedSVD(self.n_components, algorithm="randomized", n_iter=7, random_state=rng)
        return svd.fit(X).components_.astype(np.float64)


@fill_doc(**_PIECES)
class LBCSMeasurement(_UntrainedMeasurement):
    """Learning-based compressive subsampling: a basis's m highest-energy rows.

    Baldassarre, Li, Scarlett, Gozcu, Bogunovic, Cevher (2016), a baseline of
    Wu et al. (2019): of the rows ``phi_k`` of an orthonormal transform (the
    DCT-II here), keep the ``n_components`` with the largest training energy
    ``sum_i <phi_k, x_i>^2``. All rows are scored in chunks, so no
    ``n_features x n_features`` matrix is formed; sparse ``X`` stays sparse.

    Parameters
    ----------
{shared_parameters}
    random_state : None
        Unused (the choice is deterministic); kept for a uniform API.

    Attributes
    ----------
{shared_attributes}
    frequencies_ : ndarray of shape (n_components,)
        The DCT rows kept, by decreasing training energy.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import LBCSMeasurement
    >>> X = make_block_sparse(n_samples=300, n_features=100, random_state=0)
    >>> int(LBCSMeasurement(20).fit(X).frequencies_[0])  # the constant row carries most energy
    0
    """

    #: Transform rows scored per chunk.
    _CHUNK_ROWS = 256

    def _measurement_matrix(self, X, rng):
        n_features = X.shape[1]
        energy = np.empty(n_features)
        for rows in gen_batches(n_features, self._CHUNK_ROWS):
            basis = dct_rows(np.arange(rows.start, rows.stop), n_features)
            projections = X @ basis.T
            energy[rows] = np.sum(np.asarray(projections) ** 2, axis=0)
        # Ties (equal energy) go to the lower frequency.
        self.frequencies_ = np.argsort(-energy, kind="stable")[: self.n_components]
        return dct_rows(self.frequencies_, n_features)


@fill_doc(**DECODER_PIECES)
class ModelBasedCoSaMP(MeasurementMixin, BaseEstimator):
    """Random measurements decoded by model-based CoSaMP: the l1-AE paper's strongest baseline.

    Gaussian (``N(0, 1/m)``) or random partial Fourier measurements
    (:class:`PartialFourierMeasurement`), decoded by CoSaMP whose K-term
    approximations are the best approximations within a structured model
    (Baraniuk et al., 2010): ``model="block"``, ``n_blocks`` of the aligned
    blocks of ``block_size`` coordinates (Synthetic1: 1 block of 10,
    Synthetic2: 2 of 5); ``model="one-hot"``, the largest ``n_per_group``
    entries of each group of ``group_sizes`` columns (one-hot data: one per
    categorical feature). ``nonnegative=True`` adds the paper's positivity
    step (positive-part approximations and nonnegative least squares).

    Parameters
    ----------
    n_components : int, default=20
        Number of measurements m; at most n_features.
    measurement : {"gaussian", "fourier"}, default="gaussian"
    model : {"block", "one-hot"}, default="block"
    block_size : int, default=10
    n_blocks : int, default=1
    group_sizes : array-like of int or None, default=None
        Columns per categorical feature, in order (``model="one-hot"``; they
        must add up to n_features).
    n_per_group : int, default=1
        Nonzeros per group (``model="one-hot"``).
    nonnegative : bool, default=True
        The data are nonnegative: reject negative input and decode with the
        positivity step.
    positivity : {"clip", "nnls"}, default="clip"
        The positivity step: negative least-squares entries set to 0 before
        pruning (the authors' code, the paper's "CoSaMP pos"), or nonnegative
        least squares on the merged support (a stronger decoder: 96% exact
        recovery on Synthetic1 at m = 20 where ``"clip"`` gives 79%).
    transform_max_iter : int, default=30
        CoSaMP iterations at most, per decoded vector (scikit-learn's
        ``SparseCoder`` name for a decoder's iteration limit).
    n_jobs : int, default=None
        Joblib workers over chunks of rows for decoding.
    random_state : int, RandomState instance or None, default=None
        Seeds ``A``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The measurement matrix A.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    References
    ----------
    R. G. Baraniuk, V. Cevher, M. F. Duarte, C. Hegde. "Model-based
    compressive sensing", IEEE Trans. Information Theory 56(4), 2010.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.metrics import exact_recovery_fraction
    >>> from skunroll.sensing import ModelBasedCoSaMP
    >>> X = make_block_sparse(n_samples=20, n_features=200, random_state=0)
    >>> cosamp = ModelBasedCoSaMP(60, random_state=0).fit(X)
    >>> exact_recovery_fraction(X, cosamp.inverse_transform(cosamp.transform(X)))
    1.0
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "measurement": [StrOptions({"gaussian", "fourier"})],
        "model": [StrOptions({"block", "one-hot"})],
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "group_sizes": ["array-like", None],
        "n_per_group": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
        "positivity": [StrOptions({"clip", "nnls"})],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=20, *, measurement="gaussian", model="block", block_size=10,
                 n_blocks=1, group_sizes=None, n_per_group=1, nonnegative=True,
                 positivity="clip", transform_max_iter=30, n_jobs=None, random_state=None):
        self.n_components = n_components
        self.measurement = measurement
        self.model = model
        self.block_size = block_size
        self.n_blocks = n_blocks
        self.group_sizes = group_sizes
        self.n_per_group = n_per_group
        self.nonnegative = nonnegative
        self.positivity = positivity
        self.transform_max_iter = transform_max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    @atomic_fit
    def fit(self, X, y=None):
        """Draw ``A`` for data with the width of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = self._validate_X(X, reset=True)
        n_features = X.shape[1]
        check_n_components(self.n_components, n_features)
        self._structure_model(n_features)  # a bad model fails here, not at decoding
        measurement = (GaussianMeasurement if self.measurement == "gaussian"
                       else PartialFourierMeasurement)(self.n_components)
        rng = check_random_state(self.random_state)
        self.components_ = measurement._measurement_matrix(X, rng)
        return self

    def _structure_model(self, n_features):
        if self.model == "block":
            return BlockModel(n_features, self.block_size, self.n_blocks)
        if self.group_sizes is None:
            raise ValueError('model="one-hot" needs group_sizes (columns per categorical '
                             'feature).')
        sizes = np.asarray(self.group_sizes, dtype=int)
        if sizes.ndim != 1 or np.any(sizes < 1) or sizes.sum() != n_features:
            raise ValueError("group_sizes must be positive and add up to "
                             f"n_features={n_features}; they add up to {int(sizes.sum())}.")
        return GroupModel(sizes, self.n_per_group)

    def _decode(self, Y):
        return model_cosamp_decode(self.components_, Y, self._structure_model(self.n_features_in_),
                                   positive=self.nonnegative, positivity=self.positivity,
                                   max_iter=self.transform_max_iter,
                                   n_jobs=self.n_jobs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
