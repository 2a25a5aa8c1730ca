"""What every measurement-matrix estimator shares: encode, decode, score."""

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, check_non_negative

from ..decoding import decode
from ..metrics import squared_errors
from ..utils._mixins import DtypePreservingTransformerMixin
from ..utils._validation import check_inverse_input, validate_features

#: Text shared by the docstrings of the measurement estimators.
DECODER_DOC = """Decoder used by :meth:`inverse_transform` and :meth:`score`:

        - ``"l1-min"``, ``"l1-min-pos"``: exact l1 minimisation (``A x = y``),
          for measurements of exactly sparse vectors; rows that are infeasible
          (certified) get the least-l1 vector among the nearest fits, with a
          :class:`~skunroll.exceptions.DecodingWarning`;
        - ``"lasso"``, ``"lasso-pos"``: ``min 1/2 ||A x - y||^2 + alpha ||x||_1``,
          for noisy measurements, ``alpha`` from ``noise_level``
          (:func:`~skunroll.decoding.lasso_decode`);
        - ``"bpdn"``, ``"bpdn-pos"``: ``min ||x||_1 s.t. ||A x - y|| <= eps``,
          ``eps`` from ``noise_level`` (:func:`~skunroll.decoding.bpdn_decode`);
        - ``"linear"`` (untrained measurements only): the least-norm solution
          ``A^T (A A^T)^-1 y``, PCA's reconstruction for PCA's ``A``;
        - ``"auto"``: ``"l1-min-pos"`` when ``nonnegative`` else ``"l1-min"``.

        The ``-pos`` decoders add ``x >= 0`` and need ``nonnegative=True``."""

NOISE_LEVEL_DOC = """Standard deviation of the noise per measurement, for the lasso and
        BPDN decoders (``alpha = noise_level sqrt(2 ln n) max_j ||A_j||``,
        ``eps = noise_level sqrt(m + 2 sqrt(2 m))``, see
        :func:`~skunroll.decoding.noise_alpha`). ``"auto"``: the rounding of
        the measurements given to :meth:`inverse_transform`, 8 units in the
        last place of their dtype times each row's root mean square (float32
        measurements: about 1e-6 of their size; float64: about 2e-15). Give
        the noise level of your measurements when they are noisier than that
        (predicted embeddings, say)."""


#: The pieces measurement estimators' docstrings take with :func:`fill_doc`.
DECODER_PIECES = {"decoder_doc": DECODER_DOC, "noise_level_doc": NOISE_LEVEL_DOC}


class MeasurementMixin(ClassNamePrefixFeaturesOutMixin, DtypePreservingTransformerMixin):
    """Encoder ``y = A x`` with l1-min decoders, for estimators with ``components_``.

    The class using it has the parameters ``nonnegative``, ``decoder``,
    ``noise_level``, ``solver``, ``device`` and ``n_jobs``; its
    ``components_`` is the measurement matrix A of shape
    (n_components, n_features). A class whose ``decoder`` may name its own
    trained decoder (``"unrolled"``, ``"network"``) overrides
    :meth:`_decode_network`.
    """

    def _decode_network(self, Y):
        """Decode ``Y`` with the estimator's own trained decoder (in the dtype of ``Y``)."""
        raise NotImplementedError(f"{type(self).__name__} has no trained decoder.")

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = self.nonnegative
        return tags

    def _resolved_decoder(self):
        if self.decoder == "auto":
            return "l1-min-pos" if self.nonnegative else "l1-min"
        return self.decoder

    def _check_decoder(self):
        # Checked here too, since set_params after fit skips fit's validation.
        allowed = self._parameter_constraints["decoder"][0].options
        if self.decoder not in allowed:
            raise ValueError(f"decoder={self.decoder!r} is not one of {sorted(allowed)}.")
        decoder = self._resolved_decoder()
        if decoder.endswith("-pos") and not self.nonnegative:
            raise ValueError(
                f"decoder={decoder!r} assumes nonnegative vectors; it needs nonnegative=True."
            )
        return decoder

    def _validate_X(self, X, reset):
        X = validate_features(self, X, reset)
        if self.nonnegative:
            check_non_negative(X, f"{type(self).__name__} (nonnegative=True)")
        return X

    def _measure(self, X):
        return np.asarray(safe_sparse_dot(X, self.components_.T.astype(X.dtype, copy=False)))

    def _decode(self, Y):
        decoder = self._check_decoder()
        if decoder in ("unrolled", "network"):
            return self._decode_network(Y)
        # Exact decoders: float64 out (exact recovery is judged at 1e-10); an
        # infeasible row gets its nearest fit, with a warning.
        return decode(self.components_, Y, decoder, noise_level=self.noise_level,
                      solver=self.solver, device=self.device, n_jobs=self.n_jobs,
                      on_infeasible="nearest")

    def transform(self, X):
        """Measure: ``Y = X A^T``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Vectors to measure. Sparse input is multiplied as sparse.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_components)
            Measurements, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        return self._measure(self._validate_X(X, reset=False))

    def inverse_transform(self, X):
        """Decode measurements back to vectors in the original space.

        Uses the decoder named by the ``decoder`` parameter: exact l1-min
        (``"l1-min"``, ``"l1-min-pos"``: LPs in float64 solved as the
        ``solver`` parameter says), the lasso or BPDN for noisy measurements
        (``"lasso"``, ``"bpdn"`` and their ``-pos`` forms, at the
        ``noise_level``), the least-norm ``"linear"`` solution (untrained
        measurements), or the trained estimator's own decoder network
        (``"unrolled"``, ``"network"``; in the dtype of ``X``). Measurements
        rounded to float32 cannot be recovered to 1e-10: measure float64 data
        for exact recovery, or decode float32 measurements with a noise-aware
        decoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Measurements, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Decoded vectors (float64 from the l1 decoders); rows that could
            not be decoded are NaN, and a
            :class:`~skunroll.exceptions.DecodingWarning` names them (and the
            infeasible rows an exact decoder gave their nearest fit).
        """
        check_is_fitted(self)
        Y = check_inverse_input(self, X, self.components_.shape[0], "measurements")
        return self._decode(Y)

    def score(self, X, y=None):
        """Minus the mean squared l2 error of ``inverse_transform(transform(X))``.

        Uses the ``decoder`` parameter (with the exact decoders, the batched
        solver decodes all rows at once). ``X`` is measured in float64
        whatever its dtype. Higher is better; 0 means every row was recovered.
        Rows that could not be decoded make the score NaN.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test vectors.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False).astype(np.float64, copy=False)
        return -float(np.mean(squared_errors(X, self._decode(self._measure(X)))))
