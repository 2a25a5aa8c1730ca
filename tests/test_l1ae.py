"""L1AEEncoder: the network, the recipe, the decoders and the paper's claim (small)."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, normalize

from skunroll import GaussianMeasurement, L1AEEncoder
from skunroll.datasets import make_block_sparse
from skunroll.exceptions import DecodingWarning, DeviceFallbackWarning
from skunroll.metrics import exact_recovery_fraction
from skunroll.sensing import L1AENetwork

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _reference_decode(A, y, alphas, scale, shift, nonnegative):
    """The recursion written with the explicit d x d matrix, in numpy."""
    d = A.shape[1]
    projector = np.eye(d) - A.T @ A
    x = A.T @ y
    for t, alpha in enumerate(alphas):
        x = x - alpha * projector @ np.sign(x)
        x = scale[t] * x + shift[t]
    return np.maximum(x, 0) if nonnegative else x


@pytest.mark.parametrize("step_sizes", ["harmonic", "per-step"])
@pytest.mark.parametrize("nonnegative", [True, False])
def test_network_matches_explicit_recursion(step_sizes, nonnegative):
    torch.manual_seed(0)
    d, m, T = 30, 8, 5
    weight = torch.randn(d, m, dtype=torch.float64) / np.sqrt(d)
    net = L1AENetwork(weight, n_steps=T, step_sizes=step_sizes, step_size_init=0.7,
                      nonnegative=nonnegative).double()
    with torch.no_grad():
        for norm in net.norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.1, 0.1)
    x = torch.rand(4, d, dtype=torch.float64)
    out = net(x).detach().numpy()
    A = weight.numpy().T
    alphas = net.step_sizes().detach().numpy()
    np.testing.assert_allclose(alphas, 0.7 / np.arange(1, T + 1))
    scale = np.stack([n.weight.detach().numpy() for n in net.norms])
    shift = np.stack([n.bias.detach().numpy() for n in net.norms])
    for i in range(4):
        expected = _reference_decode(A, A @ x[i].numpy(), alphas, scale, shift, nonnegative)
        np.testing.assert_allclose(out[i], expected, rtol=1e-10, atol=1e-12)


def _saved_bytes(net, x):
    """Bytes autograd keeps for backward in one forward pass, by dtype."""
    saved = {}

    def pack(tensor):
        saved[tensor.dtype] = saved.get(tensor.dtype, 0) + tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = ((net(x) - x) ** 2).sum()
    return saved, loss


@pytest.mark.parametrize("normalization", ["affine", "none"])
@pytest.mark.parametrize("step_sizes", ["harmonic", "per-step"])
def test_reversible_steps_give_autograds_gradients_with_memory_independent_of_depth(
        normalization, step_sizes):
    torch.manual_seed(0)
    d, m, T, batch = 200, 20, 40, 16
    weight = torch.randn(d, m) / np.sqrt(d)
    nets = [L1AENetwork(weight, n_steps=T, step_sizes=step_sizes, normalization=normalization,
                        reversible=reversible) for reversible in (False, True)]
    with torch.no_grad():
        for norm in nets[0].norms if normalization == "affine" else []:
            norm.weight.uniform_(0.8, 1.2)
            norm.bias.uniform_(-0.1, 0.1)
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.rand(batch, d) * (torch.rand(batch, d) < 0.1)
    gradients, saved = [], []
    for net in nets:
        kept, loss = _saved_bytes(net, x)
        loss.backward()
        saved.append(kept)
        gradients.append({name: p.grad for name, p in net.named_parameters()})
    for name, expected in gradients[0].items():
        scale = expected.abs().max()
        assert (gradients[1][name] - expected).abs().max() <= 1e-4 * scale, name
    # autograd keeps several float32 (batch, d) tensors per step; the reversible
    # steps keep one int8 sign pattern per step and O(batch x d) floats.
    float_bytes = [kept.get(torch.float32, 0) for kept in saved]
    assert float_bytes[1] < 0.2 * float_bytes[0]
    assert saved[1][torch.int8] == T * batch * d
    shallow, _ = _saved_bytes(L1AENetwork(weight, n_steps=4, normalization=normalization), x)
    # Float memory grows with T only through the (batch, m) projections s_t W
    # and the steps' own parameters (alpha_t, gamma_t, beta_t), no (batch, d) tensor.
    growth = float_bytes[1] - shallow[torch.float32]
    assert (T - 4) * batch * m * 4 <= growth <= (T - 4) * (batch * m + 2 * d + 2) * 4


@pytest.mark.parametrize("normalization", ["affine", "none"])  # "batch" has one path
def test_inference_decode_in_place_equals_the_training_forward(normalization):
    torch.manual_seed(0)
    d, m, T, batch = 200, 20, 12, 16
    net = L1AENetwork(torch.randn(d, m) / np.sqrt(d), n_steps=T, normalization=normalization,
                      reversible=False)
    with torch.no_grad():
        for norm in net.norms if normalization == "affine" else []:
            norm.weight.uniform_(0.8, 1.2)
            norm.bias.uniform_(-0.1, 0.1)
    net.eval()
    x = torch.rand(batch, d) * (torch.rand(batch, d) < 0.1)
    y = net.encode(x).detach()
    expected = net.decode(y)  # autograd's expression, step by step
    with torch.no_grad():
        decoded = net.decode(y)  # in place, reused buffers
    assert not decoded.requires_grad
    torch.testing.assert_close(decoded, expected.detach(), rtol=1e-5, atol=1e-5)


def test_reference_initialisation():
    X = make_block_sparse(200, 400, random_state=0)
    est = L1AEEncoder(n_components=50, max_epochs=1, learning_rate=1e-12, recipe="paper",
                      device="cpu", random_state=0).fit(X)
    A = est.components_
    assert A.shape == (50, 400) and A.dtype == np.float32
    std = 1 / np.sqrt(400)
    assert np.abs(A).max() <= 2 * std + 1e-7  # truncated at two standard deviations
    # a normal truncated at +-2 sigma has std 0.88 sigma
    assert A.std() == pytest.approx(0.88 * std, rel=0.03)
    np.testing.assert_allclose(est.step_sizes_, 1.0 / np.arange(1, 11), rtol=1e-6)
    assert set(est.decoder_state_) >= {"beta", "norms.0.weight", "norms.9.bias"}


@pytest.mark.slow
def test_paper_claim_learned_beats_gaussian_on_synthetic1():
    """Wu et al., Synthetic1: learned A + l1-min-pos recovers far more vectors than Gaussian A."""
    # 3,000 rows, about 700 SGD steps of the reference recipe (batch 128, lr 0.01).
    X = make_block_sparse(3300, 1000, random_state=0)
    X_fit, X_test = X[:3000], X[3000:]
    learned = L1AEEncoder(n_components=20, max_epochs=40, validation_fraction=0.25,
                          device="cpu", random_state=0).fit(X_fit)
    gaussian = GaussianMeasurement(n_components=20, random_state=0).fit(X_fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)
        learned_exact = exact_recovery_fraction(
            X_test, learned.inverse_transform(learned.transform(X_test)))
        gaussian_exact = exact_recovery_fraction(
            X_test, gaussian.inverse_transform(gaussian.transform(X_test)))
    assert learned.loss_curve_[-1] < 0.5 * learned.loss_curve_[0]
    assert learned_exact >= 0.4, learned_exact
    assert learned_exact >= gaussian_exact + 0.3, (learned_exact, gaussian_exact)


def test_unrolled_decoder_and_transform_are_consistent():
    X = make_block_sparse(300, 100, random_state=0)
    est = L1AEEncoder(n_components=30, max_epochs=3, decoder="unrolled", device="cpu",
                      random_state=0).fit(X)
    Y = est.transform(X)
    np.testing.assert_allclose(Y, X @ est.components_.T.astype(np.float64), rtol=1e-10)
    X_hat = est.inverse_transform(Y)
    assert X_hat.shape == X.shape and np.all(X_hat >= 0)
    assert est.score(X) == pytest.approx(-np.mean(np.sum((X_hat - X.toarray()) ** 2, axis=1)),
                                         rel=1e-5)


def test_float32_transform_keeps_float32():
    X = make_block_sparse(100, 50, block_size=5, random_state=0)
    est = L1AEEncoder(n_components=10, max_epochs=1, device="cpu", random_state=0).fit(X)
    assert est.transform(X.astype(np.float32)).dtype == np.float32
    assert est.transform(X).dtype == np.float64


def test_signed_data_with_l1_min():
    rng = np.random.RandomState(0)
    X = normalize(rng.randn(2000, 40) * (rng.uniform(size=(2000, 40)) < 0.05))
    paper = L1AEEncoder(n_components=30, nonnegative=False, max_epochs=5, learning_rate=1e-3,
                        recipe="paper", device="cpu", random_state=0).fit(X)
    assert paper.loss_curve_[-1] < paper.loss_curve_[0]
    # The stable recipe's orthonormal start is already better than 5 paper epochs.
    est = L1AEEncoder(n_components=30, nonnegative=False, max_epochs=5, learning_rate=1e-3,
                      device="cpu", random_state=0).fit(X)
    assert max(est.loss_curve_) < paper.loss_curve_[-1]
    # decoder="auto" is l1-min for signed data.
    X_hat = est.inverse_transform(est.transform(X[:5]))
    explicit = clone(est).set_params(decoder="l1-min").fit(X)
    np.testing.assert_array_equal(X_hat, explicit.inverse_transform(est.transform(X[:5])))
    assert X_hat.shape == (5, 40) and np.all(np.isfinite(X_hat))
    with pytest.raises(ValueError, match="nonnegative=True"):
        est.set_params(decoder="l1-min-pos").inverse_transform(est.transform(X[:5]))


@pytest.mark.parametrize("options", [{"step_sizes": "per-step"}, {"normalization": "batch"},
                                     {"normalization": "none"}, {"optimizer": "adam",
                                                                  "learning_rate": 1e-3}])
def test_options_train(options):
    X = make_block_sparse(2000, 100, random_state=0)
    est = L1AEEncoder(n_components=30, max_epochs=4, device="cpu", random_state=0,
                      **options).fit(X)
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    decoded = est.set_params(decoder="unrolled").inverse_transform(est.transform(X[:3]))
    assert np.all(np.isfinite(decoded))


@pytest.mark.parametrize("change", [{"n_components": 12}, {"n_steps": 3},
                                    {"normalization": "none"}])
def test_warm_start_with_another_network_is_refused(change):
    X = make_block_sparse(200, 100, random_state=0)
    est = L1AEEncoder(n_components=10, max_epochs=1, warm_start=True, device="cpu").fit(X)
    with pytest.raises(ValueError, match="warm_start"):
        est.set_params(**change).fit(X)
    assert est.components_.shape == (10, 100)


def test_unrolled_decoder_uses_the_fitted_network_after_set_params():
    X = make_block_sparse(200, 100, random_state=0)
    est = L1AEEncoder(n_components=20, max_epochs=2, decoder="unrolled", device="cpu",
                      random_state=0).fit(X)
    Y = est.transform(X[:5])
    before = est.inverse_transform(Y)
    est.set_params(n_steps=3, nonnegative=False)
    np.testing.assert_array_equal(est.inverse_transform(Y), before)


def test_inverse_transform_checks_width():
    X = make_block_sparse(100, 50, block_size=5, random_state=0)
    est = L1AEEncoder(n_components=10, max_epochs=1, device="cpu").fit(X)
    with pytest.raises(ValueError, match="expects 10 measurements"):
        est.inverse_transform(np.zeros((2, 9)))


def test_pipeline_and_feature_names():
    X = make_block_sparse(200, 60, block_size=5, random_state=0)
    pipe = Pipeline([("norm", Normalizer()),
                     ("l1ae", L1AEEncoder(n_components=8, max_epochs=2, device="cpu",
                                          random_state=0))])
    Y = pipe.fit_transform(X)
    assert Y.shape == (200, 8)
    names = pipe.get_feature_names_out()
    assert list(names[:2]) == ["l1aeencoder0", "l1aeencoder1"]


def test_grid_search_over_m_and_T():
    X = make_block_sparse(240, 60, block_size=6, random_state=0)
    search = GridSearchCV(
        L1AEEncoder(max_epochs=3, decoder="unrolled", device="cpu", random_state=0),
        {"n_components": [10, 30], "n_steps": [2, 5]},
        cv=2,
    ).fit(X)
    assert set(search.best_params_) == {"n_components", "n_steps"}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # more measurements reconstruct better at equal T
    by_params = dict(zip(map(lambda p: (p["n_components"], p["n_steps"]),
                             search.cv_results_["params"]), scores, strict=False))
    assert by_params[(30, 5)] > by_params[(10, 5)]


def test_warm_start_continues_from_the_fitted_matrix(caplog):
    import logging

    X = make_block_sparse(1000, 100, random_state=0)
    caplog.set_level(logging.INFO, logger="skunroll")
    est = L1AEEncoder(n_components=30, max_epochs=2, warm_start=True, device="cpu",
                      random_state=0, verbose=1).fit(X)
    first_A, first_curve = est.components_.copy(), list(est.loss_curve_)
    est.fit(X)
    assert est.n_iter_ == 4 and est.loss_curve_[:2] == first_curve
    assert not np.array_equal(est.components_, first_A)
    # the third epoch starts where the second ended, not from a fresh init
    assert est.loss_curve_[2] < first_curve[0]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Epoch")]
    assert [line.split(":")[0] for line in lines] == ["Epoch 1", "Epoch 2", "Epoch 3", "Epoch 4"]


def test_decoder_is_checked_after_set_params():
    X = make_block_sparse(100, 50, block_size=5, random_state=0)
    est = L1AEEncoder(n_components=10, max_epochs=1, device="cpu").fit(X)
    with pytest.raises(ValueError, match="l1_min_pos"):
        est.set_params(decoder="l1_min_pos").inverse_transform(est.transform(X[:2]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only fallback")
def test_unrolled_decoding_falls_back_to_cpu_when_cuda_is_missing():
    X = make_block_sparse(100, 50, block_size=5, random_state=0)
    est = L1AEEncoder(n_components=10, max_epochs=1, decoder="unrolled", device="cpu",
                      random_state=0).fit(X)
    expected = est.inverse_transform(est.transform(X[:3]))
    est.set_params(device="cuda")  # as if unpickled from a GPU machine
    with pytest.warns(DeviceFallbackWarning, match="running inference on the CPU"):
        np.testing.assert_array_equal(est.inverse_transform(est.transform(X[:3])), expected)
    with pytest.raises(ValueError, match="CUDA is not available"):
        est.fit(X)  # training refuses a missing device
