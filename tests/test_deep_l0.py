"""DeepL0Encoder / DeepL0Classifier, their neurons and the iterative solvers."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline

from skunroll.metrics import normalized_code_error, support_error
from skunroll.sparse_coding import (
    DeepL0Classifier,
    DeepL0Encoder,
    _modules,
    helu,
    helu_sigma,
    iht,
    keep_largest,
    m_sparse_iht,
    optimal_codes,
)
from skunroll.sparse_coding._deep_l0_base import _learn_dictionary
from skunroll.sparse_coding._modules import UnrolledThresholdingNetwork

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data / 16
    return X - X.mean(axis=0)


def test_helu_sigma_is_eq_9_piecewise():
    sigma = 0.2
    u = torch.tensor([-2.0, -1.0, -0.9, -0.8, -0.5, 0.0, 0.5, 0.8, 0.85, 0.9, 1.0, 1.5])
    expected = []
    for value in u.tolist():
        if abs(value) >= 1:
            expected.append(value)
        elif abs(value) <= 1 - sigma:
            expected.append(0.0)
        elif value > 0:
            expected.append((value - 1 + sigma) / sigma)
        else:
            expected.append((value + 1 - sigma) / sigma)
    np.testing.assert_allclose(helu_sigma(u, sigma).numpy(), expected, atol=1e-6)
    assert helu_sigma(torch.tensor([0.9]), sigma).item() == pytest.approx(0.5)


def test_helu_sigma_tends_to_helu():
    u = torch.linspace(-3, 3, 10001)
    gaps = [float((helu_sigma(u, s) - helu(u)).abs().mean()) for s in (0.2, 0.02, 0.002)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3
    assert helu(torch.tensor([0.999, 1.0, -1.0, -0.5])).tolist() == [0.0, 1.0, -1.0, 0.0]


def test_threshold_masks_are_the_comparisons_bit_for_bit():
    bound = torch.tensor([0.8, 1.0, 1e-8])
    edges = []
    for b in bound.tolist():
        b = torch.tensor(b)
        edges += [b, torch.nextafter(b, torch.tensor(0.0)), torch.nextafter(b, torch.tensor(9.0)),
                  -b]
    columns = torch.stack(edges + [torch.tensor(0.0), torch.tensor(-0.0), torch.tensor(1e-45),
                                   torch.tensor(3e38)])
    values = columns[:, None].expand(-1, 3)
    for mask, expected in ((_modules._at_least(values, bound), values >= bound),
                           (_modules._above(values, bound), values > bound),
                           (_modules._at_least(values, 1), values >= 1),
                           (_modules._above(values, 0.8), values > 0.8)):
        assert mask.dtype == values.dtype
        assert torch.equal(mask, expected.to(values.dtype))


def _where_threshold(u, theta, sigma):
    """The thresholds as torch.where writes them (the reference of the float masks)."""
    if sigma is None:
        return torch.where(u.abs() >= theta, u, 0.0)
    v = u / theta
    magnitude = v.abs()
    ramp = torch.sign(v) * (magnitude - 1 + sigma) / sigma
    inner = torch.where(magnitude > 1 - sigma, ramp, torch.zeros_like(v))
    return theta * torch.where(magnitude >= 1, v, inner)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_helu_sigma_keeps_huge_and_infinite_inputs_as_where_does(dtype):
    big = torch.finfo(dtype).max
    values = torch.tensor([big, -big, torch.inf, -torch.inf, 0.9, -0.85, 0.5, 1.0], dtype=dtype)
    ours, reference = values.clone().requires_grad_(), values.clone().requires_grad_()
    out = helu_sigma(ours, 0.2)
    expected = _where_threshold(reference, torch.ones((), dtype=dtype), 0.2)
    assert torch.equal(out, expected)  # no NaN from inf * 0 in the masked-out ramp
    out.sum().backward()
    expected.sum().backward()
    assert torch.equal(ours.grad, reference.grad)


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")
def test_helu_sigma_goes_through_torch_func_transforms():
    u = torch.randn(6, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ones = torch.ones((), dtype=torch.float64)
    ours = torch.func.vmap(torch.func.grad(lambda x: helu_sigma(x, 0.2).sum()))(u)
    reference = torch.func.vmap(torch.func.grad(
        lambda x: _where_threshold(x, ones, 0.2).sum()))(u)
    assert torch.equal(ours, reference)


@pytest.mark.parametrize("sigma", [None, 0.2])
def test_thresholds_equal_where_in_values_and_gradients(sigma):
    generator = torch.Generator().manual_seed(0)
    theta = torch.rand(16, generator=generator) + 0.1
    u = torch.randn(64, 16, generator=generator)
    u[:4] = torch.stack([theta, -theta, 0.8 * theta, -0.9 * theta])  # on and near the kinks
    network = UnrolledThresholdingNetwork(torch.eye(16), torch.zeros(16, 16), theta, 1, "hard")
    network.sigma = sigma
    weights = torch.randn(64, 16, generator=generator)
    outputs, gradients = [], []
    for threshold in (network.threshold, lambda u_: _where_threshold(
            u_, network._thresholds_in_use(), sigma)):
        network.zero_grad()
        leaf = u.clone().requires_grad_()
        out = threshold(leaf)
        (out * weights).sum().backward()
        outputs.append(out.detach())
        theta_grad = network.thresholds.grad  # None for the exact HELU, in both
        gradients.append((leaf.grad, None if theta_grad is None else theta_grad.clone()))
    assert torch.equal(outputs[0], outputs[1])
    for ours, reference in zip(gradients[0], gradients[1], strict=True):
        assert (ours is None and reference is None) or torch.equal(ours, reference)
    assert sigma is not None or not torch.signbit(outputs[0][outputs[0] == 0]).any()  # no -0.0


def test_keep_largest_keeps_m_with_deterministic_ties_and_masked_gradient():
    u = torch.tensor([[0.5, -3.0, 0.5, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0]], requires_grad=True)
    out = keep_largest(u, 3)
    assert (out != 0).sum(dim=1).tolist() == [3, 3]
    # ties go to the lower index
    assert out[0].tolist() == [0.5, -3.0, 0.0, 2.0, 0.0]
    assert out[1].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    out.sum().backward()
    assert u.grad.tolist() == [[1, 1, 0, 1, 0], [1, 1, 1, 0, 0]]
    np.testing.assert_array_equal(keep_largest(u.detach().numpy(), 3), out.detach().numpy())


def _stages_saved_bytes(shrinkage, n_steps, checkpoint_steps, seed=0):
    """Bytes autograd keeps for a forward (by dtype, per (batch, p) float32) and the gradients."""
    torch.manual_seed(seed)
    batch, n_features, p = 16, 30, 40
    D = torch.randn(p, n_features) / np.sqrt(n_features)
    thresholds = None if shrinkage == "top-m" else torch.full((p,), 0.05)
    net = UnrolledThresholdingNetwork(
        0.1 * D, torch.eye(p) - 0.1 * D @ D.T, thresholds, n_steps, shrinkage,
        n_nonzero_coefs=5 if shrinkage == "top-m" else None, checkpoint_steps=checkpoint_steps)
    net.sigma = 0.5 if shrinkage == "hard" else None  # HELU_sigma, as while training
    x = torch.randn(batch, n_features)
    kept = {}

    def pack(tensor):
        kept[tensor.dtype] = kept.get(tensor.dtype, 0) + tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = ((net(x) - 0.1) ** 2).sum()
    loss.backward()
    unit = batch * p * 4
    return ({dtype: size / unit for dtype, size in kept.items()},
            {name: param.grad for name, param in net.named_parameters()})


@pytest.mark.parametrize("shrinkage", ["hard", "soft", "top-m"])
def test_checkpointed_stages_give_the_same_gradients_with_one_tensor_per_stage(shrinkage):
    _, expected = _stages_saved_bytes(shrinkage, 12, checkpoint_steps=False)
    _, gradients = _stages_saved_bytes(shrinkage, 12, checkpoint_steps=True)
    for name, grad in expected.items():
        assert torch.equal(gradients[name], grad), name
    growth = {}
    for checkpoint_steps in (False, True):
        shallow, _ = _stages_saved_bytes(shrinkage, 2, checkpoint_steps)
        deep, _ = _stages_saved_bytes(shrinkage, 12, checkpoint_steps)
        growth[checkpoint_steps] = {dtype: (deep[dtype] - shallow.get(dtype, 0)) / 10
                                    for dtype in deep}
    # Per extra stage autograd keeps the product's input, the pre-activation
    # and the thresholding's intermediates; checkpointed, the hooks see the
    # stage's input codes and the shared drive x W^T and thresholds (one
    # tensor each, counted each stage; the thresholds are p values, 1/16 of
    # a (16, p) batch), nothing else.
    assert sum(growth[False].values()) >= 5
    shared_thresholds = 0.0 if shrinkage == "top-m" else 1 / 16
    assert growth[True] == {torch.float32: 2.0 + shared_thresholds, **{
        dtype: 0.0 for dtype in growth[True] if dtype != torch.float32}}


@pytest.mark.parametrize("shrinkage", ["hard", "soft"])
def test_threshold_on_its_own_applies_the_networks_thresholds(shrinkage):
    thresholds = torch.tensor([0.5, -1.0, 2.0])
    net = UnrolledThresholdingNetwork(torch.eye(3), torch.zeros(3, 3), thresholds, 1, shrinkage)
    u = torch.tensor([[0.6, -0.9, 3.0], [-0.4, 1.5, -2.5]])
    expected = {"hard": [[0.6, 0.0, 3.0], [0.0, 1.5, -2.5]],
                "soft": [[0.1, 0.0, 1.0], [0.0, 0.5, -0.5]]}[shrinkage]
    torch.testing.assert_close(net.threshold(u), torch.tensor(expected))
    assert torch.equal(net.threshold(u), net(u))


def test_auto_checkpointing_switches_on_above_the_byte_budget(monkeypatch):
    small, _ = _stages_saved_bytes("hard", 12, checkpoint_steps="auto")
    monkeypatch.setattr(_modules, "CHECKPOINT_ABOVE_BYTES", 0)
    recomputed, _ = _stages_saved_bytes("hard", 12, checkpoint_steps="auto")
    assert small == _stages_saved_bytes("hard", 12, checkpoint_steps=False)[0]
    assert recomputed == _stages_saved_bytes("hard", 12, checkpoint_steps=True)[0]
    assert recomputed[torch.float32] < 0.5 * small[torch.float32]


def test_iht_with_orthonormal_dictionary_is_hard_thresholding():
    X = np.array([[2.0, 0.1, -3.0, 0.5], [0.2, -0.9, 1.1, 0.0]])
    np.testing.assert_array_equal(iht(X, np.eye(4), alpha=1.0, n_iter=5),
                                  np.where(abs(X) >= 1, X, 0))


def test_iht_decreases_the_l0_objective(digits):
    rng = np.random.RandomState(0)
    D = rng.randn(40, 64)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X, lam = digits[:50], 0.05

    def objective(A):
        return np.sum((X - A @ D) ** 2) + lam * np.count_nonzero(A)

    values = [objective(iht(X, D, alpha=lam, n_iter=k)) for k in (1, 2, 5, 20, 100)]
    assert all(a >= b - 1e-9 for a, b in zip(values, values[1:], strict=False))


def test_optimal_codes_are_fixed_points(digits):
    rng = np.random.RandomState(0)
    D = rng.randn(40, 64)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = digits[:30]
    for sparsity in ("l0", "M"):
        codes = optimal_codes(X, D, sparsity=sparsity, alpha=0.05, n_nonzero_coefs=6, tol=1e-10)
        if sparsity == "l0":
            again = iht(X, D, alpha=0.05, n_iter=1, init=codes)
        else:
            again = m_sparse_iht(X, D, n_nonzero_coefs=6, n_iter=1, init=codes)
            assert np.all((codes != 0).sum(axis=1) == 6)
        np.testing.assert_allclose(again, codes, atol=1e-8)


def test_solvers_take_sparse_input():
    rng = np.random.RandomState(0)
    X = sp.random(20, 30, density=0.1, format="csr", random_state=0)
    D = rng.randn(10, 30)
    np.testing.assert_allclose(iht(X, D, alpha=0.01, n_iter=4),
                               iht(X.toarray(), D, alpha=0.01, n_iter=4))


def test_fit_on_sparse_input_densifies_chunks_only(densified_rows):
    X = sp.random(3000, 50, density=0.1, format="csr", random_state=0)
    encoder = DeepL0Encoder(16, max_epochs=2, dictionary_max_iter=1, device="cpu",
                            random_state=0).fit(X)
    encoder.transform(X)
    assert densified_rows and max(densified_rows) <= 1024 < X.shape[0]


def test_training_past_the_sigma_floor_and_warm_start(digits):
    # sigma = 0.2 / 10**epoch underflows float32 after ~45 epochs: training must go on.
    encoder = DeepL0Encoder(16, max_epochs=50, early_stopping=False, n_iter_no_change=100,
                            dictionary_max_iter=2, warm_start=True, device="cpu",
                            random_state=0).fit(digits[:200])
    encoder.fit(digits[:200])
    assert encoder.n_iter_ == 100 and np.isfinite(encoder.loss_curve_).all()
    for change in ({"sparsity": "M", "n_nonzero_coefs": 3}, {"n_steps": 3}, {"n_components": 8}):
        changed = copy.deepcopy(encoder).set_params(**change)
        with pytest.raises(ValueError, match="warm_start"):
            changed.fit(digits[:200])
        np.testing.assert_array_equal(changed.input_weights_, encoder.input_weights_)


def test_transform_uses_the_fitted_network_after_set_params(digits):
    encoder = DeepL0Encoder(16, sparsity="M", n_nonzero_coefs=4, max_epochs=2,
                            dictionary_max_iter=2, device="cpu", random_state=0).fit(digits[:200])
    before = encoder.transform(digits[:10])
    score, codes = encoder.score(digits[:50]), encoder.optimal_codes(digits[:10])
    encoder.set_params(n_nonzero_coefs=10, n_steps=4, sparsity="l0", alpha=0.5)
    np.testing.assert_array_equal(encoder.transform(digits[:10]), before)
    assert np.all((before != 0).sum(axis=1) == 4)
    # The targets too are those of the fit: an unchanged model keeps its score.
    assert encoder.score(digits[:50]) == score
    np.testing.assert_array_equal(encoder.optimal_codes(digits[:10]), codes)


@pytest.mark.parametrize("sparsity", ["l0", "M"])
def test_untrained_network_is_iht(digits, sparsity):
    # One SGD epoch at a vanishing rate leaves the IHT start: the encoder's
    # transform is then K steps of IHT (exact HELU or max-M pooling).
    rng = np.random.RandomState(0)
    D = rng.randn(32, 64)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    encoder = DeepL0Encoder(32, sparsity=sparsity, alpha=0.05, n_nonzero_coefs=5, n_steps=3,
                            dictionary=D, optimizer="sgd", learning_rate=1e-30, max_epochs=1,
                            early_stopping=False, device="cpu").fit(digits[:100])
    X = digits[:20]
    if sparsity == "l0":
        expected = iht(X, D, alpha=0.05, n_iter=3)
    else:
        expected = m_sparse_iht(X, D, n_nonzero_coefs=5, n_iter=3)
    np.testing.assert_allclose(encoder.transform(X), expected, atol=1e-5)


def test_sigma_is_annealed_tenfold_per_epoch(digits, monkeypatch):
    from skunroll.sparse_coding import _modules

    seen, original = [], _modules.helu_sigma

    def recording(u, sigma):
        seen.append(sigma)
        return original(u, sigma)

    monkeypatch.setattr(_modules, "helu_sigma", recording)
    DeepL0Encoder(16, max_epochs=3, batch_size=100, early_stopping=False, dictionary_max_iter=2,
                  device="cpu", random_state=0).fit(digits[:100])
    # One batch per epoch, two stages per forward pass: sigma = 0.2 / 10^epoch.
    assert sorted(set(seen), reverse=True) == pytest.approx([0.2, 0.02, 0.002])


def test_sigma_schedule_runs_past_the_float_range():
    # A few rows give hundreds of epochs: 10**epoch overflows a float past 308.
    encoder = DeepL0Encoder(4)
    network = UnrolledThresholdingNetwork(torch.eye(4), torch.zeros(4, 4), torch.ones(4), 2,
                                          "hard")
    for epoch, expected in ((0, 0.2), (1, 0.02), (400, None), (10**4, None)):
        encoder._on_epoch_start(network, epoch)
        assert network.sigma == (pytest.approx(expected) if expected else None)


@pytest.mark.slow
def test_paper_claim_deep_encoder_beats_iht2_and_mlp(digits):
    """Wang et al. Tables 1-2, small: K=2 encoder vs IHT-2 vs a 3-layer ReLU MLP of width p."""
    X_train, X_test = digits[:1200], digits[1200:1500]
    for sparsity in ("l0", "M"):
        encoder = DeepL0Encoder(64, sparsity=sparsity, alpha=0.1, n_nonzero_coefs=8, max_epochs=40,
                                learning_rate=3e-3, device="cpu", random_state=0).fit(X_train)
        truth = encoder.optimal_codes(X_test)
        deep = normalized_code_error(truth, encoder.transform(X_test))
        kwargs = {"step_size": encoder.step_size_, "n_iter": 2}
        two_steps = (iht(X_test, encoder.dictionary_, alpha=0.1, **kwargs) if sparsity == "l0"
                     else m_sparse_iht(X_test, encoder.dictionary_, n_nonzero_coefs=8, **kwargs))
        mlp = MLPRegressor(hidden_layer_sizes=(64, 64, 64), max_iter=200, random_state=0)
        mlp.fit(X_train, encoder.optimal_codes(X_train))
        baseline = normalized_code_error(truth, mlp.predict(X_test))
        assert deep < normalized_code_error(truth, two_steps), sparsity
        assert deep < baseline, (sparsity, deep, baseline)
        if sparsity == "M":
            codes = encoder.transform(X_test)
            assert np.all((codes != 0).sum(axis=1) == 8)
            assert support_error(truth, codes) < support_error(truth, two_steps)


@pytest.mark.slow
def test_grid_search_over_stages_and_m_and_pipeline(digits):
    X = digits[:300]
    search = GridSearchCV(
        DeepL0Encoder(32, sparsity="M", max_epochs=3, dictionary_max_iter=5, device="cpu",
                      random_state=0),
        {"n_steps": [1, 2], "n_nonzero_coefs": [3, 6]}, cv=2,
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(np.isfinite(scores)) and np.all(scores < 0)
    y = load_digits().target[:300]
    pipe = Pipeline([("codes", DeepL0Encoder(32, max_epochs=3, dictionary_max_iter=5,
                                             device="cpu", random_state=0)),
                     ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    assert pipe.score(X, y) > 0.5


def test_classifier_learns_digits(digits):
    y = load_digits().target
    clf = DeepL0Classifier(64, max_epochs=15, learning_rate=3e-3, device="cpu",
                           random_state=0).fit(digits[:1200], y[:1200])
    assert clf.score(digits[1200:], y[1200:]) > 0.85
    proba = clf.predict_proba(digits[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The head reads the positive and the negative parts of the 64 codes.
    assert clf.coef_.shape == (10, 128) and clf.classes_.tolist() == list(range(10))


@pytest.mark.parametrize("sparsity", ["l0", "M"])
def test_float64_outputs_do_not_depend_on_the_batch(digits, sparsity):
    # float32 products round differently with the number of rows (a single row
    # takes another kernel), and the logits' differences amplify that; float64
    # input runs in float64 on the CPU, so each row's output is its own.
    X, y = digits[:300], load_digits().target[:300]
    estimators = [DeepL0Classifier(n_components=32, sparsity=sparsity, max_epochs=3,
                                   random_state=0).fit(X, y),
                  DeepL0Encoder(n_components=32, sparsity=sparsity, max_epochs=3,
                                random_state=0).fit(X)]
    for estimator, method in [(estimators[0], "decision_function"),
                              (estimators[0], "predict_proba"), (estimators[1], "transform")]:
        whole = getattr(estimator, method)(X[:40])
        alone = np.vstack([getattr(estimator, method)(X[i : i + 1]) for i in range(40)])
        np.testing.assert_allclose(alone, whole, rtol=0, atol=1e-12, err_msg=method)


def test_a_missing_cuda_device_warns_once_per_call(digits, monkeypatch):
    from skunroll.exceptions import DeviceFallbackWarning

    X, y = digits[:200], load_digits().target[:200]
    classifier = DeepL0Classifier(n_components=16, max_epochs=1, random_state=0).fit(X, y)
    encoder = DeepL0Encoder(n_components=16, max_epochs=1, random_state=0).fit(X)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    for method in (classifier.set_params(device="cuda").predict_proba,
                   encoder.set_params(device="cuda").transform):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            method(X[:5])
        assert [w.category for w in caught] == [DeviceFallbackWarning], method


def test_classifier_defaults_train_on_every_row_for_their_step_budget():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = DeepL0Classifier(device="cpu", random_state=0).fit(X[:640], y[:640])
    # No rows held out; 5 batches an epoch for the 1,000-step budget, annealed to 0.
    assert clf.validation_scores_ is None and clf.n_iter_ == 200
    assert clf.n_optimizer_steps_ == 1000 and clf.learning_rate_curve_[-1] < 1e-8
    # Later writers than the training rows: LogisticRegression scores 0.928 here.
    assert clf.score(X[640:1280], y[640:1280]) > 0.935
    assert "about 1,000 optimiser steps" in DeepL0Classifier.__doc__


@pytest.fixture
def dictionary_steps(monkeypatch):
    """Each mini-batch of dictionary learning: its rows, lasso solver and penalty."""
    steps = []
    partial_fit = MiniBatchDictionaryLearning.partial_fit

    def recording(self, X, *args, **kwargs):
        steps.append((X.shape[0], self.fit_algorithm, self.alpha))
        return partial_fit(self, X, *args, **kwargs)

    monkeypatch.setattr(MiniBatchDictionaryLearning, "partial_fit", recording)
    return steps


def test_classifier_dictionary_start_visits_a_bounded_sample(dictionary_steps):
    # One lasso per row visited: the classifier's quick start reads at most
    # max(2048, 8 * n_components) rows an epoch; the encoder reads every row.
    seen = dictionary_steps
    rng = np.random.RandomState(0)
    X, y = rng.rand(3000, 6), rng.randint(0, 2, 3000)
    params = {"max_epochs": 1, "dictionary_max_iter": 2, "device": "cpu", "random_state": 0}
    DeepL0Classifier(8, **params).fit(X, y)
    assert sum(n for n, *_ in seen) == 2 * 2048 and max(n for n, *_ in seen) == 256
    assert DeepL0Classifier(320)._dictionary_max_rows() == 8 * 320
    seen.clear()
    DeepL0Encoder(8, **params).fit(X)
    assert sum(n for n, *_ in seen) == 2 * 3000
    # On fewer rows than the bound, every row is read and the start is that of
    # the unbounded path, bit for bit.
    seen.clear()
    small = DeepL0Classifier(8, **params).fit(X[:2000], y[:2000])
    assert sum(n for n, *_ in seen) == 2 * 2000
    np.testing.assert_array_equal(
        small.dictionary_, _learn_dictionary(X[:2000], 8, 2, 0, "cd", max_rows=None))


def test_dictionary_start_solves_each_lasso_by_coordinate_descent(dictionary_steps):
    # Every deep l0 estimator starts from coordinate descent, which solves the
    # lasso LARS solves: on a small, well-posed problem the two starts agree.
    from skunroll.sparse_coding import LISTAEncoder

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16
    params = {"max_epochs": 1, "dictionary_max_iter": 1, "device": "cpu", "random_state": 0}
    for estimator in (DeepL0Encoder(8, **params), LISTAEncoder(8, **params)):
        estimator.fit(X)
    DeepL0Classifier(8, **params).fit(X, y[:600])
    assert {algorithm for _, algorithm, _ in dictionary_steps} == {"cd"}
    assert len(dictionary_steps) == 3 * 3
    np.testing.assert_allclose(_learn_dictionary(X, 16, 2, 0, "cd"),
                               _learn_dictionary(X, 16, 2, 0, "lars"), atol=1e-6)


def test_encoder_dictionary_start_scales_its_penalty_to_the_rows(dictionary_steps):
    # At scikit-learn's alpha=1 every lasso code of unit-norm rows is zero and
    # the start only redraws atoms from the rows; the encoders penalise by 0.1
    # times the rows' median norm, the classifier keeps alpha=1.
    def penalties():
        found = [alpha for *_, alpha in dictionary_steps]
        dictionary_steps.clear()
        return found

    rng = np.random.RandomState(0)
    X = rng.randn(400, 12) ** 2
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    params = {"max_epochs": 1, "dictionary_max_iter": 1, "device": "cpu", "random_state": 0}
    unit = DeepL0Encoder(8, **params).fit(X)
    assert penalties() == [pytest.approx(0.1)] * 2
    DeepL0Encoder(8, **params).fit(sp.csr_matrix(30 * X))
    assert penalties() == [pytest.approx(3.0)] * 2
    # Empty rows (most of them here) do not set the scale.
    DeepL0Encoder(8, **params).fit(sp.vstack([sp.csr_matrix((500, 12)), sp.csr_matrix(X)]))
    assert penalties() == [pytest.approx(0.1)] * 4
    codes = sparse_encode(X, unit.dictionary_, algorithm="lasso_cd", alpha=0.1)
    assert (codes != 0).any(axis=1).all()
    assert not sparse_encode(X, unit.dictionary_, algorithm="lasso_cd", alpha=1.0).any()
    DeepL0Classifier(8, **params).fit(X, rng.randint(0, 2, 400))
    assert penalties() == [1.0] * 2


def test_sign_split_head_separates_what_signed_codes_cannot():
    # y depends on |x_0|: no linear function of the (nearly linear) signed
    # codes separates it, the sum of the code's two parts does.
    rng = np.random.RandomState(0)
    X = rng.randn(1500, 8)
    y = (np.abs(X[:, 0]) > 1.0).astype(int)
    scores = {}
    for split_signs in (True, False):
        clf = DeepL0Classifier(8, dictionary=np.eye(8), split_signs=split_signs, max_epochs=40,
                               learning_rate=1e-2, device="cpu", random_state=0)
        clf.fit(X[:1000], y[:1000])
        assert clf.coef_.shape == (2, 16 if split_signs else 8)
        scores[split_signs] = clf.score(X[1000:], y[1000:])
    assert scores[True] > 0.85 > 0.75 > scores[False]
    # A fit saved before the sign split existed (no "split_signs" in its
    # structure) predicts as it did: with the codes themselves.
    expected = clf.decision_function(X[1000:])
    del clf._fitted_structure["split_signs"]
    np.testing.assert_array_equal(clf.decision_function(X[1000:]), expected)


def test_given_dictionary_is_used_and_checked(digits):
    rng = np.random.RandomState(0)
    D = rng.randn(16, 64)
    encoder = DeepL0Encoder(16, dictionary=D, max_epochs=1, device="cpu").fit(digits[:100])
    np.testing.assert_array_equal(encoder.dictionary_, D)
    with pytest.raises(ValueError, match="expected"):
        DeepL0Encoder(8, dictionary=D, device="cpu").fit(digits[:100])
    with pytest.raises(ValueError, match="n_nonzero_coefs=20 must be <= n_components=16"):
        DeepL0Encoder(16, sparsity="M", n_nonzero_coefs=20, device="cpu").fit(digits[:100])


# ------------------------------------------------- thresholds scaled to the data
def synthetic_codes(n=400, p=48, d=32, k=4, seed=0):
    rng = np.random.RandomState(seed)
    D = rng.randn(p, d)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = np.zeros((n, p))
    for row in codes:
        row[rng.choice(p, k, replace=False)] = rng.randn(k)
    return codes @ D


@pytest.mark.parametrize("data, n_components", [
    ("digits01", 128),    # overcomplete, pixels in [0, 1]: the old default's dead case
    ("digits01", 32),     # undercomplete
    ("digits255", 128),   # the same images 255x larger
    ("synthetic", 48),
])
@pytest.mark.parametrize("estimator", [DeepL0Encoder, DeepL0Classifier, "lista"])
@pytest.mark.slow
def test_default_thresholds_follow_the_data_and_leave_units_alive(data, n_components,
                                                                 estimator):
    import warnings

    from skunroll.sparse_coding import LISTAEncoder

    X = {"digits01": lambda: load_digits().data[:400] / 16,
         "digits255": lambda: load_digits().data[:400] / 16 * 255,
         "synthetic": synthetic_codes}[data]()
    y = load_digits().target[:400]
    estimator = LISTAEncoder if estimator == "lista" else estimator
    params = {"max_epochs": 2, "dictionary_max_iter": 2, "device": "cpu", "random_state": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = estimator(n_components, **params)
        model.fit(X, y) if estimator is DeepL0Classifier else model.fit(X)
    assert not [w for w in caught if "learned (almost) nothing" in str(w.message)]
    codes = model._forward(X, n_components, module=model._encoder_from_attributes())
    assert (codes != 0).sum(axis=1).mean() >= 1
    assert (codes != 0).any(axis=0).sum() >= n_components // 4


def test_thresholds_above_the_data_are_reported_with_the_remedy():
    X = load_digits().data[:400] / 16
    y = load_digits().target[:400]
    with pytest.warns(Warning, match=r"0\.00 nonzeros per row.*alpha='auto'"):
        DeepL0Encoder(128, alpha=0.5, max_epochs=2, dictionary_max_iter=2, device="cpu",
                      random_state=0).fit(X)
    with pytest.warns(Warning, match="learned \\(almost\\) nothing"):
        DeepL0Classifier(128, alpha=0.5, max_epochs=2, dictionary_max_iter=2, device="cpu",
                         random_state=0).fit(X, y)


def test_default_classifier_beats_chance_by_far_on_digits_in_zero_one():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    clf = DeepL0Classifier(device="cpu", random_state=0).fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.85  # the old alpha=0.5 default scored 0.10
