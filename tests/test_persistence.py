"""skops round-trips every estimator, fitted and between partial_fit calls."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier

from ._estimators import battery_instances, estimator_id, make_data

sio = pytest.importorskip("skops.io")

#: What skops may be asked to trust when loading a skunroll estimator: its own classes
#: and SciPy's CSR matrix (a learned sketch's sketch_). doc/persistence.rst lists them.
TRUSTED_MODULES = ("skunroll.",)
TRUSTED_TYPES = {"scipy.sparse._csr.csr_matrix"}

INSTANCES = battery_instances()


def _labels(X):
    return (X[:, 0] > np.median(X[:, 0])).astype(int)


def _fit(estimator, X, method="fit"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_classifier(estimator):
            extra = {"classes": [0, 1]} if method == "partial_fit" else {}
            return getattr(estimator, method)(X, _labels(X), **extra)
        return getattr(estimator, method)(X)


def _output(estimator, X):
    for method in ("transform", "decision_function"):
        if hasattr(estimator, method):
            return np.asarray(getattr(estimator, method)(X))


def _round_trip(estimator):
    data = sio.dumps(estimator)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(name.startswith(TRUSTED_MODULES) or name in TRUSTED_TYPES for name in untrusted)
    return sio.loads(data, trusted=untrusted)


@pytest.mark.parametrize("estimator", INSTANCES, ids=[estimator_id(e) for e in INSTANCES])
def test_skops_round_trip_keeps_the_fitted_estimator(estimator):
    X = make_data()
    fitted = _fit(clone(estimator), X)
    loaded = _round_trip(fitted)
    np.testing.assert_array_equal(_output(loaded, X), _output(fitted, X))


@pytest.mark.parametrize("estimator", [e for e in INSTANCES if hasattr(e, "partial_fit")],
                         ids=[estimator_id(e) for e in INSTANCES if hasattr(e, "partial_fit")])
def test_skops_round_trip_between_partial_fit_calls(estimator):
    X = make_data()
    stream = _fit(clone(estimator), X[:20], "partial_fit")
    loaded = _round_trip(stream)
    _fit(stream, X[20:], "partial_fit")
    _fit(loaded, X[20:], "partial_fit")
    np.testing.assert_array_equal(_output(loaded, X), _output(stream, X))
