"""ReLUDictionaryAutoencoder: the model, the biases, the paper's claims in small."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skunroll.datasets import make_nonnegative_sparse_code
from skunroll.metrics import dictionary_recovery_error, support_precision_recall
from skunroll.sparse_coding import (
    ReLUDictionaryAutoencoder,
    TiedReLUAutoencoder,
    auto_bias,
    data_coherence,
    relu_autoencoder_loss,
    rms_coherence,
    support_bias_scale,
)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def small_model_data(n_samples=600, n_features=30, n_components=45, n_nonzero_coefs=2, seed=0):
    return make_nonnegative_sparse_code(n_samples, n_features, n_components,
                                        n_nonzero_coefs=n_nonzero_coefs, random_state=seed)


def perturbed(D, radius, seed=0):
    """Unit atoms at distance ``radius`` (before renormalising) from those of ``D``."""
    rng = np.random.RandomState(seed)
    noise = rng.normal(size=D.shape)
    noise *= radius / np.linalg.norm(noise, axis=1, keepdims=True)
    W = D + noise
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def column_distance(D, W):
    """Largest distance between corresponding atoms (no matching needed)."""
    return float(np.max(np.linalg.norm(D - W, axis=1)))


# ----------------------------------------------------------------- the model
def test_transform_and_inverse_transform_follow_the_model():
    Y, D, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=2, random_state=0).fit(Y)
    W, eps = model.components_.astype(np.float64), model.bias_
    codes = model.transform(Y)
    np.testing.assert_allclose(codes, np.maximum(Y @ W.T - eps, 0), atol=1e-12)
    np.testing.assert_allclose(model.inverse_transform(codes), codes @ W, atol=1e-12)
    assert codes.min() >= 0
    # score is minus the training loss, and the torch loss agrees with numpy.
    expected = np.mean(np.sum((Y - codes @ W) ** 2, axis=1))
    assert model.score(Y) == pytest.approx(-expected, rel=1e-10)
    torch_loss = relu_autoencoder_loss(torch.as_tensor(W), torch.as_tensor(Y), eps)
    assert float(torch_loss) == pytest.approx(expected, rel=1e-10)


def test_module_forward_is_tied():
    W = torch.randn(5, 3, dtype=torch.float64)
    module = TiedReLUAutoencoder(W, 0.1)
    y = torch.randn(4, 3, dtype=torch.float64)
    expected = torch.relu(y @ W.T - 0.1) @ W
    torch.testing.assert_close(module(y), expected)
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    learned = TiedReLUAutoencoder(W, 0.1, learn_bias=True)
    assert sorted(name for name, _ in learned.named_parameters()) == ["bias", "weight"]


def test_atoms_have_unit_norm_after_fit_unless_told_otherwise():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=3, random_state=0).fit(Y)
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1, atol=1e-5)
    free = ReLUDictionaryAutoencoder(45, max_epochs=3, unit_norm_atoms=False,
                                     random_state=0).fit(Y)
    assert np.ptp(np.linalg.norm(free.components_, axis=1)) > 1e-3


def test_n_components_defaults_to_n_features():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(max_epochs=1, random_state=0).fit(Y)
    assert model.components_.shape == (30, 30)
    assert model.get_feature_names_out()[0] == "reludictionaryautoencoder0"


# ------------------------------------------------------------------- biases
def test_rms_coherence_matches_the_gram_matrix():
    rng = np.random.RandomState(0)
    D = rng.normal(size=(40, 12)) * rng.uniform(0.5, 2, size=(40, 1))
    unit = D / np.linalg.norm(D, axis=1, keepdims=True)
    gram = unit @ unit.T
    off_diagonal = gram[~np.eye(40, dtype=bool)]
    assert rms_coherence(D) == pytest.approx(np.sqrt(np.mean(off_diagonal**2)), rel=1e-10)
    assert rms_coherence(D[:1]) == 0.0
    # Random unit atoms in R^n: about 1 / sqrt(n).
    assert rms_coherence(rng.normal(size=(400, 100))) == pytest.approx(0.1, rel=0.05)


def test_data_coherence_counts_the_directions_the_data_spans():
    rng = np.random.RandomState(0)
    # Isotropic data in R^100: that of random atoms, 1 / sqrt(100).
    assert data_coherence(rng.normal(size=(2000, 100))) == pytest.approx(0.1, rel=0.05)
    # The same energy in 4 of the 100 directions: 1 / sqrt(4).
    low_rank = rng.normal(size=(2000, 4)) @ np.linalg.qr(rng.normal(size=(100, 4)))[0].T
    assert data_coherence(low_rank) == pytest.approx(0.5, rel=0.05)
    # Exactly the formula on the (evenly spaced) rows it reads, sparse or dense.
    X = rng.normal(size=(50, 7))
    gram = X @ X.T
    off = gram[~np.eye(50, dtype=bool)]
    expected = np.sqrt(np.mean(off**2)) / np.mean(np.diag(gram))
    assert data_coherence(X) == pytest.approx(expected, rel=1e-12)
    assert data_coherence(sp.csr_matrix(X)) == pytest.approx(expected, rel=1e-12)
    assert data_coherence(X[:1]) == 0.0 and data_coherence(np.zeros((5, 3))) == 0.0


def test_string_biases_follow_their_formulas():
    Y, D, _ = small_model_data()
    sigma = np.sqrt(np.mean(np.sum(Y**2, axis=1))) * data_coherence(Y)
    fit = dict(n_components=45, max_epochs=1, random_state=0, early_stopping=False)
    assert ReLUDictionaryAutoencoder(**fit).fit(Y).bias_ == pytest.approx(1.2 * sigma)
    support = ReLUDictionaryAutoencoder(bias="support", **fit).fit(Y)
    assert support.bias_ == pytest.approx(math.sqrt(2 * math.log(45)) * sigma)
    assert support_bias_scale(45) == pytest.approx(math.sqrt(2 * math.log(45)))
    given = ReLUDictionaryAutoencoder(coherence=0.2, **fit).fit(Y)
    assert given.bias_ == pytest.approx(1.2 * 0.2 * sigma / data_coherence(Y))
    with_dictionary = ReLUDictionaryAutoencoder(dictionary=D, **fit).fit(Y)
    expected = 1.2 * rms_coherence(D) * np.sqrt(np.mean(np.sum(Y**2, axis=1)))
    assert with_dictionary.bias_ == pytest.approx(expected)
    assert ReLUDictionaryAutoencoder(bias=0.25, **fit).fit(Y).bias_ == 0.25
    assert auto_bias(sp.csr_matrix(Y), 0.1) == pytest.approx(auto_bias(Y, 0.1))


def test_learned_bias_is_trained_and_clamped_at_zero():
    Y, _, _ = small_model_data()
    start = ReLUDictionaryAutoencoder(45, max_epochs=0).fit(Y).bias_
    short = ReLUDictionaryAutoencoder(45, bias="learned", max_epochs=3, random_state=0).fit(Y)
    assert 0 < short.bias_ < start
    # The reconstruction loss pushes the threshold below 0 (-0.05 unclamped here):
    # the clamp holds it at 0.
    model = ReLUDictionaryAutoencoder(45, bias="learned", learning_rate=0.05, max_epochs=40,
                                      early_stopping=False, random_state=0).fit(Y)
    assert model.bias_ == 0.0


def test_fixed_bias_is_stored_in_float64():
    Y, _, _ = small_model_data()
    assert ReLUDictionaryAutoencoder(45, bias=0.1, max_epochs=1).fit(Y).bias_ == 0.1


def test_max_epochs_zero_keeps_the_given_dictionary():
    Y, D, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(bias="support", dictionary=2 * D, max_epochs=0).fit(Y)
    np.testing.assert_allclose(model.components_, D, atol=1e-6)
    assert model.n_iter_ == 0 and model.loss_curve_ == []
    assert model.components_.shape == (45, 30)  # n_components taken from the dictionary


# ------------------------------------------------- Theorem 3.1, small version
def test_support_bias_recovers_the_support_at_the_true_dictionary():
    # W = A*^T: with the "support" threshold every off-support unit is off and
    # every true unit on, for most samples (Theorem 3.1).
    Y, D, codes = make_nonnegative_sparse_code(1000, 400, 800, random_state=0)
    model = ReLUDictionaryAutoencoder(800, bias="support", dictionary=D, max_epochs=0).fit(Y)
    np.testing.assert_allclose(model.components_, D, atol=1e-6)
    hidden = model.transform(Y)
    exact = np.all((hidden > 0) == (codes > 0), axis=1)
    assert exact.mean() > 0.7
    precision, recall = support_precision_recall(codes, hidden)
    assert precision > 0.95 and recall > 0.95


def test_auto_bias_keeps_the_true_support_on():
    # The learning threshold trades precision for recall: every true unit on
    # for most samples, most other units off.
    Y, D, codes = make_nonnegative_sparse_code(1000, 200, 400, random_state=0)
    model = ReLUDictionaryAutoencoder(400, dictionary=D, max_epochs=0).fit(Y)
    hidden = model.transform(Y)
    assert np.mean(np.all((hidden > 0) | (codes == 0), axis=1)) > 0.95
    false_on = np.sum((hidden > 0) & (codes == 0)) / np.sum(codes == 0)
    assert false_on < 0.15


# ------------------------------------------------------------- recovery, small
def test_training_from_a_small_ball_around_the_dictionary_stays_close():
    Y, D, _ = make_nonnegative_sparse_code(3000, 60, 90, n_nonzero_coefs=3, random_state=1)
    start = perturbed(D, 0.4)
    model = ReLUDictionaryAutoencoder(90, dictionary=start, random_state=0).fit(Y)
    start_error = dictionary_recovery_error(D, start)
    end_error = dictionary_recovery_error(D, model.components_)
    assert end_error < start_error / 2
    assert column_distance(D, model.components_) < column_distance(D, start)
    Yt = torch.as_tensor(Y)
    loss_start = relu_autoencoder_loss(torch.as_tensor(start), Yt, model.bias_)
    loss_end = relu_autoencoder_loss(torch.as_tensor(model.components_, dtype=torch.float64),
                                     Yt, model.bias_)
    assert float(loss_end) < float(loss_start)
    # A* itself is not exactly stationary at this size (the gradient only
    # vanishes as h grows): started there, training stays close.
    at_truth = ReLUDictionaryAutoencoder(90, dictionary=D, random_state=0).fit(Y)
    assert dictionary_recovery_error(D, at_truth.components_) < 0.03


def test_training_from_random_atoms_recovers_an_easy_dictionary():
    # 60 x 90, 3-sparse codes in [1, 2]: a random dictionary scores about 0.66.
    Y, D, _ = make_nonnegative_sparse_code(3000, 60, 90, n_nonzero_coefs=3, random_state=0)
    model = ReLUDictionaryAutoencoder(90, random_state=0).fit(Y)
    # Measured 0.030 (seeds 1 and 2 of the model: 0.052, 0.045).
    assert dictionary_recovery_error(D, model.components_) < 0.08
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 2


def test_init_from_data_starts_at_normalised_samples():
    Y, _, _ = small_model_data()
    Y[:5] = 0  # zero samples cannot give directions
    model = ReLUDictionaryAutoencoder(45, init="data", max_epochs=0, random_state=0).fit(Y)
    unit = Y[5:] / np.linalg.norm(Y[5:], axis=1, keepdims=True)
    # Every atom is one of the normalised samples (or random where a zero sample was drawn).
    best = np.max(model.components_ @ unit.T, axis=1)
    assert np.mean(best > 1 - 1e-5) > 0.8
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1, atol=1e-5)


# ---------------------------------------------------------------- the contract
def test_sparse_input_gives_the_same_fit_and_is_densified_a_batch_at_a_time(densified_rows):
    Y, _, _ = small_model_data()
    dense = ReLUDictionaryAutoencoder(45, init="data", max_epochs=3, batch_size=64,
                                      random_state=0).fit(Y)
    Y_sparse = sp.csr_matrix(Y)
    densified_rows.clear()
    model = ReLUDictionaryAutoencoder(45, init="data", max_epochs=3, batch_size=64,
                                      random_state=0).fit(Y_sparse)
    assert densified_rows and max(densified_rows) <= 64
    np.testing.assert_allclose(model.components_, dense.components_, atol=1e-5)
    densified_rows.clear()
    codes = model.transform(Y_sparse)
    assert not densified_rows
    score = model.score(Y_sparse)
    assert max(densified_rows) <= 1024  # score densifies chunks of rows
    np.testing.assert_allclose(codes, model.transform(Y), atol=1e-10)
    assert score == pytest.approx(model.score(Y), rel=1e-8)


def test_float32_input_gives_float32_codes():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=1, random_state=0).fit(Y.astype(np.float32))
    assert model.transform(Y.astype(np.float32)).dtype == np.float32
    assert model.transform(Y).dtype == np.float64
    assert model.components_.dtype == np.float32


def test_warm_start_continues_and_refuses_a_new_structure():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=2, early_stopping=False, warm_start=True,
                                      random_state=0).fit(Y)
    first = model.components_.copy()
    model.fit(Y)
    assert model.n_iter_ == 4 and not np.allclose(model.components_, first)
    for changed in ({"bias": "learned"}, {"bias": 0.05}, {"n_components": 20}):
        model.set_params(**changed)
        with pytest.raises(ValueError, match="warm_start"):
            model.fit(Y)
        assert model.n_iter_ == 4
        model.set_params(bias="auto", n_components=45)
    # None resolves to n_features: the same network.
    model = ReLUDictionaryAutoencoder(max_epochs=1, warm_start=True, random_state=0).fit(Y)
    model.set_params(n_components=30).fit(Y)
    assert model.n_iter_ == 2


def test_grid_search_over_the_number_of_atoms():
    Y, _, _ = small_model_data()
    search = GridSearchCV(ReLUDictionaryAutoencoder(max_epochs=5, random_state=0),
                          {"n_components": [10, 45]}, cv=2).fit(Y)
    # More atoms reconstruct better.
    assert search.best_params_ == {"n_components": 45}


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"bias": "theorem"}, InvalidParameterError, "bias"),
        ({"bias": -0.1}, InvalidParameterError, "bias"),
        ({"coherence": 1.5}, InvalidParameterError, "coherence"),
        ({"init": "pca"}, InvalidParameterError, "init"),
        ({"dictionary": np.ones((4, 30))}, ValueError, r"dictionary has shape \(4, 30\)"),
        ({"dictionary": np.zeros((45, 30))}, ValueError, "all-zero atom"),
    ],
)
def test_bad_parameters_are_named_and_leave_no_fitted_state(params, error, match):
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=1, **params)
    with pytest.raises(error, match=match):
        model.fit(Y)
    assert not hasattr(model, "components_")
    assert not hasattr(model, "n_features_in_")


def test_inverse_transform_checks_the_code_width():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=1, random_state=0).fit(Y)
    with pytest.raises(ValueError, match="expects 45 codes"):
        model.inverse_transform(np.ones((2, 44)))


@pytest.mark.gpu
def test_fits_on_cuda_and_stores_cpu_arrays():
    Y, _, _ = small_model_data()
    model = ReLUDictionaryAutoencoder(45, max_epochs=2, device="cuda", random_state=0).fit(Y)
    assert isinstance(model.components_, np.ndarray)
    assert model.transform(Y).shape == (600, 45)


def test_dead_atoms_are_restarted_from_residuals_unless_kept():
    # Data in 3 of 40 directions: the auto threshold (the data's coherence,
    # about 1/sqrt(3)) is far above what random atoms see (about 1/sqrt(40)),
    # so every unit starts dead and gets no gradient.
    rng = np.random.RandomState(0)
    basis = np.linalg.qr(rng.normal(size=(40, 3)))[0].T
    Y = np.abs(rng.normal(size=(1200, 3))) @ basis
    fit = dict(n_components=12, max_epochs=20, early_stopping=False, random_state=0)
    start = ReLUDictionaryAutoencoder(**{**fit, "max_epochs": 0}).fit(Y)
    assert np.all(start.transform(Y) == 0)
    # Kept dead, the fit learns nothing, and says so with the remedy.
    with pytest.warns(ConvergenceWarning, match="learned \\(almost\\) nothing.*"
                      "dead atoms are kept.*dead_atoms='resample'"):
        kept = ReLUDictionaryAutoencoder(dead_atoms="keep", **fit).fit(Y)
    np.testing.assert_allclose(kept.components_, start.components_, atol=1e-6)
    with warnings.catch_warnings():
        # 20 epochs leave the restarted atoms still improving (and their codes at
        # about one nonzero per row).
        warnings.simplefilter("ignore", ConvergenceWarning)
        restarted = ReLUDictionaryAutoencoder(**fit).fit(Y)
    assert np.mean(np.any(restarted.transform(Y) > 0, axis=0)) > 0.5
    assert -restarted.score(Y) < 0.8 * -kept.score(Y)  # measured 1.93 vs 2.87


def test_a_fit_that_learns_codes_says_nothing_about_dead_units():
    Y, _, _ = make_nonnegative_sparse_code(400, 30, 20, n_nonzero_coefs=3, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = ReLUDictionaryAutoencoder(20, max_epochs=5, random_state=0).fit(Y)
    assert (model.transform(Y) != 0).sum(axis=1).mean() >= 1
    assert not [w for w in caught if "learned (almost) nothing" in str(w.message)]
