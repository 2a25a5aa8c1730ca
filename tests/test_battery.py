"""Bad input, persistence and determinism: one battery for every estimator."""

import pickle
import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
)

from ._estimators import estimator_id, fast_instances, make_data

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = fast_instances()


def _fitted_state(estimator):
    return {key: value for key, value in vars(estimator).items() if key.endswith("_")}


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, dict):
            _assert_same_state(value, after[key])
        elif isinstance(value, (np.ndarray, list, tuple)):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(after[key]), err_msg=key)
        else:
            assert value == after[key], key


@pytest.fixture(params=ESTIMATORS, ids=estimator_id)
def estimator(request):
    return clone(request.param)


@pytest.mark.parametrize("bad_value, word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_input_is_rejected(estimator, bad_value, word):
    X = make_data()
    X[3, 2] = bad_value
    with pytest.raises(ValueError, match=word):
        estimator.fit(X)
    assert not _fitted_state(estimator), "a failed fit left fitted attributes behind"
    estimator.fit(make_data())
    with pytest.raises(ValueError, match=word):
        estimator.transform(X)


def test_wrong_number_of_features_at_transform(estimator):
    estimator.fit(make_data(n_features=12))
    with pytest.raises(ValueError, match="features"):
        estimator.transform(make_data(n_features=11))


@pytest.mark.parametrize("shape", [(0, 12), (10, 0)])
def test_empty_input(estimator, shape):
    with pytest.raises(ValueError, match="sample|feature"):
        estimator.fit(np.empty(shape))


def test_negative_input_where_nonnegative_required(estimator):
    if not estimator.__sklearn_tags__().input_tags.positive_only:
        pytest.skip("this estimator accepts negative input")
    X = make_data()
    X[0, 0] = -0.5
    with pytest.raises(ValueError, match="Negative values"):
        estimator.fit(X)
    estimator.fit(make_data())
    with pytest.raises(ValueError, match="Negative values"):
        estimator.transform(X)


def test_one_dimensional_input(estimator):
    with pytest.raises(ValueError, match="2D"):
        estimator.fit(make_data()[0])


def test_object_dtype_input(estimator):
    X = make_data().astype(object)
    X[0, 0] = "a string"
    with pytest.raises((ValueError, TypeError)):
        estimator.fit(X)


@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array])
def test_sparse_input_equals_dense(estimator, to_sparse):
    X = make_data()
    dense = clone(estimator).fit(X)
    sparse = clone(estimator).fit(to_sparse(X))
    np.testing.assert_allclose(sparse.transform(to_sparse(X)), dense.transform(X), rtol=1e-5,
                               atol=1e-6)


def test_unfitted_use_raises(estimator):
    X = make_data()
    for method in ("transform", "inverse_transform", "score"):
        if hasattr(estimator, method):
            with pytest.raises(NotFittedError):
                getattr(estimator, method)(X)


@pytest.mark.parametrize("params", [{"n_components": 0}, {"n_components": -3}, {"n_steps": 0},
                                    {"max_epochs": 0}, {"batch_size": 0},
                                    {"learning_rate": -1.0}, {"validation_fraction": 1.5}])
def test_bad_parameters(estimator, params):
    params = {key: value for key, value in params.items() if key in estimator.get_params()}
    if not params:
        pytest.skip("parameter not used by this estimator")
    with pytest.raises(ValueError, match=next(iter(params))):
        estimator.set_params(**params).fit(make_data())
    assert not _fitted_state(estimator)


def test_more_components_than_features(estimator):
    if "n_components" not in estimator.get_params():
        pytest.skip("no n_components")
    with pytest.raises(ValueError, match="n_components=13 must be <= n_features=12"):
        estimator.set_params(n_components=13).fit(make_data(n_features=12))
    # the input was valid, so fit had begun (n_features_in_): it must be rolled back
    assert not _fitted_state(estimator)


def test_failed_refit_keeps_previous_state(estimator):
    estimator.fit(make_data())
    before = _fitted_state(estimator)
    X = make_data()
    X[0, 0] = np.nan
    with pytest.raises(ValueError):
        estimator.fit(X)
    _assert_same_state(before, _fitted_state(estimator))


def test_pickle_round_trip_gives_identical_transform(estimator):
    X = make_data()
    estimator.fit(X)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.transform(X), estimator.transform(X))
    for value in _fitted_state(restored).values():
        values = value.values() if isinstance(value, dict) else [value]
        assert not any(isinstance(v, torch.Tensor) for v in values), "fitted state must be numpy"


def test_same_random_state_same_result(estimator):
    X = make_data()
    first = clone(estimator).set_params(random_state=7).fit(X)
    second = clone(estimator).set_params(random_state=7).fit(X)
    _assert_same_state(_fitted_state(first), _fitted_state(second))
    np.testing.assert_array_equal(first.transform(X), second.transform(X))


def test_clone_is_unfitted(estimator):
    fitted = estimator.fit(make_data())
    assert not _fitted_state(clone(fitted))


@pytest.mark.parametrize("check", [check_set_output_transform, check_set_output_transform_pandas,
                                   check_global_output_transform_pandas])
def test_set_output(estimator, check):
    pytest.importorskip("pandas")
    check(type(estimator).__name__, estimator)


def test_feature_names_out(estimator):
    estimator.fit(make_data())
    names = estimator.get_feature_names_out()
    prefix = type(estimator).__name__.lower()
    assert list(names) == [f"{prefix}{i}" for i in range(estimator.transform(make_data()).shape[1])]


def test_joblib_round_trip(estimator, tmp_path):
    X = make_data()
    estimator.fit(X)
    path = tmp_path / "estimator.joblib"
    joblib.dump(estimator, path)
    np.testing.assert_array_equal(joblib.load(path).transform(X), estimator.transform(X))
