"""One convention across the package: parameter validation, defaults, warning classes."""

import inspect

import numpy as np
import pytest
from sklearn import config_context
from sklearn.utils._param_validation import InvalidParameterError

from skunroll.decoding import bpdn_decode, l1_min_decode, lasso_decode
from skunroll.exceptions import DeviceFallbackWarning
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.sensing import GaussianMeasurement, L1AEEncoder
from skunroll.utils._device import inference_device

X = np.abs(np.random.RandomState(0).normal(size=(40, 12)))


@pytest.mark.parametrize("make", [
    lambda: GaussianMeasurement(n_components=3, decoder="simplex"),
    lambda: L1AEEncoder(n_components=3, decoder="simplex", max_epochs=1),
])
def test_skip_parameter_validation_is_honoured(make):
    with pytest.raises(InvalidParameterError, match="decoder"):
        make().fit(X)
    # scikit-learn's switch turns our parameter validation off too: the bad
    # value then reaches the code that uses it, which names it in a plain ValueError.
    with config_context(skip_parameter_validation=True):
        with pytest.raises(ValueError, match="simplex") as caught:
            make().fit(X)
    assert type(caught.value) is ValueError


def test_nested_estimators_are_validated_by_their_own_fit():
    Y = (X[:, :6] > 1).astype(int)
    clf = CompressedLabelClassifier(GaussianMeasurement(n_components=-1))
    with pytest.raises(InvalidParameterError, match="n_components"):
        clf.fit(X, Y)


def test_decoding_functions_default_to_the_estimators_device():
    estimator_default = inspect.signature(GaussianMeasurement).parameters["device"].default
    for function in (l1_min_decode, lasso_decode, bpdn_decode):
        assert inspect.signature(function).parameters["device"].default == estimator_default


def test_device_fallback_uses_the_package_warning_class(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.warns(DeviceFallbackWarning, match="running inference on the CPU"):
        assert inference_device("cuda").type == "cpu"
