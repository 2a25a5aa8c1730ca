"""Input checks shared by the estimators."""

import functools

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data


def check_n_components(n_components, n_features, name="n_components"):
    """Raise a ValueError when ``n_components`` exceeds ``n_features``."""
    if n_components > n_features:
        raise ValueError(
            f"{name}={n_components} must be <= n_features={n_features}: a measurement matrix "
            "compresses, it cannot have more rows than the data has features."
        )


def check_inverse_input(estimator, X, n_components, what):
    """Validate the input of ``inverse_transform``: ``n_components`` ``what`` per row.

    Returns ``X`` as a float64 or float32 array.
    """
    X = check_array(X, dtype=(np.float64, np.float32))
    if X.shape[1] != n_components:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__}.inverse_transform "
            f"expects {n_components} {what} per row (n_components)."
        )
    return X


def validate_features(estimator, X, reset, accept_sparse=("csr", "csc", "coo")):
    """``X`` as a float64 or float32 array or sparse matrix, checked against the fit.

    scikit-learn's ``validate_data``: records ``n_features_in_`` and
    ``feature_names_in_`` when ``reset``, else checks ``X`` against them.
    """
    return validate_data(estimator, X, accept_sparse=accept_sparse,
                         dtype=(np.float64, np.float32), reset=reset)


def as_csr_or_array(X):
    """CSR for any sparse input (cheap row slicing), ndarray otherwise."""
    if sp.issparse(X):
        return sp.csr_matrix(X)
    return np.asarray(X)


def atomic_fit(fit):
    """Decorate ``fit``: validate the parameters, and undo everything on failure.

    Parameters are validated by scikit-learn's ``_fit_context`` (so
    ``sklearn.config_context(skip_parameter_validation=True)`` is honoured,
    and nested estimators are validated by their own ``fit``). If ``fit``
    raises (bad input, a diverging run, a second Ctrl-C: the first one ends
    training and keeps the work), the estimator's
    ``__dict__`` is put back as it was before the call, so no half-fitted
    state (``n_features_in_`` without ``components_``, say) is ever left
    behind.
    """

    @functools.wraps(fit)
    def restoring(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return _fit_context(prefer_skip_nested_validation=False)(restoring)


def seed_unseeded(estimator, random_state):
    """Give every ``random_state`` parameter of ``estimator`` that is None a seed.

    Without a ``random_state`` of the meta-estimator (None), nothing changes.
    """
    if random_state is None:
        return
    params = estimator.get_params(deep=True)
    seeds = {name: random_state.randint(np.iinfo(np.int32).max)
             for name in sorted(params)
             if (name == "random_state" or name.endswith("__random_state"))
             and params[name] is None}
    if seeds:
        estimator.set_params(**seeds)
