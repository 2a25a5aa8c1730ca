"""L1AEEncoder's two recipes: the paper's, bit for bit, and the stable default."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse
from skunroll.exceptions import TrainingDivergedError, TrainingRescuedWarning

# L1AEEncoder(n_components=20, max_epochs=6, random_state=0, device="cpu") on
# make_block_sparse(400, 100, random_state=0), as skunroll 0.x's default (the
# reference recipe) trained it; recipe="paper" must give the same run.
PREVIOUS_DEFAULT_LOSS_CURVE = [8.134305572509765, 0.9535847663879394, 0.9388712882995606,
                               0.9048055648803711, 0.8760729789733886, 0.8479225158691406]
PREVIOUS_DEFAULT_VALIDATION = [-0.9635376930236816, -0.9471584320068359, -0.9162132263183593,
                               -0.9008550643920898, -0.872681999206543, -0.8614615440368653]


def _fit(encoder, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return encoder.fit(X)


def test_paper_recipe_reproduces_the_previous_default_run():
    X = make_block_sparse(400, 100, random_state=0)
    encoder = _fit(L1AEEncoder(n_components=20, max_epochs=6, recipe="paper", random_state=0,
                               device="cpu"), X)
    # Same operations in the same order: equal up to the last float32 bit here;
    # rtol covers another BLAS build.
    np.testing.assert_allclose(encoder.loss_curve_, PREVIOUS_DEFAULT_LOSS_CURVE, rtol=1e-6)
    np.testing.assert_allclose(encoder.validation_scores_, PREVIOUS_DEFAULT_VALIDATION, rtol=1e-6)
    stable = _fit(L1AEEncoder(n_components=20, max_epochs=6, random_state=0, device="cpu"), X)
    assert stable.loss_curve_[-1] < encoder.loss_curve_[-1]


def test_recipes_resolve_the_auto_settings():
    paper = L1AEEncoder(recipe="paper")._training_plan(n_train=6400)
    assert (paper.max_epochs, paper.n_iter_no_change, paper.lr_schedule) == (1000, 60, "constant")
    assert not paper.clip_gradients and not paper.rescue
    stable = L1AEEncoder()._training_plan(n_train=6400)  # 50 steps per epoch
    assert (stable.max_epochs, stable.n_iter_no_change, stable.lr_schedule) == (60, 10, "cosine")
    assert stable.clip_gradients and stable.rescue
    given = L1AEEncoder(max_epochs=7, n_iter_no_change=3, lr_schedule="plateau")
    plan = given._training_plan(n_train=6400)
    assert (plan.max_epochs, plan.n_iter_no_change, plan.lr_schedule) == (7, 3, "plateau")


def _start(X, m, recipe="stable"):
    """The estimator at its starting point: one epoch of SGD at a vanishing rate."""
    return L1AEEncoder(m, recipe=recipe, learning_rate=1e-30, max_epochs=1, early_stopping=False,
                       device="cpu", random_state=0).fit(X)


def test_stable_start_has_orthonormal_rows():
    X = make_block_sparse(100, 300, random_state=0)
    for recipe, orthonormal in (("stable", True), ("paper", False)):
        A = _start(X, 90, recipe).components_
        assert np.allclose(A @ A.T, np.eye(90), atol=1e-5) == orthonormal


def _one_hot(n_samples, cardinalities, random_state=0):
    rng = np.random.RandomState(random_state)
    columns, offset = [], 0
    for size in cardinalities:
        columns.append(offset + rng.randint(size, size=n_samples))
        offset += size
    cols = np.concatenate(columns)
    rows = np.tile(np.arange(n_samples), len(cardinalities))
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_samples, offset))
    return X / np.sqrt(len(cardinalities))


def _labels(n_samples, n_labels):
    _, Y = make_multilabel_classification(n_samples, n_features=10, n_classes=n_labels,
                                          n_labels=4, allow_unlabeled=False, sparse=True,
                                          random_state=0)
    return Y.astype(np.float64)


SWEEP_DATA = {
    "block-sparse": lambda: make_block_sparse(300, 200, block_size=5, random_state=0),
    "one-hot": lambda: _one_hot(300, [40, 60, 100]),
    "labels": lambda: _labels(300, 150),
}


@pytest.mark.parametrize("data", sorted(SWEEP_DATA))
@pytest.mark.slow
def test_default_never_diverges_on_the_sweep(data):
    """m/d in {0.02 ... 0.8} x T in {10, 60}: the paper recipe diverges on some, the default
    on none."""
    X = SWEEP_DATA[data]()
    d = X.shape[1]
    paper_diverged = []
    for ratio in (0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        m = max(1, int(round(ratio * d)))
        for n_steps in (10, 60):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TrainingRescuedWarning)
                encoder = _fit(L1AEEncoder(m, n_steps=n_steps, max_epochs=2, device="cpu",
                                           random_state=0), X)
            assert np.all(np.isfinite(encoder.components_)), (ratio, n_steps)
            assert np.isfinite(encoder.best_validation_score_), (ratio, n_steps)
            try:
                _fit(L1AEEncoder(m, n_steps=n_steps, max_epochs=2, recipe="paper",
                                 device="cpu", random_state=0), X)
            except TrainingDivergedError:
                paper_diverged.append((ratio, n_steps))
    # The sweep covers what used to fail, so it can fail.
    assert paper_diverged


def test_stable_start_keeps_beta_1_unless_it_is_far_off():
    X = make_block_sparse(600, 1000, random_state=0)

    def beta(m, recipe="stable"):
        return float(_start(X, m, recipe).step_sizes_[0])  # alpha_1 = beta / 1

    assert beta(20) == 1.0  # the paper's setting: the reference's beta
    assert beta(400) < 1.0  # m/d = 0.4: beta = 1 starts far worse than a smaller step
    assert beta(400, recipe="paper") == 1.0
