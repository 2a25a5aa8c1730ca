"""What every measurement-matrix estimator shares: encode, decode, score."""

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from ..metrics import squared_errors
from ..utils._validation import check_inverse_input
from ._decoders import l1_min_decode


class MeasurementMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """Encoder ``y = A x`` with l1-min decoders, for estimators with ``components_``.

    The class using it has the parameters ``nonnegative``, ``decoder``,
    ``solver``, ``device`` and ``n_jobs``; its ``components_`` is the measurement matrix A of shape
    (n_components, n_features).
    """

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

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
        if decoder == "l1-min-pos" and not self.nonnegative:
            raise ValueError(
                "decoder='l1-min-pos' assumes nonnegative vectors; it needs nonnegative=True."
            )
        return decoder

    def _validate_X(self, X, reset):
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc", "coo"),
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if self.nonnegative:
            check_non_negative(X, f"{type(self).__name__} (nonnegative=True)")
        return X

    def _measure(self, X):
        return np.asarray(safe_sparse_dot(X, self.components_.T.astype(X.dtype, copy=False)))

    def _decode(self, Y):
        decoder = self._check_decoder()
        if decoder == "unrolled":
            return self._decode_unrolled(Y)
        # float64 in and out: exact recovery is judged at 1e-10.
        return l1_min_decode(
            self.components_,
            Y,
            positive=decoder == "l1-min-pos",
            solver=self.solver,
            device=self.device,
            n_jobs=self.n_jobs,
        )

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
        (``"l1-min"``), exact l1-min under ``x >= 0`` (``"l1-min-pos"``),
        both as LPs in float64 solved as the ``solver`` parameter says, or,
        for trained estimators, ``"unrolled"`` (in the dtype of ``X``).
        Measurements rounded to float32 cannot be recovered to 1e-10: measure
        float64 data for exact recovery.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Measurements, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Decoded vectors (float64 from the LP decoders); rows whose LP
            failed are NaN and a :class:`~skunroll.exceptions.DecodingWarning`
            names them.
        """
        check_is_fitted(self)
        Y = check_inverse_input(self, X, self.components_.shape[0], "measurements")
        return self._decode(Y)

    def score(self, X, y=None):
        """Minus the mean squared l2 error of ``inverse_transform(transform(X))``.

        Uses the ``decoder`` parameter, so with the LP decoders this solves one
        LP per row. ``X`` is measured in float64 whatever its dtype. Higher is
        better; 0 means every row was recovered. Rows whose LP failed make the
        score NaN.

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
