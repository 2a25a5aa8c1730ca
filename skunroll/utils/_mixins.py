"""Transformer behaviour shared by several estimators (tags, the linear inverse of codes)."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._validation import check_inverse_input


class DtypePreservingTransformerMixin(TransformerMixin):
    """A transformer whose output keeps the float32 or float64 of its input."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class SparseCodesMixin(ClassNamePrefixFeaturesOutMixin, DtypePreservingTransformerMixin):
    """An encoder into codes over a dictionary, decoded linearly: ``codes @ atoms``.

    The class names the fitted ``(n_components, n_features)`` dictionary in
    ``_atoms_attribute``.
    """

    _atoms_attribute = "components_"

    @property
    def _n_features_out(self):
        return getattr(self, self._atoms_attribute).shape[0]

    def inverse_transform(self, X):
        """Signals from codes: ``codes @ atoms``, the atoms the codes are over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            In the dtype of the codes (float32 or float64).
        """
        check_is_fitted(self)
        atoms = getattr(self, self._atoms_attribute)
        codes = check_inverse_input(self, X, atoms.shape[0], "codes")
        return codes @ atoms.astype(codes.dtype, copy=False)
