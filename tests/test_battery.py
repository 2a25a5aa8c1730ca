"""Bad input, persistence and determinism: one battery for every estimator."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
)

from skunroll.sensing._base import MeasurementMixin

from ._estimators import battery_instances, estimator_id, make_data

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = battery_instances()


def _y(X):
    return np.arange(X.shape[0]) % 2


def fit(estimator, X):
    """fit with labels for classifiers, without for transformers."""
    return estimator.fit(X, _y(X)) if is_classifier(estimator) else estimator.fit(X)


def output(estimator, X):
    """What a fitted estimator gives for X: transform, class probabilities or scores."""
    for method in ("transform", "predict_proba", "decision_function"):
        if hasattr(estimator, method):
            return getattr(estimator, method)(X)


def _fitted_state(estimator):
    return {key: value for key, value in vars(estimator).items() if key.endswith("_")}


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, dict):
            _assert_same_state(value, after[key])
        elif isinstance(value, BaseEstimator):  # fitted parts of a meta-estimator
            _assert_same_state(_fitted_state(value), _fitted_state(after[key]))
        elif sp.issparse(value):
            np.testing.assert_array_equal(value.toarray(), after[key].toarray(), err_msg=key)
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
        fit(estimator, X)
    assert not _fitted_state(estimator), "a failed fit left fitted attributes behind"
    fit(estimator, make_data())
    with pytest.raises(ValueError, match=word):
        output(estimator, X)


def test_wrong_number_of_features_at_transform(estimator):
    fit(estimator, make_data(n_features=12))
    with pytest.raises(ValueError, match="features"):
        output(estimator, make_data(n_features=11))


@pytest.mark.parametrize("shape", [(0, 12), (10, 0)])
def test_empty_input(estimator, shape):
    with pytest.raises(ValueError, match="sample|feature"):
        fit(estimator, np.empty(shape))


def test_negative_input_where_nonnegative_required(estimator):
    if not estimator.__sklearn_tags__().input_tags.positive_only:
        pytest.skip("this estimator accepts negative input")
    X = make_data()
    X[0, 0] = -0.5
    with pytest.raises(ValueError, match="Negative values"):
        fit(estimator, X)
    fit(estimator, make_data())
    with pytest.raises(ValueError, match="Negative values"):
        output(estimator, X)


def test_one_dimensional_input(estimator):
    with pytest.raises(ValueError, match="2D"):
        fit(estimator, make_data()[0])


def test_object_dtype_input(estimator):
    X = make_data().astype(object)
    X[0, 0] = "a string"
    with pytest.raises((ValueError, TypeError)):
        fit(estimator, X)


# Training in float32 through eigenvalue gradients amplifies the rounding
# differences of the sparse and dense kernels: the learned sketch's
# first-epoch losses agree to 1e-6 (tests/test_learned_sketch.py), its outputs
# after 3 epochs to about 1e-3 (its transform of sparse and dense input with
# one fitted sketch agrees to 1e-15, checked below).
SPARSE_DENSE_TOLERANCE = {"LearnedSketchLowRank": {"rtol": 2e-2, "atol": 2e-3}}


@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array])
def test_sparse_input_equals_dense(estimator, to_sparse):
    X = make_data()
    dense = fit(clone(estimator), X)
    sparse = fit(clone(estimator), to_sparse(X))
    tolerance = SPARSE_DENSE_TOLERANCE.get(type(estimator).__name__, {"rtol": 1e-5, "atol": 1e-6})
    np.testing.assert_allclose(output(sparse, to_sparse(X)), output(dense, X), **tolerance)
    np.testing.assert_allclose(output(dense, to_sparse(X)), output(dense, X), rtol=1e-5,
                               atol=1e-6)


def test_unfitted_use_raises(estimator):
    X = make_data()
    for method in ("transform", "inverse_transform", "score", "predict", "predict_proba"):
        if hasattr(estimator, method):
            with pytest.raises(NotFittedError):
                if method == "score" and is_classifier(estimator):
                    estimator.score(X, _y(X))
                else:
                    getattr(estimator, method)(X)


@pytest.mark.parametrize("params", [{"n_components": 0}, {"n_components": -3}, {"n_steps": 0},
                                    {"max_epochs": -1}, {"batch_size": 0},
                                    {"learning_rate": -1.0}, {"validation_fraction": 1.5}])
def test_bad_parameters(estimator, params):
    params = {key: value for key, value in params.items() if key in estimator.get_params()}
    if not params:
        pytest.skip("parameter not used by this estimator")
    with pytest.raises(ValueError, match=next(iter(params))):
        fit(estimator.set_params(**params), make_data())
    assert not _fitted_state(estimator)


def test_more_components_than_features(estimator):
    if not isinstance(estimator, MeasurementMixin):
        pytest.skip("overcomplete (more components than features) is allowed")
    with pytest.raises(ValueError, match="n_components=13 must be <= n_features=12"):
        fit(estimator.set_params(n_components=13), make_data(n_features=12))
    # the input was valid, so fit had begun (n_features_in_): it must be rolled back
    assert not _fitted_state(estimator)


def test_failed_refit_keeps_previous_state(estimator):
    fit(estimator, make_data())
    before = _fitted_state(estimator)
    X = make_data()
    X[0, 0] = np.nan
    with pytest.raises(ValueError):
        fit(estimator, X)
    _assert_same_state(before, _fitted_state(estimator))


def test_pickle_round_trip_gives_identical_transform(estimator):
    X = make_data()
    fit(estimator, X)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(output(restored, X), output(estimator, X))
    for value in _fitted_state(restored).values():
        values = value.values() if isinstance(value, dict) else [value]
        assert not any(isinstance(v, torch.Tensor) for v in values), "fitted state must be numpy"


def test_same_random_state_same_result(estimator):
    X = make_data()
    # A meta-estimator without random_state is seeded through its parts.
    seed = {"random_state": 7} if "random_state" in estimator.get_params() else {}
    first = fit(clone(estimator).set_params(**seed), X)
    second = fit(clone(estimator).set_params(**seed), X)
    _assert_same_state(_fitted_state(first), _fitted_state(second))
    np.testing.assert_array_equal(output(first, X), output(second, X))


def test_clone_is_unfitted(estimator):
    fitted = fit(estimator, make_data())
    assert not _fitted_state(clone(fitted))


@pytest.mark.parametrize("check", [check_set_output_transform, check_set_output_transform_pandas,
                                   check_global_output_transform_pandas])
def test_set_output(estimator, check):
    pytest.importorskip("pandas")
    if not hasattr(estimator, "transform"):
        pytest.skip("not a transformer")
    # scikit-learn's own data (5 features): back to the common checks' p x 1 matrices.
    if "matrix_shape" in estimator.get_params():
        estimator.set_params(matrix_shape=(-1, 1))
    check(type(estimator).__name__, estimator)


def test_feature_names_out(estimator):
    if not hasattr(estimator, "transform"):
        pytest.skip("not a transformer")
    fit(estimator, make_data())
    names = estimator.get_feature_names_out()
    n_out = output(estimator, make_data()).shape[1]
    if isinstance(estimator, OneToOneFeatureMixin):  # outputs are the input's entries, denoised
        assert list(names) == [f"x{i}" for i in range(n_out)]
    else:
        prefix = type(estimator).__name__.lower()
        assert list(names) == [f"{prefix}{i}" for i in range(n_out)]


def test_joblib_round_trip(estimator, tmp_path):
    X = make_data()
    fit(estimator, X)
    path = tmp_path / "estimator.joblib"
    joblib.dump(estimator, path)
    np.testing.assert_array_equal(output(joblib.load(path), X), output(estimator, X))


def _on_device(estimator, device):
    params = estimator.get_params()
    return estimator.set_params(**{key: device for key in params
                                   if key == "device" or key.endswith("__device")})


@pytest.mark.gpu
def test_fits_on_cuda_and_keeps_cpu_state(estimator):
    # Every trained estimator (and the batched decoder inside the measurement
    # ones) runs on CUDA when ``device`` says so, and keeps CPU numpy state.
    X = make_data()
    gpu = _on_device(clone(estimator), "cuda")
    if "cuda" not in gpu.get_params().values():
        pytest.skip("no device parameter")
    fit(gpu, X)
    for key, value in _fitted_state(gpu).items():
        assert not isinstance(value, torch.Tensor), key
    cpu = _on_device(pickle.loads(pickle.dumps(gpu)), "cpu")
    np.testing.assert_allclose(
        np.asarray(output(gpu, X), dtype=float), np.asarray(output(cpu, X), dtype=float),
        rtol=1e-4, atol=1e-5,
    )


def _trains(estimator):
    """Whether fit runs the shared training loop (not a fixed or closed-form state)."""
    if "max_epochs" not in estimator.get_params():
        return False
    return getattr(estimator, "sketch", "learned") not in ("random", "gaussian", "tensor")


def _partial_fit(estimator, X):
    return (estimator.partial_fit(X, _y(X), classes=[0, 1]) if is_classifier(estimator)
            else estimator.partial_fit(X))


# Estimators whose start reads the data (a dictionary learned from X, the
# sketch's Gram matrix, a threshold from the data's coherence, a step size
# from its scale): streamed, they start from the first chunk, not from all the
# rows, so only the determinism of the stream is checked for them.
_DATA_DRIVEN_START = {"DeepL0Encoder", "DeepL0Classifier", "LearnedSketchLowRank",
                      "LISTAEncoder", "ReLUDictionaryAutoencoder", "SimpleAEEncoder"}


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS if _trains(e)], ids=estimator_id)
def test_partial_fit_on_chunks_takes_the_steps_of_one_epoch(estimator):
    params = dict(max_epochs=1, early_stopping=False, shuffle=False, batch_size=8,
                  lr_schedule="constant")
    X = make_data(n_samples=40)
    chunks = [X[start:start + 8] for start in range(0, 40, 8)]
    if estimator._accept_sparse:  # sparse chunks stay sparse
        X, chunks = sp.csr_matrix(X), [sp.csr_matrix(chunk) for chunk in chunks]
    stream = clone(estimator).set_params(**params)
    for chunk in chunks:
        _partial_fit(stream, chunk)
    assert stream.n_iter_ == 5 and stream.n_optimizer_steps_ == 5 and len(stream.loss_curve_) == 5
    name = type(estimator).__name__
    random_sketch = name == "LearnedSketchLowRank" and estimator.init == "random"
    if name in _DATA_DRIVEN_START and not random_sketch:
        # Started from the first chunk: only the determinism of the stream is checked here.
        again = clone(estimator).set_params(**params)
        for chunk in chunks:
            _partial_fit(again, chunk)
        _assert_same_state(_fitted_state(again), _fitted_state(stream))
        return
    whole = fit(clone(estimator).set_params(**params), X)
    assert whole.n_optimizer_steps_ == 5
    _assert_close_state(_fitted_state(whole), _fitted_state(stream),
                        skip=("loss_curve_", "learning_rate_curve_", "best_loss_", "n_iter_"))


def _assert_close_state(expected, actual, skip=()):
    for key, value in expected.items():
        if key in skip:
            continue
        other = actual[key]
        if isinstance(value, dict):
            _assert_close_state(value, other)
        elif sp.issparse(value):
            np.testing.assert_allclose(other.toarray(), value.toarray(), rtol=1e-5, atol=1e-6,
                                       err_msg=key)
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            np.testing.assert_allclose(other, value, rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS if _trains(e)], ids=estimator_id)
def test_partial_fit_continues_and_refuses_a_changed_network(estimator):
    X = make_data(n_samples=40)
    streamed = clone(estimator).set_params(shuffle=True)
    _partial_fit(streamed, X[:20])
    state = _fitted_state(streamed)
    _partial_fit(streamed, X[20:])
    assert streamed.n_iter_ == 2 and streamed.n_optimizer_steps_ > 0
    # The second chunk moved the weights.
    with pytest.raises(AssertionError):
        _assert_same_state(state, _fitted_state(streamed))
    # The same seed and chunks give the same result.
    again = clone(estimator).set_params(shuffle=True)
    _partial_fit(again, X[:20])
    _partial_fit(again, X[20:])
    _assert_same_state(_fitted_state(streamed), _fitted_state(again))
    # Pickled between chunks, the stream continues the same.
    resumed = clone(estimator).set_params(shuffle=True)
    _partial_fit(resumed, X[:20])
    resumed = pickle.loads(pickle.dumps(resumed))
    _partial_fit(resumed, X[20:])
    _assert_same_state(_fitted_state(streamed), _fitted_state(resumed))
    with pytest.raises(ValueError, match="n_features|features"):
        _partial_fit(streamed, X[:, :-1])
